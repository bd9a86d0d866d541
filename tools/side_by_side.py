"""Times the notebook-sized probe in gan-bias and in PyTorch on the same machine, in one run.

Dev-time tool (PyTorch is never a build or test dependency). Run from the repo root, after
`cargo build --release`, in a venv with torch, numpy and safetensors:

    python3 tools/side_by_side.py --reps 3 --out side_by_side.json

Pair: the real DigiFace DCGAN-tutorial generator and the notebook's classifier
(`../shared/fixtures/*.pth`, or `--fixtures DIR`), or any other pair given by `--generator`
and `--classifier` (e.g. the bundled `weights/demo_generator.safetensors` and
`weights/demo_classifier.safetensors`); noise `torch.manual_seed(0); torch.randn(256, z)`
(gan-bias `--seed 0` draws the same); target Male; 30 steps each way;
the notebook's accumulating update. The two tools alternate, `--reps` times each, and the
medians and their ratio are printed. Each timing covers the probe and the covariance, models
already loaded (gan-bias's own `probe_seconds`; for PyTorch, the same loop around
tools/gan_models.py's literal port of the notebook).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gan_models as gm  # noqa: E402
from bench_pytorch import build, z_dim  # noqa: E402
from real_reference import GEN_FILE, CLF_FILE, TARGET  # noqa: E402


def time_pytorch(gen, clf, steps):
    torch.manual_seed(0)
    noise = torch.randn(256, z_dim(gen))
    t0 = time.perf_counter()
    res = gm.probe_notebook(gen, clf, noise, TARGET, steps)
    _, _, top_idx, top_cov = gm.covariance_and_top(res["history"], res["start"], TARGET)
    return time.perf_counter() - t0, [gm.FEATURE_NAMES[i] for i in top_idx]


def time_gan_bias(binary, generator, classifier, steps, backend):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "probe.json")
        subprocess.run([binary, "probe", "--feature", "Male", "--steps", str(steps), "--backend", backend,
                        "--generator", generator, "--classifier", classifier, "--json", out, "-q"],
                       check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            report = json.load(f)
    return report["timings"]["probe_seconds"], [t["feature"] for t in report["top"]], report["settings"]["adapter"]


def alternate(args, gen, clf, generator_file, classifier_file, extra):
    """Times gan-bias (on the files) and PyTorch (on the modules) in turn, `args.reps` times
    each, prints each rep and the medians' ratio, and writes them to `args.out` if given."""
    ours, theirs = [], []
    for rep in range(args.reps):
        t, top_ours, adapter = time_gan_bias(args.binary, generator_file, classifier_file, args.steps, args.backend)
        ours.append(t)
        u, top_theirs = time_pytorch(gen, clf, args.steps)
        theirs.append(u)
        print(f"rep {rep + 1}: gan-bias {t:.2f} s, PyTorch {u:.2f} s, same top-10: {top_ours == top_theirs}", flush=True)
    result = {
        "gan_bias_seconds": ours, "pytorch_seconds": theirs,
        "gan_bias_median": statistics.median(ours), "pytorch_median": statistics.median(theirs),
        "ratio": statistics.median(ours) / statistics.median(theirs),
        "adapter": adapter, "torch": torch.__version__, "torch_threads": args.threads,
        "images": 256, "steps": args.steps, **extra,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", default=os.path.join("..", "shared", "fixtures"))
    ap.add_argument("--generator", help="default: the DCGAN-tutorial generator in --fixtures")
    ap.add_argument("--classifier", help="default: the notebook's classifier in --fixtures")
    ap.add_argument("--binary", default=os.path.join("target", "release", "gan-bias"))
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    generator = args.generator or os.path.join(args.fixtures, GEN_FILE)
    classifier = args.classifier or os.path.join(args.fixtures, CLF_FILE)
    (gen, _), (clf, _) = build(generator), build(classifier)
    alternate(args, gen, clf, generator, classifier, {"generator": generator, "classifier": classifier})

if __name__ == "__main__":
    main()
