"""The demo world's labelled evaluation set (dev-time only; numpy, Pillow + PyTorch).

    python tools/demo_world/eval_set.py

Draws 2000 latent codes z ~ N(0, I_64) from numpy's default_rng(EVAL_SEED), a seed no
training stage uses, renders each face as train.py renders its training faces (`render`,
rounded to 8 bits) and labels it with the world's ground truth (`world.attributes`, the 40
features in the classifier's order). Before writing anything it checks that no code is one
that a stage of train.py drew: the train and validation codes (numpy default_rng(SEED)), the
tuning stage's codes (torch generator SEED + 3, replayed draw by draw) and the export stage's
codes of the "on G" column (torch seed SEED + 2); it prints the smallest Euclidean distance
from an evaluation code to any of them, which must be far from 0.

Writes, in weights/:

    demo-eval.png   one RGB sheet of 64x64 tiles, 50 a row, row-major, no padding: tile k
                    (0-based) is the k-th image of the label file
    demo-eval.txt   the labels in CelebA's list_attr_celeba.txt layout: the count, the names
                    (the classifier's features), then `0001.png  1 -1 ...` per image

then runs the bundled classifier on the sheet's pixels with PyTorch (values (u8 / 255 - 0.5) /
0.5, as gan-bias reads them), records its AUC per attribute, the seed, the distance and the
sha256 of both files in weights/demo-world.json under "eval_set", and rewrites
weights/README.md (weights_readme.py). Deterministic: the same numpy, Pillow and zlib give the
same bytes (the printed sha256 tell).
"""

import hashlib
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools"))

import train  # noqa: E402
import weights_readme  # noqa: E402
import world  # noqa: E402
from gan_models import bundled_classifier  # noqa: E402

EVAL_SEED = 20261202
N_EVAL = 2000
PER_ROW = 50
SIDE = 64
WEIGHTS = os.path.join(ROOT, "weights")
SHEET = "demo-eval.png"
LABELS = "demo-eval.txt"


def training_codes():
    """Every latent code a stage of train.py draws, by stage (float32, as train.py uses them)."""
    rng = np.random.default_rng(train.SEED)
    data = rng.standard_normal((train.N_TRAIN + train.N_VAL, world.Z_DIM)).astype(np.float32)
    gen = torch.Generator().manual_seed(train.SEED + 3)
    tuning = []
    for _ in range(train.TUNE_STEPS):
        tuning.append(torch.randn(train.BATCH - train.TUNE_RENDERED, world.Z_DIM, generator=gen))
        torch.randint(0, train.N_TRAIN, (train.TUNE_RENDERED,), generator=gen)  # the step's rendered faces
    torch.manual_seed(train.SEED + 2)
    on_g = torch.randn(4000, world.Z_DIM)
    return {"train and validation": data, "tuning": torch.cat(tuning).numpy(), "export (on G)": on_g.numpy()}


def nearest_distance(codes, others, chunk=20000):
    """The smallest Euclidean distance from a row of `codes` to a row of `others` (float64)."""
    a = torch.from_numpy(codes.astype(np.float64))
    best = float("inf")
    for i in range(0, len(others), chunk):
        b = torch.from_numpy(others[i:i + chunk].astype(np.float64))
        best = min(best, torch.cdist(a, b).min().item())
    return best


