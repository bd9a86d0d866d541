"""Golden values of the first-order statistics (numpy and scipy; dev-time only).

Draws small synthetic gradients (n = 7 images, F = 5 features, zdim = 3) and starting logits
from a fixed numpy seed, rounds them to f32, zeroes image 2's gradient of feature 4 (so that
image has no cosine with feature 4 and no slope in the row of target 4), and computes every
statistic of `gan_bias::stats::first_order_statistics` for the targets [4, 1] directly from
the gradients: per-image cosines and slopes with numpy, scipy's ttest_1samp and
false_discovery_control, and the cluster bootstrap by recomputing everything on the list of
resampled images (duplicates included; the indices are SplitMix64's, as the Rust documents
them). Writes tests/fixtures/first_order_golden.json, which tests/first_order_golden.rs reads:

    python3 tools/first_order_golden.py
"""

import json
import os

import numpy as np
from scipy import stats

N, F, Z = 7, 5, 3
TARGETS = [4, 1]
CI, B, SEED, ALPHA = 0.9, 300, 11, 0.05
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "first_order_golden.json")
MASK = (1 << 64) - 1


def inputs():
    """grads (N, F, Z) and start (N, F), f32: feature 0 leans along feature 1's gradient,
    feature 2 against it, 3 and 4 unrelated."""
    rng = np.random.default_rng(20260311)
    grads = rng.normal(size=(N, F, Z))
    grads[:, 0] += 0.8 * grads[:, 1]
    grads[:, 2] -= 0.6 * grads[:, 1]
    grads[2, 4] = 0.0
    start = rng.normal(0.0, 1.5, size=(N, F))
    return grads.astype(np.float32), start.astype(np.float32)


def row(grads, sigma, images, t):
    """corr, slope, dep (F each), mean |d|, max |d| of target t over the image list."""
    g = grads[images].astype(np.float64)
    norm = np.linalg.norm(g, axis=2)
    corr, slope = np.full(F, np.nan), np.full(F, np.nan)
    for i in range(F):
        cos = [g[k, t] @ g[k, i] / (norm[k, t] * norm[k, i]) for k in range(len(images)) if norm[k, t] > 0 and norm[k, i] > 0]
        b = [g[k, i] @ g[k, t] / norm[k, t] ** 2 for k in range(len(images)) if norm[k, t] > 0]
        if cos:
            corr[i] = np.mean(cos)
        if b:
            slope[i] = np.mean(b)
    dep = slope * sigma[t] / sigma if sigma[t] > 0 else np.full(F, np.nan)
    others = [abs(dep[i]) for i in range(F) if i != t and np.isfinite(dep[i])]
    summary = [np.mean(others), np.max(others)] if others else [np.nan, np.nan]
    return np.concatenate([corr, slope, dep, summary])


def everything(grads, start, images):
    sigma = start[images].astype(np.float64).std(axis=0, ddof=1)
    return np.concatenate([sigma] + [row(grads, sigma, images, t) for t in TARGETS])


def splitmix(seed):
    s = seed
    while True:
        s = (s + 0x9E3779B97F4A7C15) & MASK
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        yield z ^ (z >> 31)


def tests_of(grads, t):
    g = grads.astype(np.float64)
    out = {"images": [], "mean_slope": [], "t": [], "p": []}
    for i in range(F):
        if i == t:
            continue
        b = [g[j, i] @ g[j, t] / (g[j, t] @ g[j, t]) for j in range(N) if np.any(g[j, t] != 0)]
        res = stats.ttest_1samp(b, 0.0)
        out["images"].append(len(b))
        out["mean_slope"].append(float(np.mean(b)))
        out["t"].append(float(res.statistic))
        out["p"].append(float(res.pvalue))
    out["q"] = [float(q) for q in stats.false_discovery_control(out["p"], method="bh")]
    return out


def nulls(values):
    return [None if np.isnan(v) else float(v) for v in values]


def main():
    grads, start = inputs()
    point = everything(grads, start, np.arange(N))
    draws = splitmix(SEED)
    reps = []
    for _ in range(B):
        images = np.array([(next(draws) * N) >> 64 for _ in range(N)])
        reps.append(everything(grads, start, images))
    reps = np.array(reps)
    lo = np.quantile(reps, (1 - CI) / 2, axis=0, method="median_unbiased")
    hi = np.quantile(reps, (1 + CI) / 2, axis=0, method="median_unbiased")
    # No interval where the point or any replicate is undefined.
    bad = np.isnan(point) | np.isnan(reps).any(axis=0)
    lo[bad], hi[bad] = np.nan, np.nan

    golden = {
        "images": N, "features": F, "zdim": Z, "targets": TARGETS,
        "ci": CI, "bootstrap": B, "seed": SEED, "alpha": ALPHA,
        "grads": [float(v) for v in grads.ravel()],
        "start": [float(v) for v in start.ravel()],
        "point": nulls(point), "low": nulls(lo), "high": nulls(hi),
        "tests": [tests_of(grads, t) for t in TARGETS],
    }
    with open(OUT, "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
