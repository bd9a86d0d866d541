"""Golden values of `gan-bias audit` on the bundled evaluation set (PyTorch, scikit-learn,
Fairlearn; dev-time only).

Reads the bundled labelled evaluation set (weights/demo-eval.png, 2000 tiles of 64x64, and
weights/demo-eval.txt, their true labels; made by tools/demo_world/eval_set.py) with the
values (u8 / 255 - 0.5) / 0.5, NCHW, runs the bundled classifier
(weights/demo_classifier.safetensors, f16 as float32) in PyTorch for the logits, and computes,
at threshold 0 (a feature is predicted when its logit is > 0), the audit of three sets:

    A  all 2000 images, grouped by Male
    B  all 2000 images, grouped by Male and Young (the four intersections)
    C  the first 150 images, grouped by Male

For each set, for every one of the 40 features (the group attributes too: within their own
groups their metrics are degenerate, and reported as they come, null where undefined), the
rows of the audit's long-form CSV in its order, [feature, group, n, metric, value]
(`row_columns`), one a line:

- per group (`all`, then the finest groups `Male=1`, `Male=0`, or `Male=1&Young=1`,
  `Male=1&Young=0`, `Male=0&Young=1`, `Male=0&Young=0`; n the group's images) the nine
  metrics base_rate, selection_rate, accuracy, tpr, fpr, fnr, tnr, ppv and auc, with
  scikit-learn (`confusion_matrix`, `accuracy_score`, `recall_score`, `precision_score`,
  `roc_auc_score`); null where the denominator is 0 or, for the AUC, the group has one class
  (scikit-learn and Fairlearn report 0 or fail there);
- group `difference` and `ratio` for each metric in turn (n the set's images): max - min and
  min / max over the finest groups where the metric is defined; null with fewer than two
  such groups, and the ratio null when the max is 0. Checked against Fairlearn's
  `MetricFrame(...).difference()` and `.ratio()` wherever every group defines the metric;
- group `difference` of `demographic_parity_difference`, `equal_opportunity_difference` and
  `equalized_odds_difference`, from Fairlearn's functions with the finest groups as
  sensitive features. Where a group's TPR or FPR is undefined (no positives or no
  negatives), Fairlearn counts it as 0; the value is then computed from the defined groups
  alone (the TPR and FPR differences above; equalized odds null unless both are defined),
  and the feature is listed in the set's `named_from_defined_groups`.

Per set also `images`, `group_attributes`, `min_abs_logit` (the smallest |logit| over the
set's images and all features: a logit computed elsewhere that differs by less cannot cross the
threshold) and `leakage`, for each feature a and group attribute t in turn (the leakage CSV's
order):
`fp_gap = P(pred a | a = 0, t = 1) - P(pred a | a = 0, t = 0)` and
`fn_gap = P(not pred a | a = 1, t = 1) - P(not pred a | a = 1, t = 0)`, null when a side is
empty. Values are the float64 results to 12 significant digits (relative error < 1e-12).

Writes tests/fixtures/audit_cli_golden.json (needs torch, numpy, Pillow, pandas,
scikit-learn and Fairlearn):

    python3 tools/audit_cli_golden.py
"""

import json
import os
import sys
import warnings

import numpy as np
import pandas as pd
import torch
from fairlearn.metrics import demographic_parity_difference, equal_opportunity_difference, equalized_odds_difference
from PIL import Image
from sklearn.metrics import accuracy_score, confusion_matrix, precision_score, recall_score, roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "demo_world"))

from audit_golden import METRICS, fairlearn_counts, fairlearn_frames, rates, spread, value  # noqa: E402
from eval_set import tiles_of  # noqa: E402
from gan_models import FEATURE_NAMES, bundled_classifier  # noqa: E402

THRESHOLD = 0.0
SETS = [("A", None, ["Male"]), ("B", None, ["Male", "Young"]), ("C", 150, ["Male"])]
OUT = os.path.join(ROOT, "tests", "fixtures", "audit_cli_golden.json")
ROW_COLUMNS = ["feature", "group", "n", "metric", "value"]
NAMED = ["demographic_parity_difference", "equal_opportunity_difference", "equalized_odds_difference"]


def short(v):
    """A value to 12 significant digits (relative error below 1e-12), None as null."""
    return None if v is None else float(f"{v:.12g}")


