"""Golden values of the probe statistics (numpy, scipy, statsmodels; dev-time only).

Draws a small synthetic probe (n = 7 images, S = 3 steps, F = 5 features, target 1) from a
fixed numpy seed, rounds it to f32, and computes every statistic of
`gan_bias::stats::probe_statistics` independently of its per-image sums: np.cov on the rows
themselves, scipy's linregress, ttest_1samp and false_discovery_control, statsmodels' Wilson
and Newcombe intervals, and the cluster bootstrap by stacking the resampled images' rows (the
resampling indices are SplitMix64's, as the Rust documents them). Writes
tests/fixtures/probe_stats_golden.json, which tests/stats_probe_golden.rs reads:

    python3 tools/probe_stats_golden.py
"""

import json
import os

import numpy as np
from scipy import stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

N, S, F, T = 7, 3, 5, 1
CI, B, SEED, ALPHA = 0.9, 200, 7, 0.05
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "probe_stats_golden.json")


def history():
    """changes (2, S, N, F) and start (N, F), f32: the target grows with the step; feature 0
    follows it, feature 2 goes against it, 3 and 4 drift per image; rows within an image move
    together."""
    rng = np.random.default_rng(20261201)
    start = rng.normal(0.0, 1.5, size=(N, F)).astype(np.float32)
    changes = np.zeros((2, S, N, F))
    rate = 1.0 + 0.3 * rng.normal(size=N)
    drift = rng.normal(0.0, 0.4, size=(N, F))
    for d, sign in enumerate((1.0, -1.0)):
        for s in range(S):
            k = sign * (s + 1)
            xt = k * rate + 0.2 * rng.normal(size=N)
            changes[d, s, :, T] = xt
            changes[d, s, :, 0] = 0.8 * xt + k * drift[:, 0] + 0.3 * rng.normal(size=N)
            changes[d, s, :, 2] = -0.5 * xt + k * drift[:, 2] + 0.3 * rng.normal(size=N)
            changes[d, s, :, 3] = k * drift[:, 3] + 0.3 * rng.normal(size=N)
            changes[d, s, :, 4] = abs(k) * drift[:, 4] + 0.3 * rng.normal(size=N)
    return changes.astype(np.float32), start


def rows_of(changes, images, directions):
    """The rows (as f64) of the given images in the given directions."""
    parts = [changes[d][:, images, :].reshape(-1, F) for d in directions]
    return np.concatenate(parts).astype(np.float64)


def metrics(rows, sigma):
    c = np.cov(rows.T, ddof=1)
    cov = c[T].copy()
    corr = c[T] / np.sqrt(c[T, T] * np.diag(c))
    slope = c[T] / c[T, T]
    dep = slope * sigma[T] / sigma
    others = [i for i in range(F) if i != T]
    return np.concatenate([cov, corr, slope, dep, [np.mean(np.abs(dep[others])), np.max(np.abs(dep[others]))]])


SETS = {"pooled": (0, 1), "up": (0,), "down": (1,)}


def everything(changes, start, images):
    x = start[images].astype(np.float64)
    sigma = x.std(axis=0, ddof=1)
    return np.concatenate([sigma] + [metrics(rows_of(changes, images, d), sigma) for d in SETS.values()])


def splitmix(seed):
    m = 2**64
    s = seed
    while True:
        s = (s + 0x9E3779B97F4A7C15) % m
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % m
        yield z ^ (z >> 31)


def main():
    changes, start = history()
    point = everything(changes, start, np.arange(N))
    # The pooled covariance row is np.cov of the whole history, as the probe's kernel has it.
    assert np.allclose(np.cov(changes.reshape(-1, F).astype(np.float64).T)[T], point[F : 2 * F], rtol=1e-14)

    draws = splitmix(SEED)
    reps = []
    for _ in range(B):
        images = np.array([(next(draws) * N) >> 64 for _ in range(N)])
        reps.append(everything(changes, start, images))
    reps = np.array(reps)
    lo = np.quantile(reps, (1 - CI) / 2, axis=0, method="median_unbiased")
    hi = np.quantile(reps, (1 + CI) / 2, axis=0, method="median_unbiased")

    tests = {}
    for name, dirs in SETS.items():
        p, mean, tstat = [], [], []
        for i in range(F):
            if i == T:
                continue
            slopes = []
            for j in range(N):
                r = rows_of(changes, [j], dirs)
                slopes.append(stats.linregress(r[:, T], r[:, i]).slope)
            res = stats.ttest_1samp(slopes, 0.0)
            p.append(res.pvalue)
            tstat.append(res.statistic)
            mean.append(np.mean(slopes))
        q = stats.false_discovery_control(p, method="bh")
        tests[name] = {"p": p, "q": list(q), "t": tstat, "mean_slope": mean}

    predicted = start > 0
    prevalence = []
    for a in range(F):
        k = int(predicted[:, a].sum())
        low, high = proportion_confint(k, N, alpha=1 - CI, method="wilson")
        prevalence.append({"count": k, "estimate": k / N, "low": low, "high": high})
    g1, g0 = predicted[:, T], ~predicted[:, T]
    gaps = []
    for a in range(F):
        k1, k0 = int(predicted[g1, a].sum()), int(predicted[g0, a].sum())
        low, high = confint_proportions_2indep(k1, int(g1.sum()), k0, int(g0.sum()), method="newcomb", compare="diff", alpha=1 - CI)
        gaps.append({"gap": k1 / g1.sum() - k0 / g0.sum(), "low": low, "high": high})

    golden = {
        "images": N, "steps": S, "features": F, "target": T,
        "ci": CI, "bootstrap": B, "seed": SEED, "alpha": ALPHA,
        "changes": [float(v) for v in changes.ravel()],
        "start": [float(v) for v in start.ravel()],
        "point": list(point), "low": list(lo), "high": list(hi),
        "tests": tests,
        "target_predicted": int(g1.sum()),
        "prevalence": prevalence, "gaps": gaps,
    }
    with open(OUT, "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
