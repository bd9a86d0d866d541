"""Train the bundled demo weights on the rendered world (dev-time only; numpy + PyTorch).

    python tools/demo_world/train.py [--work DIR] [--stage all|data|classifier|generator|tune|export]

Seeded and reproducible on one machine (PyTorch's CPU kernels are deterministic for a fixed
thread count; this script sets 2). Stages cache their results in --work, so a later stage
can be rerun alone. Writes, in the repository:

    weights/demo_classifier.safetensors   the notebook's Classifier, 40 outputs (f16), trained on
                                          rendered faces, then tuned on the generator's pictures
    weights/demo_generator.safetensors    the notebook's Generator, z_dim 64 (f16)
    weights/demo-world.json               features, factors, loadings, planted correlation,
                                          per-attribute validation AUC, training record
"""

import argparse
import hashlib
import json
import os
import sys
import time
from multiprocessing import Pool

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))

import world  # noqa: E402
from gan_models import Classifier, CourseraGenerator  # noqa: E402
from render import render  # noqa: E402

N_TRAIN = 40000
N_VAL = 4000
SEED = 0
BATCH = 128
GENERATOR_BATCH = 64
NOISE_AUGMENT = 0.04
CLASSIFIER_EPOCHS = 4
GENERATOR_STEPS = 10000
TUNE_STEPS = 4000
TUNE_RENDERED = 32  # of each 128-image tuning batch; the rest are generator pictures


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def _render_chunk(z):
    return (render(z) * 127.5 + 127.5).round().astype(np.uint8)


def make_data(work):
    """Latent codes, labels and uint8 images for the train and validation sets."""
    t0 = time.time()
    rng = np.random.default_rng(SEED)
    z = rng.standard_normal((N_TRAIN + N_VAL, world.Z_DIM)).astype(np.float32)
    _, labels, _ = world.attributes(z)
    with Pool(2) as pool:
        chunks = pool.map(_render_chunk, np.array_split(z, 88))
    images = np.concatenate(chunks)
    np.savez(os.path.join(work, "data.npz"), z=z, labels=labels.astype(np.uint8), images=images, seconds=time.time() - t0)
    log(f"rendered {len(z)} images")


def load_data(work):
    d = np.load(os.path.join(work, "data.npz"))
    return d["z"], d["labels"].astype(np.float32), d["images"]


def to_float(images_u8):
    return torch.from_numpy(images_u8).float().div_(127.5).sub_(1.0)


def auc(scores, labels):
    """Area under the ROC curve by the rank statistic (ties averaged); NaN for one class."""
    pos = labels > 0.5
    n_pos, n_neg = pos.sum(), (~pos).sum()
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i:j + 1]] = 0.5 * (i + j) + 1
        i = j + 1
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def predict(model, images_u8, batch=500):
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(images_u8), batch):
            out.append(model(to_float(images_u8[i:i + batch])).view(-1, len(world.FEATURES)))
    return torch.cat(out).numpy()