def read_eval_set():
    """(images (N, 3, 64, 64) float32 in [-1, 1], labels (N, 40) bool in FEATURE_NAMES order)."""
    with open(os.path.join(ROOT, "weights", "demo-eval.txt")) as f:
        lines = [line.split() for line in f if line.strip()]
    count, names = int(lines[0][0]), lines[1]
    assert names == FEATURE_NAMES and len(lines) == count + 2, "the label file is the classifier's 40 features"
    labels = np.array([[v == "1" for v in row[1:]] for row in lines[2:]])
    sheet = np.asarray(Image.open(os.path.join(ROOT, "weights", "demo-eval.png")).convert("RGB"))
    pixels = tiles_of(sheet, count)
    return ((torch.from_numpy(pixels).float() / 255 - 0.5) / 0.5), labels


def logits_of(images):
    clf = bundled_classifier(os.path.join(ROOT, "weights", "demo_classifier.safetensors"))
    with torch.no_grad():
        out = [clf(images[i:i + 500]).view(-1, len(FEATURE_NAMES)) for i in range(0, len(images), 500)]
    return torch.cat(out).numpy()


def finest_groups(labels, attrs):
    """The finest groups as (name, mask), in the audit's order: 1 before 0, the first attribute
    varying slowest."""
    idx = [FEATURE_NAMES.index(a) for a in attrs]
    out = []
    for bits in ([(1,), (0,)] if len(attrs) == 1 else [(1, 1), (1, 0), (0, 1), (0, 0)]):
        mask = np.ones(len(labels), dtype=bool)
        for i, b in zip(idx, bits):
            mask &= labels[:, i] == bool(b)
        out.append(("&".join(f"{a}={b}" for a, b in zip(attrs, bits)), mask))
    return out


def sklearn_rates(y, pred, score):
    """The nine metrics of one group by scikit-learn's own functions, None where undefined;
    checked against audit_golden's numpy `rates`."""
    n = len(y)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[False, True]).ravel()
    pos, neg, sel = tp + fn, tn + fp, tp + fp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = [
            pos / n,
            sel / n,
            accuracy_score(y, pred),
            recall_score(y, pred, zero_division=0) if pos else None,
            fp / neg if neg else None,
            fn / pos if pos else None,
            tn / neg if neg else None,
            precision_score(y, pred, zero_division=0) if sel else None,
            roc_auc_score(y, score) if pos and neg else None,
        ]
    numpy = rates(y, pred, score)
    for name, a, b in zip(METRICS, got, numpy):
        assert (a is None and np.isnan(b)) or abs(a - b) < 1e-15, (name, a, b)
    return [None if v is None else float(v) for v in got]


