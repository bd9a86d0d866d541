"""PyTorch reference numbers for the real checkpoint pair (dev-time tool, run by hand).

Pair: the DigiFace DCGAN-tutorial generator + the notebook's CelebA 40-attribute
classifier, both read from `../shared/fixtures/*.pth`. Noise: `torch.manual_seed(0);
noise = torch.randn(256, 100)`. Target feature: Male (index 20). The notebook's exact
(accumulating-gradient) algorithm, see `../shared/docs/probe-spec.md`.

Run from the repo root, in a venv with torch, numpy and safetensors:

    python3 tools/real_reference.py reduced   # (a) -> tests/fixtures/real_reference.safetensors
    python3 tools/real_reference.py full      # (b) -> tools/real_reference_full.json (minutes)
    python3 tools/real_reference.py both

(a) reduced: the first 4 noise rows, 3 steps each way. Writes `noise` (4,100),
    `start_logits` (4,40), `history` (6,4,40), `cov` (40,40) f32 and `cov_f64`, `top_idx`
    (int64, 10), `top_cov` (f32), and the start/end/last means (shape [1] each).
(b) full: 256 images, 30 steps each way (the notebook's run; ~75 s each on 2 cores), run
    twice: with the README's noise, and with the same seed but the noise drawn after
    constructing the two models (see notebook_noise). Writes, for each, the top-10 names
    and covariances, the means and the wall-clock time.

Use `--fixtures DIR` if the real checkpoints are not at ../shared/fixtures.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gan_models as gm  # noqa: E402

TARGET = gm.FEATURE_NAMES.index("Male")  # 20
GEN_FILE = "dcgan_tutorial_digiface_generator.pth"
CLF_FILE = "coursera_celeba40_classifier.pth"


def load_pair(fixtures):
    """Build the two models, load the real weights, and put both in eval mode."""
    gsd, _, _ = gm.load_pth(os.path.join(fixtures, GEN_FILE))
    csd, _, _ = gm.load_pth(os.path.join(fixtures, CLF_FILE))
    gen = gm.DcganGenerator(nz=100, ngf=64)
    gen.load_state_dict(gsd)
    clf = gm.Classifier(n_classes=40, hidden_dim=64)
    clf.load_state_dict(csd)
    gen.eval()
    clf.eval()
    return gen, clf


def notebook_noise(after_init=False):
    """torch.manual_seed(0); torch.randn(256, 100) -- the noise the fixtures README states.

    after_init=True draws it after constructing DcganGenerator() and Classifier(n_classes=40)
    with default init, as a notebook-style script (seed, build models, load weights, draw
    noise) would: the default initialisers consume the global generator first. That noise
    reproduces the README's Male means (1.05 -> 2.26 / -0.09) but not its top-10 list.
    """
    torch.manual_seed(0)
    if after_init:
        gm.DcganGenerator(nz=100, ngf=64)
        gm.Classifier(n_classes=40, hidden_dim=64)
    return torch.randn(256, 100)


def run_reduced(gen, clf, out_path):
    steps, n = 3, 4
    noise = notebook_noise()[:n].clone()
    res = gm.probe_notebook(gen, clf, noise, TARGET, steps)
    _, cov, top_idx, top_cov = gm.covariance_and_top(res["history"], res["start"], TARGET)
    means = gm.summarize_means(res, TARGET, steps)

    tensors = {
        "noise": noise.float().contiguous(),
        "start_logits": torch.from_numpy(res["start"]).float(),
        "history": torch.from_numpy(res["history"]).float(),
        "cov": torch.from_numpy(cov.astype(np.float32)),
        "cov_f64": torch.from_numpy(cov),
        "top_idx": torch.from_numpy(top_idx),
        "top_cov": torch.from_numpy(top_cov.astype(np.float32)),
    }
    for k, v in means.items():
        tensors[k] = torch.tensor([v], dtype=torch.float32)
    meta = {
        "target": str(TARGET), "steps": str(steps), "images": str(n),
        "algorithm": "notebook",
        "noise": "torch.manual_seed(0); torch.randn(256, 100)[:4]",
        "generator": GEN_FILE, "classifier": CLF_FILE,
    }
    save_file(tensors, out_path, metadata=meta)
    print(f"wrote {out_path}")
    print("  top:", [gm.FEATURE_NAMES[i] for i in top_idx])
    print("  means:", means)


def full_probe(gen, clf, noise, steps=30):
    t0 = time.perf_counter()
    res = gm.probe_notebook(gen, clf, noise, TARGET, steps)
    _, cov, top_idx, top_cov = gm.covariance_and_top(res["history"], res["start"], TARGET)
    elapsed = time.perf_counter() - t0
    return {
        "seconds": round(elapsed, 2),
        "top_idx": [int(i) for i in top_idx],
        "top_names": [gm.FEATURE_NAMES[i] for i in top_idx],
        "top_cov": [float(c) for c in top_cov],
        "target_variance": float(cov[TARGET, TARGET]),
        "means": gm.summarize_means(res, TARGET, steps),
    }


def run_full(gen, clf, out_path):
    steps = 30
    out = {
        "settings": {"target": TARGET, "target_name": "Male", "images": 256, "steps": steps,
                     "algorithm": "notebook (accumulating noise grad)",
                     "torch": torch.__version__, "threads": torch.get_num_threads()},
        "note": "end_* = mean of C(G(z))[:, t] after all 30 updates; last_* = mean of the "
                "last recorded logits (after 29 updates) of each direction. seconds = the "
                "probe loop plus covariance (models already loaded), wall clock.",
    }
    out["readme_noise"] = {"noise": "torch.manual_seed(0); torch.randn(256, 100)",
                           **full_probe(gen, clf, notebook_noise(), steps)}
    out["noise_after_model_init"] = {
        "noise": "torch.manual_seed(0); DcganGenerator(); Classifier(n_classes=40); "
                 "torch.randn(256, 100)",
        **full_probe(gen, clf, notebook_noise(after_init=True), steps)}
    with open(out_path, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    print(json.dumps(out, indent=2))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=["reduced", "full", "both"])
    ap.add_argument("--fixtures", default=os.path.join("..", "shared", "fixtures"))
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    if not os.path.isdir(args.fixtures):
        sys.exit(f"real checkpoints not found: {args.fixtures} (expected ../shared/fixtures)")
    torch.set_num_threads(args.threads)
    gen, clf = load_pair(args.fixtures)
    if args.part in ("reduced", "both"):
        run_reduced(gen, clf, os.path.join("tests", "fixtures", "real_reference.safetensors"))
    if args.part in ("full", "both"):
        run_full(gen, clf, os.path.join("tools", "real_reference_full.json"))


if __name__ == "__main__":
    main()
