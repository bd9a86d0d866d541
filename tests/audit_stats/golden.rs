//! The audit held to an independent computation: `tools/audit_golden.py` computes every rate
//! with scikit-learn, every disparity with Fairlearn's `MetricFrame` and its named
//! disparities, the Wilson and Newcombe intervals with statsmodels, and the bootstrap by
//! resampling the rows themselves, on a seeded synthetic audit it writes to
//! `tests/fixtures/audit_golden.json` (400 images, two correlated group attributes with one
//! small intersection, logits with ties, -0 and values at the threshold).

use gan_bias::stats::{
    AuditData, AuditSpec, AuditStatistics, Estimate, FeatureAudit, GroupMetric, Proportion, StatsSettings, audit_statistics,
};
use serde_json::Value;

const GOLDEN: &str = include_str!("../fixtures/audit_golden.json");

fn golden() -> (Value, AuditStatistics) {
    let g: Value = serde_json::from_str(GOLDEN).unwrap();
    let n = |k: &str| g[k].as_u64().unwrap() as usize;
    let logits: Vec<f32> =
        g["logits"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap()).map(|v| v.as_f64().unwrap() as f32).collect();
    let labels: Vec<bool> =
        g["labels"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap()).map(|v| v.as_u64().unwrap() == 1).collect();
    let indices = |k: &str| g[k].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as usize).collect::<Vec<_>>();
    let data = AuditData { logits: &logits, labels: &labels, features: n("features") };
    let spec = AuditSpec {
        threshold: g["threshold"].as_f64().unwrap(),
        group_attributes: indices("group_attributes"),
        features: indices("measured"),
        min_group: n("min_group"),
    };
    let settings =
        StatsSettings { ci: g["ci"].as_f64().unwrap(), bootstrap: n("bootstrap"), seed: g["seed"].as_u64().unwrap(), alpha: 0.05 };
    let stats = audit_statistics(&data, &spec, &settings).unwrap();
    assert_eq!(stats.images, n("images"));
    (g, stats)
}

/// Every comparison, its error and its tolerance; fails listing the worst and every miss.
#[derive(Default)]
struct Check {
    seen: usize,
    misses: Vec<String>,
    worst: (f64, String),
}

impl Check {
    fn value(&mut self, what: &str, got: Option<f64>, want: &Value, tol: f64) {
        self.seen += 1;
        match (got, want.as_f64()) {
            (None, None) => {}
            (Some(got), Some(want)) => {
                let err = (got - want).abs();
                if err / tol > self.worst.0 || self.worst.1.is_empty() {
                    self.worst = (err / tol, format!("{what}: got {got:e}, want {want:e} (error {err:e}, tolerance {tol:e})"));
                }
                if err > tol {
                    self.misses.push(format!("{what}: got {got:e}, want {want:e}"));
                }
            }
            (got, _) => self.misses.push(format!("{what}: got {got:?}, want {want}")),
        }
    }

    /// An estimate (to `point`) and its interval (to `ends`) against `{estimate, low, high}`.
    fn estimate(&mut self, what: &str, got: &Estimate, want: &Value, point: f64, ends: f64) {
        self.value(&format!("{what} estimate"), got.estimate, &want["estimate"], point);
        self.value(&format!("{what} low"), got.interval.map(|i| i.low), &want["low"], ends);
        self.value(&format!("{what} high"), got.interval.map(|i| i.high), &want["high"], ends);
    }

    fn proportion(&mut self, what: &str, got: &Proportion, want: &Value) {
        let count = |v: &Value| v.as_u64().unwrap() as usize;
        if (got.count, got.total) != (count(&want["count"]), count(&want["total"])) {
            self.misses.push(format!("{what}: counts {}/{}, want {}", got.count, got.total, want));
        }
        self.estimate(what, &Estimate { estimate: got.estimate, interval: got.interval }, want, 1e-12, 1e-9);
    }

    fn finish(self, min_seen: usize) {
        eprintln!("{} values compared; worst relative to its tolerance: {}", self.seen, self.worst.1);
        assert!(self.seen >= min_seen, "only {} values compared", self.seen);
        assert!(
            self.misses.is_empty(),
            "{} of {} values miss; worst: {}\n{}",
            self.misses.len(),
            self.seen,
            self.worst.1,
            self.misses.join("\n")
        );
    }
}

