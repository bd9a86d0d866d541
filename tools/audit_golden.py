"""Golden values of the classifier audit (scikit-learn, Fairlearn, statsmodels; dev-time only).

Draws a seeded synthetic audit (N = 400 images, F = 5 features; features 0 and 1 are the group
attributes, with correlated labels, so that the intersection 1&0 is small; features 2, 3, 4 are
measured, their logits on a grid of 1/4, continuous, and on a grid of 1/2, so that ties, -0 and
logits equal to the threshold all occur), and computes every statistic of
`gan_bias::stats::audit_statistics` independently of it:

- per feature and group: the rates with scikit-learn (`confusion_matrix`, `accuracy_score`,
  `recall_score`, `precision_score`, `roc_auc_score`) and their Wilson intervals with
  statsmodels' `proportion_confint(method="wilson")`;
- the disparities over the four intersections with Fairlearn: `MetricFrame(...).difference()`
  and `.ratio()`, `demographic_parity_difference`, `equal_opportunity_difference`,
  `equalized_odds_difference`;
- the leakage gaps with statsmodels' `confint_proportions_2indep(method="newcomb")`;
- the bootstrap by resampling the images' rows themselves (SplitMix64's indices, as the Rust
  documents them) and recomputing each resample's groups, AUCs (scikit-learn) and
  disparities (numpy, skipping a group where a rate is undefined; cross-checked against
  Fairlearn on resamples where every rate is defined), with numpy's
  `quantile(method="median_unbiased")`.

Writes tests/fixtures/audit_golden.json, which tests/audit_stats/golden.rs reads (needs numpy,
pandas, scikit-learn, Fairlearn and statsmodels):

    python3 tools/audit_golden.py
"""

import json
import os

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    equal_opportunity_difference,
    equalized_odds_difference,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_negative_rate,
)
from sklearn.metrics import accuracy_score, confusion_matrix, precision_score, recall_score, roc_auc_score
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

N, F = 400, 5
GROUPS = [0, 1]
MEASURED = [2, 3, 4]
THRESHOLD = 0.25
CI, B, SEED, MIN_GROUP = 0.9, 200, 7, 25
METRICS = ["base_rate", "selection_rate", "accuracy", "tpr", "fpr", "fnr", "tnr", "ppv", "auc"]
OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "audit_golden.json")


def images():
    """logits (N, F) as f32 and labels (N, F) as bool."""
    rng = np.random.default_rng(20260522)
    labels = np.zeros((N, F), dtype=bool)
    logits = np.zeros((N, F))
    a = rng.random(N) < 0.5
    b = np.where(a, rng.random(N) < 0.93, rng.random(N) < 0.55)
    labels[:, 0], labels[:, 1] = a, b
    logits[:, 0] = np.where(a, 1.5, -1.5) + rng.normal(size=N)
    logits[:, 1] = np.where(b, 1.0, -1.0) + rng.normal(size=N)
    for k, f in enumerate(MEASURED):
        y = rng.random(N) < 0.3 + 0.2 * a - 0.1 * b + 0.1 * k
        mean = np.where(y, 1.0 + 0.4 * a - 0.3 * k * b, -0.8 + 0.5 * b + 0.2 * k * a)
        x = mean + rng.normal(size=N)
        if f == 2:
            x = np.round(x * 4) / 4
        elif f == 4:
            x = np.round(x * 2) / 2
        labels[:, f], logits[:, f] = y, x
    return logits.astype(np.float32), labels


def cells(labels):
    """The finest group of each image: 0 A=1&B=1, 1 A=1&B=0, 2 A=0&B=1, 3 A=0&B=0."""
    a, b = labels[:, GROUPS[0]], labels[:, GROUPS[1]]
    return 2 * (~a).astype(int) + (~b).astype(int)


def share(k, n):
    return k / n if n > 0 else np.nan


def rates(y, pred, score):
    """The nine metrics of one group's rows, NaN where undefined (numpy, for the bootstrap)."""
    tp, fp = np.sum(y & pred), np.sum(~y & pred)
    fn, tn = np.sum(y & ~pred), np.sum(~y & ~pred)
    n, pos, neg = len(y), tp + fn, tn + fp
    auc = roc_auc_score(y, score) if pos > 0 and neg > 0 else np.nan
    return [share(pos, n), share(tp + fp, n), share(tp + tn, n), share(tp, pos), share(fp, neg), share(fn, pos),
            share(tn, neg), share(tp, tp + fp), auc]


def spread(values):
    """Max - min and min / max of the defined values; NaN when fewer than two."""
    v = [x for x in values if not np.isnan(x)]
    if len(v) < 2:
        return np.nan, np.nan
    return max(v) - min(v), (min(v) / max(v) if max(v) > 0 else np.nan)