def audit(logits, labels, attrs):
    n = len(labels)
    groups = [("all", np.ones(n, dtype=bool))] + finest_groups(labels, attrs)
    assert all(m.sum() > 0 for _, m in groups), [(g, int(m.sum())) for g, m in groups]
    cell = np.zeros(n, dtype=int)
    for k, (_, m) in enumerate(groups[1:]):
        cell[m] = k
    sf = pd.Series([groups[1 + k][0] for k in cell], name="group")
    rows, from_defined, checked = [], [], 0
    for f, feature in enumerate(FEATURE_NAMES):
        y, x = labels[:, f], logits[:, f].astype(np.float64)
        pred = x > THRESHOLD
        per = []
        for name, m in groups:
            r = sklearn_rates(y[m], pred[m], x[m])
            per.append(r)
            rows += [{"feature": feature, "group": name, "n": int(m.sum()), "metric": k, "value": v} for k, v in zip(METRICS, r)]
        finest = per[1:]
        spreads = [spread([np.nan if g[i] is None else g[i] for g in finest]) for i in range(len(METRICS))]
        diff = [value(d) for d, _ in spreads]
        ratio = [value(r) for _, r in spreads]

        # Fairlearn, wherever every finest group defines the metric.
        all_classes = all(0 < y[m].sum() < m.sum() for _, m in groups[1:])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            counts, auc = fairlearn_frames(y, pred, x, sf) if all_classes else (fairlearn_counts(y, pred, sf), None)
        fl_diff, fl_ratio = counts.difference().to_dict(), counts.ratio().to_dict()
        if auc is not None:
            fl_diff.update(auc.difference().to_dict())
            fl_ratio.update(auc.ratio().to_dict())
        for i, metric in enumerate(METRICS):
            if all(g[i] is not None for g in finest) and metric in fl_diff:
                assert abs(fl_diff[metric] - diff[i]) < 1e-12, (feature, metric, fl_diff[metric], diff[i])
                if ratio[i] is not None:
                    assert abs(fl_ratio[metric] - ratio[i]) < 1e-12, (feature, metric)
                checked += 1
        for k, dv, rv in zip(METRICS, diff, ratio):
            rows += [{"feature": feature, "group": "difference", "n": n, "metric": k, "value": dv},
                     {"feature": feature, "group": "ratio", "n": n, "metric": k, "value": rv}]

        tpr, fpr = METRICS.index("tpr"), METRICS.index("fpr")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            named = {
                "demographic_parity_difference": demographic_parity_difference(y, pred, sensitive_features=sf),
                "equal_opportunity_difference": equal_opportunity_difference(y, pred, sensitive_features=sf),
                "equalized_odds_difference": equalized_odds_difference(y, pred, sensitive_features=sf),
            }
        assert abs(named["demographic_parity_difference"] - diff[METRICS.index("selection_rate")]) < 1e-12
        if all(g[tpr] is not None and g[fpr] is not None for g in finest):
            assert abs(named["equal_opportunity_difference"] - diff[tpr]) < 1e-12
            assert abs(named["equalized_odds_difference"] - max(diff[tpr], diff[fpr])) < 1e-12
            values = [float(named[k]) for k in NAMED]
        else:
            from_defined.append(feature)
            eo = None if diff[tpr] is None or diff[fpr] is None else max(diff[tpr], diff[fpr])
            values = [float(named["demographic_parity_difference"]), diff[tpr], eo]
        rows += [{"feature": feature, "group": "difference", "n": n, "metric": k, "value": v} for k, v in zip(NAMED, values)]

    leakage = []
    for f, feature in enumerate(FEATURE_NAMES):
        for t in attrs:
            tv = labels[:, FEATURE_NAMES.index(t)]
            y, pred = labels[:, f], logits[:, f].astype(np.float64) > THRESHOLD
            rec = {"group_attribute": t, "feature": feature}
            for kind, among, wrong in [("fp_gap", ~y, pred), ("fn_gap", y, ~pred)]:
                n1, n0 = int(np.sum(among & tv)), int(np.sum(among & ~tv))
                rec[kind] = None if n1 == 0 or n0 == 0 else float(np.sum(among & tv & wrong) / n1 - np.sum(among & ~tv & wrong) / n0)
            leakage.append(rec)
    return rows, leakage, from_defined, checked


def main():
    torch.set_num_threads(2)
    images, labels = read_eval_set()
    logits = logits_of(images)
    golden = {"made_by": "tools/audit_cli_golden.py", "threshold": THRESHOLD, "metrics": METRICS + NAMED, "row_columns": ROW_COLUMNS,
              "sets": {}}
    for name, count, attrs in SETS:
        lg, lb = (logits, labels) if count is None else (logits[:count], labels[:count])
        rows, leakage, from_defined, checked = audit(lg, lb, attrs)
        golden["sets"][name] = {
            "images": len(lb),
            "group_attributes": attrs,
            "min_abs_logit": float(np.abs(lg).min()),
            "named_from_defined_groups": from_defined,
            "rows": rows,
            "leakage": leakage,
        }
        print(f"set {name}: {len(lb)} images by {'&'.join(attrs)}: {len(rows)} rows, min |logit| {np.abs(lg).min():.3e}, "
              f"{checked} disparities checked against Fairlearn, named metrics from defined groups for {from_defined}")
    with open(OUT, "w") as out:
        out.write("{\n")
        for k, v in golden.items():
            if k != "sets":
                out.write(f"{json.dumps(k)}: {json.dumps(v)},\n")
        out.write('"sets": {\n')
        for i, (name, s) in enumerate(golden["sets"].items()):
            out.write(f"{json.dumps(name)}: {{\n")
            for key in ["images", "group_attributes", "min_abs_logit", "named_from_defined_groups"]:
                out.write(f"{json.dumps(key)}: {json.dumps(s[key])},\n")
            # One CSV row a line, as [feature, group, n, metric, value] (ROW_COLUMNS).
            rows = [[r[c] if c != "value" else short(r[c]) for c in ROW_COLUMNS] for r in s["rows"]]
            out.write('"rows": [\n' + ",\n".join(json.dumps(r, separators=(",", ":")) for r in rows) + "\n],\n")
            leakage = [{k: short(v) if k.endswith("_gap") else v for k, v in r.items()} for r in s["leakage"]]
            out.write('"leakage": [\n' + ",\n".join(json.dumps(r, separators=(",", ":")) for r in leakage) + "\n]\n")
            out.write(f"}}{',' if i + 1 < len(golden['sets']) else ''}\n")
        out.write("}\n}\n")
    print("wrote", os.path.relpath(OUT, ROOT), os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