def train_classifier(work):
    z, labels, images = load_data(work)
    torch.manual_seed(SEED)
    clf = Classifier(n_classes=len(world.FEATURES))
    opt = torch.optim.Adam(clf.parameters(), lr=1e-3, betas=(0.5, 0.999))
    steps = CLASSIFIER_EPOCHS * (N_TRAIN // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=steps)
    loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(SEED)
    t0, step = time.time(), 0
    for epoch in range(CLASSIFIER_EPOCHS):
        clf.train()
        perm = torch.randperm(N_TRAIN, generator=gen).numpy()
        for b in range(N_TRAIN // BATCH):
            idx = np.sort(perm[b * BATCH:(b + 1) * BATCH])
            x, y = to_float(images[idx]), torch.from_numpy(labels[idx])
            # a little pixel noise, so that the generator's small artefacts do not sway it
            x = x + NOISE_AUGMENT * torch.randn(x.shape, generator=gen)
            loss = loss_fn(clf(x).view(len(idx), -1), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 100 == 0:
                log(f"classifier step {step}/{steps} loss {loss.item():.4f} ({time.time() - t0:.0f} s)")
    save_classifier(clf, images, labels, work, "classifier", {"seconds": time.time() - t0, "steps": steps})


def save_classifier(clf, images, labels, work, stem, record):
    """Saves `clf` as work/stem.pt and its validation AUCs with `record` as work/stem.json."""
    scores = predict(clf, images[N_TRAIN:])
    aucs = {name: auc(scores[:, i], labels[N_TRAIN:, i]) for i, name in enumerate(world.FEATURES)}
    torch.save(clf.state_dict(), os.path.join(work, stem + ".pt"))
    with open(os.path.join(work, stem + ".json"), "w") as f:
        json.dump({"val_auc": aucs, **record}, f, indent=1)
    log(stem, "AUC:", " ".join(f"{k}={v:.3f}" for k, v in aucs.items()))


def refresh_batchnorm(model, batches):
    """Running BatchNorm statistics as the plain average over `batches` (train-mode forward)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for x in batches:
            model(x)
    model.eval()


def train_generator(work):
    """A decoder: G(z) regressed onto render(z), the world's own picture of z."""
    z, _, images = load_data(work)
    z_train, img_train = z[:N_TRAIN], images[:N_TRAIN]
    torch.manual_seed(SEED)
    g = CourseraGenerator(z_dim=world.Z_DIM)
    opt = torch.optim.Adam(g.parameters(), lr=1e-3, betas=(0.9, 0.999))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=2e-3, total_steps=GENERATOR_STEPS, pct_start=0.15)
    gen = torch.Generator().manual_seed(SEED + 1)
    t0 = time.time()
    g.train()
    for step in range(1, GENERATOR_STEPS + 1):
        idx = np.sort(torch.randint(0, N_TRAIN, (GENERATOR_BATCH,), generator=gen).numpy())
        x = to_float(img_train[idx])
        out = g(torch.from_numpy(z_train[idx]))
        loss = (out - x).abs().mean() + ((out - x) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 500 == 0:
            torch.save(g.state_dict(), os.path.join(work, "generator_snapshot.pt"))
        if step % 100 == 0:
            log(f"generator step {step}/{GENERATOR_STEPS} loss {loss.item():.4f} ({time.time() - t0:.0f} s)")
    seconds = time.time() - t0
    refresh_batchnorm(g, [torch.from_numpy(z_train[i:i + 500]) for i in range(0, 10000, 500)])
    with torch.no_grad():
        val = g(torch.from_numpy(z[N_TRAIN:N_TRAIN + 1000]))
        err = (val - to_float(images[N_TRAIN:N_TRAIN + 1000])).abs().mean().item()
    torch.save(g.state_dict(), os.path.join(work, "generator.pt"))
    with open(os.path.join(work, "generator.json"), "w") as f:
        json.dump({"val_l1": err, "seconds": seconds, "steps": GENERATOR_STEPS}, f, indent=1)
    log(f"generator validation mean |G(z) - render(z)| = {err:.4f}")


def load_models(work, classifier_file):
    """The trained generator (eval mode) and the classifier saved as work/classifier_file."""
    g = CourseraGenerator(z_dim=world.Z_DIM)
    g.load_state_dict(torch.load(os.path.join(work, "generator.pt")))
    g.eval()
    clf = Classifier(n_classes=len(world.FEATURES))
    clf.load_state_dict(torch.load(os.path.join(work, classifier_file)))
    return g, clf


def tune_classifier(work):
    """The classifier, tuned on the pictures a probe shows it, to read how strongly they show
    each attribute.

    Each batch draws fresh codes z ~ N(0, I) and shows the classifier G(z), mixed with a
    quarter of rendered training faces. The targets are soft: BCE with logits against how
    strongly the world draws each attribute for that code (`world.shown`), whose logit is the
    attribute's score, so the classifier's logit rises with the beard's thickness, not only
    with its presence. A classifier that only knows hard labels of the renderer's crisp faces
    misreads the generator's softer ones, and saturates where a probe needs it to move: a
    probe then reports those misreadings as correlations the world never planted.
    """
    z, labels, images = load_data(work)
    torch.manual_seed(SEED + 3)
    g, clf = load_models(work, "classifier.pt")
    opt = torch.optim.Adam(clf.parameters(), lr=3e-4, betas=(0.5, 0.999))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=5e-4, total_steps=TUNE_STEPS, pct_start=0.1)
    loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(SEED + 3)
    t0 = time.time()
    for step in range(1, TUNE_STEPS + 1):
        clf.train()
        codes = torch.randn(BATCH - TUNE_RENDERED, world.Z_DIM, generator=gen)
        with torch.no_grad():
            pictures = g(codes)
        idx = np.sort(torch.randint(0, N_TRAIN, (TUNE_RENDERED,), generator=gen).numpy())
        intensity, _, _ = world.attributes(np.concatenate([codes.numpy(), z[idx]]))
        x = torch.cat([pictures, to_float(images[idx])])
        y = torch.from_numpy(world.shown(intensity).astype(np.float32))
        loss = loss_fn(clf(x).view(len(x), -1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0:
            log(f"tuning step {step}/{TUNE_STEPS} loss {loss.item():.4f} ({time.time() - t0:.0f} s)")
    save_classifier(clf, images, labels, work, "classifier_tuned", {"seconds": time.time() - t0, "steps": TUNE_STEPS})


def save_safetensors(state, path, arch):
    """Writes the floating-point tensors of `state` as f16 safetensors; returns the file's sha256.

    Written by hand rather than with safetensors' save_file, whose header puts the metadata
    keys in a different order from run to run: the same weights must give the same bytes.
    Header: tensors by name, keys sorted, padded with spaces to a multiple of 8 bytes.
    """
    header = {"__metadata__": {"gan_bias.arch": arch, "gan_bias.features": ",".join(world.FEATURES)}}
    blobs, offset = [], 0
    for name in sorted(k for k, v in state.items() if v.dtype.is_floating_point):
        data = state[name].detach().to(torch.float16).contiguous().numpy().astype("<f2").tobytes()
        header[name] = {"dtype": "F16", "shape": list(state[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    body = len(text).to_bytes(8, "little") + text + b"".join(blobs)
    with open(path, "wb") as f:
        f.write(body)
    return hashlib.sha256(body).hexdigest()


def export(work):
    z, labels, images = load_data(work)
    wdir = os.path.join(ROOT, "weights")
    os.makedirs(wdir, exist_ok=True)
    clf_sha = save_safetensors(torch.load(os.path.join(work, "classifier_tuned.pt")), os.path.join(wdir, "demo_classifier.safetensors"), "classifier")
    gen_sha = save_safetensors(torch.load(os.path.join(work, "generator.pt")), os.path.join(wdir, "demo_generator.safetensors"), "coursera")
    with open(os.path.join(work, "classifier.json")) as f:
        clf_info = json.load(f)
    with open(os.path.join(work, "generator.json")) as f:
        gen_info = json.load(f)
    with open(os.path.join(work, "classifier_tuned.json")) as f:
        tune_info = json.load(f)

    # The classifier on the generator's pictures of fresh codes, against the codes' labels.
    torch.manual_seed(SEED + 2)
    g, clf = load_models(work, "classifier_tuned.pt")
    clf.eval()
    zf = torch.randn(4000, world.Z_DIM)
    with torch.no_grad():
        s = torch.cat([clf(g(zf[i:i + 500])).view(-1, 40) for i in range(0, 4000, 500)]).numpy()
    _, lf, _ = world.attributes(zf.numpy())
    gen_auc = {name: auc(s[:, i], lf[:, i]) for i, name in enumerate(world.FEATURES)}

    load = world.loading_matrix()
    doc = {
        "features": world.FEATURES,
        "z_dim": world.Z_DIM,
        "factors": [
            {"name": f, "z_index": k, "loadings": {n: float(load[i, k]) for i, n in enumerate(world.FEATURES) if load[i, k] != 0}}
            for k, f in enumerate(world.FACTORS)
        ],
        "not_drawn": world.NOT_DRAWN,
        "prevalence": {n: float(labels[:N_TRAIN, i].mean()) for i, n in enumerate(world.FEATURES)},
        "planted_correlation": np.round(world.planted_correlation(labels[:N_TRAIN]), 5).tolist(),
        "classifier_val_auc": {k: round(v, 4) for k, v in tune_info["val_auc"].items()},
        "classifier_auc_on_generator": {k: round(v, 4) for k, v in gen_auc.items()},
        "training": {
            "render_seconds": round(float(np.load(os.path.join(work, "data.npz"))["seconds"])) if "seconds" in np.load(os.path.join(work, "data.npz")) else 0,
            "train_images": N_TRAIN,
            "val_images": N_VAL,
            "classifier_steps": clf_info["steps"],
            "classifier_seconds": round(clf_info["seconds"]),
            "generator_steps": gen_info["steps"],
            "generator_seconds": round(gen_info["seconds"]),
            "generator_val_l1": round(gen_info["val_l1"], 4),
            "tuning_steps": tune_info["steps"],
            "tuning_seconds": round(tune_info["seconds"]),
            "torch": torch.__version__,
        },
        "sha256": {"demo_classifier.safetensors": clf_sha, "demo_generator.safetensors": gen_sha},
    }
    # The labelled evaluation set's record (tools/demo_world/eval_set.py) is kept; the README
    # shows it only while it names this classifier's sha256.
    old = os.path.join(wdir, "demo-world.json")
    if os.path.exists(old):
        with open(old) as f:
            previous = json.load(f)
        if "eval_set" in previous:
            doc["eval_set"] = previous["eval_set"]
    with open(os.path.join(wdir, "demo-world.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    import weights_readme

    weights_readme.main(ROOT)
    log("wrote weights/ (classifier", clf_sha[:12], "generator", gen_sha[:12] + ")")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default=os.path.join(ROOT, "target", "demo_world"))
    ap.add_argument("--stage", default="all", choices=["all", "data", "classifier", "generator", "tune", "export"])
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    torch.set_num_threads(2)
    stages = {"data": make_data, "classifier": train_classifier, "generator": train_generator, "tune": tune_classifier,
              "export": export}
    for name, fn in stages.items():
        if args.stage in ("all", name):
            log("stage", name)
            fn(args.work)


if __name__ == "__main__":
    main()