def flat(logits, labels, cell):
    """Per measured feature: the AUC of all and each finest group, each metric's difference,
    each metric's ratio, the equalized-odds difference (the Rust's flat layout)."""
    out = []
    for f in MEASURED:
        y, x = labels[:, f], logits[:, f].astype(np.float64)
        pred = x > THRESHOLD
        groups = [np.ones(len(y), dtype=bool)] + [cell == g for g in range(4)]
        r = [rates(y[m], pred[m], x[m]) for m in groups]
        diff, ratio = zip(*[spread([r[g][i] for g in range(1, 5)]) for i in range(len(METRICS))])
        t, fpr = diff[3], diff[4]
        eo = np.nan if np.isnan(t) or np.isnan(fpr) else max(t, fpr)
        out.append([g[8] for g in r] + list(diff) + list(ratio) + [eo])
    return np.array(out)


def splitmix(seed):
    m = 2**64
    s = seed
    while True:
        s = (s + 0x9E3779B97F4A7C15) % m
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % m
        yield z ^ (z >> 31)


def value(v):
    return None if v is None or np.isnan(v) else float(v)


def wilson(k, n):
    k, n = int(k), int(n)
    if n == 0:
        return {"count": k, "total": n, "estimate": None, "low": None, "high": None}
    low, high = proportion_confint(k, n, alpha=1 - CI, method="wilson")
    return {"count": k, "total": n, "estimate": k / n, "low": float(low), "high": float(high)}


def fairlearn_counts(y, pred, sf):
    """Fairlearn's frame of the eight rates (no AUC, which fails on a group of one class)."""
    return MetricFrame(
        metrics={
            "base_rate": lambda t, p: np.mean(t),
            "selection_rate": selection_rate,
            "accuracy": accuracy_score,
            "tpr": recall_score,
            "fpr": false_positive_rate,
            "fnr": false_negative_rate,
            "tnr": true_negative_rate,
            "ppv": precision_score,
        },
        y_true=y, y_pred=pred, sensitive_features=sf,
    )


def fairlearn_frames(y, pred, x, sf):
    counts = fairlearn_counts(y, pred, sf)
    auc = MetricFrame(metrics={"auc": roc_auc_score}, y_true=y, y_pred=x, sensitive_features=sf)
    return counts, auc


