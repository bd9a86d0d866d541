"""Prints the golden values of `src/stats/golden.rs` (numpy and scipy; dev-time only).

The data are drawn from MINSTD (s <- 48271 s mod 2^31 - 1, u = s / (2^31 - 1)), which
integer arithmetic and one IEEE division reproduce exactly in Rust. Run:

    python3 tools/stats_golden.py

and paste its output over the constants of `src/stats/golden.rs`.
"""

import numpy as np
from scipy import stats

M = 2147483647


def minstd(seed, n):
    s, out = seed, []
    for _ in range(n):
        s = s * 48271 % M
        out.append(s / M)
    return out


def dataset():
    """x = 10 u - 5, y = 0.7 x + 1.5 + 4 (v - 0.5), 40 points, seed 12345."""
    u = minstd(12345, 80)
    x = np.array([10.0 * a - 5.0 for a in u[:40]])
    y = np.array([0.7 * a + 1.5 + 4.0 * (b - 0.5) for a, b in zip(x, u[40:])])
    return x, y


def features():
    """4 features over 50 rows: a = u, b = a + 0.5 v, c = -a + w, d = 0.1 t (row-major draws)."""
    u = minstd(777, 200)
    rows = []
    for r in range(50):
        a, v, w, t = u[4 * r : 4 * r + 4]
        rows.append([a, a + 0.5 * v, -a + w, 0.1 * t])
    return np.array(rows)


def arr(name, values):
    body = ", ".join(repr(float(v)) for v in values)
    print(f"const {name}: [f64; {len(values)}] = [{body}];")


DFS = [1.0, 3.0, 10.0, 100.0, 2.5]
PS = [0.9, 0.975, 0.995, 0.005]

print("// t quantiles: T_QUANTILE[i * PS.len() + j] = t.ppf(PS[j], DFS[i])")
arr("DFS", DFS)
arr("PS", PS)
arr("T_QUANTILE", [stats.t.ppf(p, df) for df in DFS for p in PS])
arr("NORMAL_QUANTILE", [stats.norm.ppf(p) for p in PS])

x, y = dataset()
print("// Pearson and least squares of the dataset")
print(f"const PEARSON: f64 = {repr(float(stats.pearsonr(x, y).statistic))};")
fit = stats.linregress(x, y)
n = len(x)
resid = y - fit.intercept - fit.slope * x
s = np.sqrt(resid @ resid / (n - 2))
sxx = ((x - x.mean()) ** 2).sum()
print(f"const SLOPE: f64 = {repr(float(fit.slope))};")
print(f"const INTERCEPT: f64 = {repr(float(fit.intercept))};")
print(f"const RESIDUAL_SD: f64 = {repr(float(s))};")
band_x = [-4.0, 0.0, 2.5]
tq = stats.t.ppf(0.995, n - 2)
half = [tq * s * np.sqrt(1 / n + (bx - x.mean()) ** 2 / sxx) for bx in band_x]
arr("BAND_X", band_x)
arr("BAND_HALF_99", half)

print("// x_bins(x, y, 5, 0.99): centres at numpy percentiles, nearest centre, t interval")
k = 5
centres = np.percentile(x, np.linspace(0, 100, k + 2)[1:-1])
member = np.argmin(np.abs(x[:, None] - centres[None, :]), axis=1)
counts, means, halves = [], [], []
for i in range(k):
    ys = y[member == i]
    counts.append(len(ys))
    means.append(ys.mean())
    halves.append(stats.t.ppf(0.995, len(ys) - 1) * ys.std(ddof=1) / np.sqrt(len(ys)))
arr("BIN_CENTRES", centres)
print(f"const BIN_COUNTS: [usize; {k}] = [{', '.join(str(c) for c in counts)}];")
arr("BIN_MEANS", means)
arr("BIN_HALF_99", halves)

print("// the covariance of the features' rows, and their correlation (np.corrcoef of the rows)")
f = features()
arr("FEATURE_COV", np.cov(f, rowvar=False).ravel())
arr("FEATURE_CORR", np.corrcoef(f, rowvar=False).ravel())