#[test]
fn the_groups_are_the_intersections_of_the_true_labels_and_the_small_one_is_marked() {
    let (g, stats) = golden();
    let want = g["groups"].as_array().unwrap();
    assert_eq!(stats.groups.len(), want.len());
    for (got, w) in stats.groups.iter().zip(want) {
        assert_eq!((got.n, got.small), (w["n"].as_u64().unwrap() as usize, w["small"].as_bool().unwrap()));
    }
    let names: Vec<String> = ["Male", "Young", "x", "y", "z"].map(String::from).to_vec();
    let got: Vec<String> = stats.groups.iter().map(|d| d.name(&names)).collect();
    assert_eq!(got, ["all", "Male=1&Young=1", "Male=1&Young=0", "Male=0&Young=1", "Male=0&Young=0"]);
    assert_eq!(stats.groups.iter().filter(|d| d.small).count(), 1, "the fixture has one small group");
}

#[test]
fn every_rate_auc_and_wilson_interval_matches_scikit_learn_and_statsmodels() {
    let (g, stats) = golden();
    let mut check = Check::default();
    for (fa, want) in stats.features.iter().zip(g["audit"].as_array().unwrap()) {
        assert_eq!(fa.index as u64, want["index"].as_u64().unwrap());
        for (gm, w) in fa.by_group.iter().zip(want["by_group"].as_array().unwrap()) {
            let what = format!("feature {} group {}", fa.index, gm.group);
            let c = gm.confusion;
            let counts: Vec<u64> = w["confusion"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
            let got = [c.true_negatives, c.false_positives, c.false_negatives, c.true_positives].map(|v| v as u64);
            assert_eq!(got.to_vec(), counts, "{what}: [tn, fp, fn, tp]");
            assert_eq!(c.total() as u64, w["n"].as_u64().unwrap());
            for m in GroupMetric::ALL {
                if m.is_proportion() {
                    check.estimate(&format!("{what} {}", m.name()), gm.metric(m), &w[m.name()], 1e-12, 1e-9);
                } else {
                    // The AUC's bootstrap interval: the same resamples, so to rounding.
                    check.estimate(&format!("{what} auc"), gm.metric(m), &w["auc"], 1e-12, 1e-9);
                }
            }
        }
    }
    check.finish(3 * 5 * 9 * 3);
}

fn disparities(check: &mut Check, fa: &FeatureAudit, want: &Value) {
    for m in GroupMetric::ALL {
        let d = fa.disparity(m);
        let what = format!("feature {} {}", fa.index, m.name());
        check.estimate(&format!("{what} difference"), &d.difference, &want["difference"][m.name()], 1e-12, 1e-9);
        check.estimate(&format!("{what} ratio"), &d.ratio, &want["ratio"][m.name()], 1e-12, 1e-9);
        assert_eq!(d.defined_groups, 4, "{what}: every rate is defined in every group of the fixture");
    }
    for (name, got) in [
        ("demographic_parity_difference", &fa.demographic_parity_difference),
        ("equal_opportunity_difference", &fa.equal_opportunity_difference),
        ("equalized_odds_difference", &fa.equalized_odds_difference),
    ] {
        check.estimate(&format!("feature {} {name}", fa.index), got, &want[name], 1e-12, 1e-9);
    }
}

#[test]
fn every_disparity_matches_fairlearn_and_its_bootstrap_the_resampled_rows() {
    let (g, stats) = golden();
    let mut check = Check::default();
    for (fa, want) in stats.features.iter().zip(g["audit"].as_array().unwrap()) {
        disparities(&mut check, fa, want);
    }
    check.finish(3 * 21 * 3);
    // Some resample leaves the small group without a class: its AUC has no interval, but the
    // disparities skip it there and keep theirs.
    let small = stats.groups.iter().position(|d| d.small).unwrap();
    assert!(stats.features.iter().any(|fa| fa.by_group[small].auc.interval.is_none()));
    assert!(stats.features.iter().all(|fa| fa.disparities.iter().all(|d| d.difference.interval.is_some())));
}

#[test]
fn every_leakage_gap_matches_statsmodels_newcombe() {
    let (g, stats) = golden();
    let want = g["leakage"].as_array().unwrap();
    assert_eq!(stats.leakage.len(), want.len());
    let mut check = Check::default();
    for (l, w) in stats.leakage.iter().zip(want) {
        assert_eq!((l.group_attribute as u64, l.feature as u64), (w["group_attribute"].as_u64().unwrap(), w["feature"].as_u64().unwrap()));
        let what = format!("feature {} against {}", l.feature, l.group_attribute);
        for (name, got) in [("fpr_t1", &l.fpr_t1), ("fpr_t0", &l.fpr_t0), ("fnr_t1", &l.fnr_t1), ("fnr_t0", &l.fnr_t0)] {
            check.proportion(&format!("{what} {name}"), got, &w[name]);
        }
        check.estimate(&format!("{what} fp_gap"), &l.fp_gap, &w["fp_gap"], 1e-12, 1e-9);
        check.estimate(&format!("{what} fn_gap"), &l.fn_gap, &w["fn_gap"], 1e-12, 1e-9);
    }
    check.finish(6 * 18);
}