def main():
    logits, labels = images()
    cell = cells(labels)
    sizes = [N] + [int(np.sum(cell == g)) for g in range(4)]
    assert sizes[2] < MIN_GROUP <= min(sizes[1], sizes[3], sizes[4]), sizes
    sf = pd.DataFrame({"A": labels[:, GROUPS[0]], "B": labels[:, GROUPS[1]]})

    draws = splitmix(SEED)
    reps, checked = [], 0
    for _ in range(B):
        idx = np.array([(next(draws) * N) >> 64 for _ in range(N)])
        reps.append(flat(logits[idx], labels[idx], cell[idx]))
        if len(reps) <= 20 and not np.isnan(reps[-1]).any():
            checked += 1
            # Where every rate is defined, the numpy disparities are Fairlearn's.
            for k, f in enumerate(MEASURED):
                y, x = labels[idx, f], logits[idx, f].astype(np.float64)
                counts, auc = fairlearn_frames(y, x > THRESHOLD, x, sf.iloc[idx].reset_index(drop=True))
                d = list(counts.difference()) + [auc.difference()["auc"]]
                assert np.allclose(d, reps[-1][k][5:14], rtol=0, atol=1e-12), (d, reps[-1][k][5:14])
    reps = np.array(reps)  # (B, features, stats)
    point = flat(logits, labels, cell)
    with np.errstate(invalid="ignore"):
        lo = np.quantile(reps, (1 - CI) / 2, axis=0, method="median_unbiased")
        hi = np.quantile(reps, (1 + CI) / 2, axis=0, method="median_unbiased")
    undefined = np.isnan(reps).any(axis=0) | np.isnan(point)

    def boot(k, s):
        if undefined[k, s]:
            return {"estimate": value(point[k, s]), "low": None, "high": None}
        return {"estimate": float(point[k, s]), "low": float(lo[k, s]), "high": float(hi[k, s])}

    features = []
    for k, f in enumerate(MEASURED):
        y, x = labels[:, f], logits[:, f].astype(np.float64)
        pred = x > THRESHOLD
        by_group = []
        for slot, m in enumerate([np.ones(N, dtype=bool)] + [cell == g for g in range(4)]):
            yt, pr, sc = y[m], pred[m], x[m]
            tn, fp, fn, tp = confusion_matrix(yt, pr, labels=[False, True]).ravel()
            assert min(tn + fp, fn + tp, tp + fp) > 0, "every rate is defined in every group"
            g = {
                "n": int(m.sum()),
                "confusion": [int(tn), int(fp), int(fn), int(tp)],
                "base_rate": wilson(tp + fn, len(yt)),
                "selection_rate": wilson(tp + fp, len(yt)),
                "accuracy": wilson(tp + tn, len(yt)),
                "tpr": wilson(tp, tp + fn),
                "fpr": wilson(fp, fp + tn),
                "fnr": wilson(fn, fn + tp),
                "tnr": wilson(tn, tn + fp),
                "ppv": wilson(tp, tp + fp),
                "auc": boot(k, slot),
            }
            # The rates by scikit-learn's own functions, not only from the confusion matrix.
            for name, want in [("accuracy", accuracy_score(yt, pr)), ("tpr", recall_score(yt, pr)), ("ppv", precision_score(yt, pr))]:
                assert abs(g[name]["estimate"] - want) < 1e-15, (name, g[name], want)
            g["auc"]["estimate"] = float(roc_auc_score(yt, sc))
            assert abs(g["auc"]["estimate"] - point[k, slot]) < 1e-12
            by_group.append(g)
        counts, auc = fairlearn_frames(y, pred, x, sf)
        difference = {**counts.difference().to_dict(), **auc.difference().to_dict()}
        ratio = {**counts.ratio().to_dict(), **auc.ratio().to_dict()}
        # Fairlearn's groups are the four intersections, and its rates are scikit-learn's.
        assert len(counts.by_group) == 4
        entry = {"index": f, "by_group": by_group, "difference": {}, "ratio": {}}
        for i, name in enumerate(METRICS):
            d, r = boot(k, 5 + i), boot(k, 5 + len(METRICS) + i)
            assert abs(d["estimate"] - difference[name]) < 1e-12 and abs(r["estimate"] - ratio[name]) < 1e-12, name
            d["estimate"], r["estimate"] = float(difference[name]), float(ratio[name])
            entry["difference"][name], entry["ratio"][name] = d, r
        named = {
            "demographic_parity_difference": (demographic_parity_difference(y, pred, sensitive_features=sf), 5 + 1),
            "equal_opportunity_difference": (equal_opportunity_difference(y, pred, sensitive_features=sf), 5 + 3),
            "equalized_odds_difference": (equalized_odds_difference(y, pred, sensitive_features=sf), 5 + 2 * len(METRICS)),
        }
        for name, (want, s) in named.items():
            e = boot(k, s)
            assert abs(e["estimate"] - want) < 1e-12, name
            e["estimate"] = float(want)
            entry[name] = e
        features.append(entry)

    leakage = []
    for f in MEASURED:
        y, pred = labels[:, f], logits[:, f].astype(np.float64) > THRESHOLD
        for t in GROUPS:
            tv = labels[:, t]
            rec = {"group_attribute": t, "feature": f}
            for kind, among, wrong in [("fp", ~y, pred), ("fn", y, ~pred)]:
                k1, n1 = int(np.sum(among & tv & wrong)), int(np.sum(among & tv))
                k0, n0 = int(np.sum(among & ~tv & wrong)), int(np.sum(among & ~tv))
                rec[f"{kind}r_t1"], rec[f"{kind}r_t0"] = wilson(k1, n1), wilson(k0, n0)
                low, high = confint_proportions_2indep(k1, n1, k0, n0, method="newcomb", compare="diff", alpha=1 - CI)
                rec[f"{kind}_gap"] = {"estimate": k1 / n1 - k0 / n0, "low": float(low), "high": float(high)}
            leakage.append(rec)

    golden = {
        "images": N, "features": F, "group_attributes": GROUPS, "measured": MEASURED,
        "threshold": THRESHOLD, "ci": CI, "bootstrap": B, "seed": SEED, "min_group": MIN_GROUP,
        "groups": [{"n": n, "small": n < MIN_GROUP} for n in sizes],
        "logits": [[float(v) for v in row] for row in logits],
        "labels": [[int(v) for v in row] for row in labels],
        "audit": features,
        "leakage": leakage,
    }
    with open(OUT, "w") as out:
        out.write("{\n")
        items = list(golden.items())
        for i, (key, v) in enumerate(items):
            if isinstance(v, list) and v and isinstance(v[0], (list, dict)):
                text = "[\n  " + ",\n  ".join(json.dumps(x, separators=(",", ":")) for x in v) + "\n ]"
            else:
                text = json.dumps(v)
            out.write(f" {json.dumps(key)}: {text}{',' if i + 1 < len(items) else ''}\n")
        out.write("}\n")
    print("wrote", os.path.normpath(OUT), "groups", sizes)
    print("undefined bootstrap statistics", int(undefined.sum()), "resamples checked against Fairlearn", checked)


if __name__ == "__main__":
    main()