def sheet_of(images):
    """(n, 3, 64, 64) u8 -> one (rows * 64, PER_ROW * 64, 3) sheet, row-major, blank tiles black."""
    rows = -(-len(images) // PER_ROW)
    sheet = np.zeros((rows * SIDE, PER_ROW * SIDE, 3), dtype=np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, PER_ROW)
        sheet[r * SIDE:(r + 1) * SIDE, c * SIDE:(c + 1) * SIDE] = img.transpose(1, 2, 0)
    return sheet


def tiles_of(sheet, n):
    """The inverse of sheet_of: the first n tiles as (n, 3, 64, 64)."""
    out = np.empty((n, 3, SIDE, SIDE), dtype=np.uint8)
    for k in range(n):
        r, c = divmod(k, PER_ROW)
        out[k] = sheet[r * SIDE:(r + 1) * SIDE, c * SIDE:(c + 1) * SIDE].transpose(2, 0, 1)
    return out


def label_text(labels):
    lines = [str(len(labels)), " ".join(world.FEATURES)]
    for k, row in enumerate(labels):
        lines.append(f"{k + 1:04d}.png " + " ".join(" 1" if v else "-1" for v in row))
    return "\n".join(lines) + "\n"


def auc_standard_error(a, n_pos, n_neg):
    """Hanley and McNeil's (1982) standard error of an AUC `a` from n_pos positives and n_neg
    negatives; at a = 0.5 it is close to the exact null sqrt((n + 1) / (12 n_pos n_neg))."""
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    return float(np.sqrt((a * (1 - a) + (n_pos - 1) * (q1 - a * a) + (n_neg - 1) * (q2 - a * a)) / (n_pos * n_neg)))


def agreement(doc, aucs, labels):
    """Per drawn attribute, |eval - val| and the standard error of that difference (val's
    counts from the training prevalence at 4000 images); per attribute not drawn, the null
    standard error of the eval AUC."""
    out = {}
    for i, name in enumerate(world.FEATURES):
        pos = int(labels[:, i].sum())
        neg = len(labels) - pos
        if name in world.NOT_DRAWN:
            out[name] = {"null_se": float(np.sqrt((pos + neg + 1) / (12 * pos * neg)))}
            continue
        val = doc["classifier_val_auc"][name]
        val_pos = doc["prevalence"][name] * train.N_VAL
        se = np.hypot(auc_standard_error(aucs[name], pos, neg), auc_standard_error(val, val_pos, train.N_VAL - val_pos))
        out[name] = {"difference": abs(aucs[name] - val), "se": float(se)}
    return out


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    torch.set_num_threads(2)
    z = np.random.default_rng(EVAL_SEED).standard_normal((N_EVAL, world.Z_DIM)).astype(np.float32)
    distances = {name: nearest_distance(z, codes) for name, codes in training_codes().items()}
    for name, d in distances.items():
        print(f"nearest distance from an evaluation code to a {name} code: {d:.4f}")
    assert min(distances.values()) > 1.0, "an evaluation code is (nearly) a training code"
    _, labels, _ = world.attributes(z)
    labels = labels.astype(bool)
    images = np.concatenate([train._render_chunk(c) for c in np.array_split(z, 8)])

    sheet_path, labels_path = os.path.join(WEIGHTS, SHEET), os.path.join(WEIGHTS, LABELS)
    Image.fromarray(sheet_of(images), "RGB").save(sheet_path, optimize=True)
    with open(labels_path, "w") as f:
        f.write(label_text(labels))

    # What the files hold, read back as gan-bias reads them.
    back = np.asarray(Image.open(sheet_path).convert("RGB"))
    assert back.shape == (2560, 3200, 3), back.shape
    pixels = tiles_of(back, N_EVAL)
    assert np.array_equal(pixels, images), "the sheet does not hold the rendered faces"
    x = (torch.from_numpy(pixels).float() / 255 - 0.5) / 0.5
    clf = bundled_classifier(os.path.join(WEIGHTS, "demo_classifier.safetensors"))
    with torch.no_grad():
        logits = torch.cat([clf(x[i:i + 500]).view(-1, len(world.FEATURES)) for i in range(0, N_EVAL, 500)])
    logits = logits.numpy()
    aucs = {name: train.auc(logits[:, i], labels[:, i].astype(np.float64)) for i, name in enumerate(world.FEATURES)}
    print("eval AUC:", " ".join(f"{k}={v:.3f}" for k, v in aucs.items()))

    with open(os.path.join(WEIGHTS, "demo-world.json")) as f:
        doc = json.load(f)
    agree = agreement(doc, aucs, labels)
    drawn = {k: v for k, v in agree.items() if "se" in v}
    worst = max(drawn, key=lambda k: drawn[k]["difference"] / drawn[k]["se"])
    print(f"largest |eval - val| of a drawn attribute: {max(v['difference'] for v in drawn.values()):.4f}; "
          f"most standard errors of the difference: {worst} {drawn[worst]['difference'] / drawn[worst]['se']:.2f}")
    print("not drawn:", ", ".join(f"{k} {aucs[k]:.4f} (null SE {agree[k]['null_se']:.4f})" for k in world.NOT_DRAWN))
    assert all(v["difference"] < 0.02 for v in drawn.values()), drawn
    assert all(abs(aucs[k] - 0.5) < 0.06 for k in world.NOT_DRAWN)
    doc["eval_set"] = {
        "images": N_EVAL,
        "numpy_seed": EVAL_SEED,
        "nearest_training_code_distance": {k: round(v, 4) for k, v in distances.items()},
        "prevalence": {n: float(labels[:, i].mean()) for i, n in enumerate(world.FEATURES)},
        "classifier_auc": {k: round(v, 4) for k, v in aucs.items()},
        "agreement_with_val": {
            "largest_difference": round(max(v["difference"] for v in drawn.values()), 4),
            "largest_se_of_difference": round(max(v["se"] for v in drawn.values()), 4),
            "most_se": [worst, round(drawn[worst]["difference"] / drawn[worst]["se"], 2)],
            "null_se": {k: round(agree[k]["null_se"], 4) for k in world.NOT_DRAWN},
        },
        "sha256": {SHEET: sha256(sheet_path), LABELS: sha256(labels_path), "demo_classifier.safetensors": sha256(os.path.join(WEIGHTS, "demo_classifier.safetensors"))},
    }
    with open(os.path.join(WEIGHTS, "demo-world.json"), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    weights_readme.main(ROOT)
    for name in (SHEET, LABELS):
        print(f"{name}: {os.path.getsize(os.path.join(WEIGHTS, name))} bytes, sha256 {doc['eval_set']['sha256'][name]}")


if __name__ == "__main__":
    main()
