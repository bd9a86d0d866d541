//! The audit's unit tests: small data whose every count, rate and disparity is known by hand.

use super::*;

/// Two features per image: the group attribute (feature 0) and the measured one (1).
fn rows(rows: &[(bool, f32, bool)]) -> (Vec<f32>, Vec<bool>) {
    let logits = rows.iter().flat_map(|&(g, x, _)| [if g { 1.0 } else { -1.0 }, x]).collect();
    let labels = rows.iter().flat_map(|&(g, _, y)| [g, y]).collect();
    (logits, labels)
}

fn spec(min_group: usize) -> AuditSpec {
    AuditSpec { threshold: 0.0, group_attributes: vec![0], features: vec![1], min_group }
}

fn audit(logits: &[f32], labels: &[bool], spec: &AuditSpec, bootstrap: usize) -> AuditStatistics {
    let data = AuditData { logits, labels, features: 2 };
    audit_statistics(&data, spec, &StatsSettings { bootstrap, seed: 5, ..Default::default() }).unwrap()
}

#[test]
fn all_ties_give_half_and_a_perfect_score_gives_one() {
    let ties: Vec<_> = (0..10usize).map(|k| (k.is_multiple_of(2), 0.25, k.is_multiple_of(3))).collect();
    let (l, y) = rows(&ties);
    let st = audit(&l, &y, &spec(0), 50);
    assert!(st.features[0].by_group.iter().all(|g| g.auc.estimate == Some(0.5)), "{:?}", st.features[0].by_group);
    let perfect: Vec<_> =
        (0..10usize).map(|k| (k < 5, if k.is_multiple_of(2) { k as f32 + 1.0 } else { -(k as f32) }, k.is_multiple_of(2))).collect();
    let (l, y) = rows(&perfect);
    let st = audit(&l, &y, &spec(0), 50);
    for g in &st.features[0].by_group {
        assert_eq!(g.auc.estimate, Some(1.0));
        assert_eq!((g.accuracy.estimate, g.tpr.estimate, g.fpr.estimate), (Some(1.0), Some(1.0), Some(0.0)));
    }
    // Every resample is perfect too.
    assert_eq!(st.features[0].by_group[0].auc.interval, Some(Interval { low: 1.0, high: 1.0 }));
    let reversed: Vec<_> = perfect.iter().map(|&(g, x, y)| (g, -x, y)).collect();
    let (l, y) = rows(&reversed);
    assert_eq!(audit(&l, &y, &spec(0), 0).features[0].by_group[0].auc.estimate, Some(0.0));
}

#[test]
fn counts_rates_and_disparities_by_hand() {
    // t=1: (x, y) = (1, T) tp, (-1, T) fn, (2, F) fp, (-2, F) tn, (3, T) tp.
    // t=0: (0, T) fn (0 is not > 0), (-1, F) tn, (-3, F) tn.
    let data = [(1.0, true), (-1.0, true), (2.0, false), (-2.0, false), (3.0, true)].map(|(x, y)| (true, x, y));
    let rest = [(0.0, true), (-1.0, false), (-3.0, false)].map(|(x, y)| (false, x, y));
    let (l, y) = rows(&[&data[..], &rest[..]].concat());
    let st = audit(&l, &y, &spec(4), 0);
    assert_eq!(st.groups.iter().map(|g| (g.n, g.small)).collect::<Vec<_>>(), [(8, false), (5, false), (3, true)]);
    let names = ["Male", "Smiling"];
    assert_eq!(st.groups.iter().map(|g| g.name(&names)).collect::<Vec<_>>(), ["all", "Male=1", "Male=0"]);
    let fa = &st.features[0];
    let c = |g: usize| fa.by_group[g].confusion;
    assert_eq!(c(1), Confusion { true_positives: 2, false_positives: 1, false_negatives: 1, true_negatives: 1 });
    assert_eq!(c(2), Confusion { true_positives: 0, false_positives: 0, false_negatives: 1, true_negatives: 2 });
    assert_eq!(c(0).total(), 8);
    let m = |g: usize, metric| fa.by_group[g].metric(metric).estimate;
    assert_eq!((m(1, GroupMetric::Tpr), m(2, GroupMetric::Tpr)), (Some(2.0 / 3.0), Some(0.0)));
    assert_eq!((m(1, GroupMetric::Ppv), m(2, GroupMetric::Ppv)), (Some(2.0 / 3.0), None), "nothing predicted at t=0");
    // AUC at t=0: the positive's 0 is above both negatives.
    assert_eq!(m(2, GroupMetric::Auc), Some(1.0));
    // At t=1 the positives 1, -1, 3 against the negatives 2, -2: 4 of the 6 pairs ordered.
    assert_eq!(m(1, GroupMetric::Auc), Some(4.0 / 6.0));
    assert_eq!(fa.equal_opportunity_difference.estimate, Some(2.0 / 3.0));
    assert_eq!(fa.demographic_parity_difference.estimate, Some(3.0 / 5.0));
    assert_eq!(fa.disparity(GroupMetric::Fpr).difference.estimate, Some(0.5));
    assert_eq!(fa.equalized_odds_difference.estimate, Some(2.0 / 3.0));
    assert_eq!(fa.disparity(GroupMetric::Tpr).ratio.estimate, Some(0.0));
    // PPV is undefined at t=0: one group left, so no disparity, and it says why.
    let ppv = fa.disparity(GroupMetric::Ppv);
    assert_eq!((ppv.defined_groups, ppv.difference.estimate, ppv.ratio.estimate), (1, None, None));
    // Leakage: FPR 1/2 at t=1 against 0/2 at t=0; FNR 1/3 against 1/1.
    let lk = &st.leakage[0];
    assert_eq!((lk.group_attribute, lk.feature), (0, 1));
    assert_eq!((lk.fp_gap.estimate, lk.fn_gap.estimate), (Some(0.5), Some(1.0 / 3.0 - 1.0)));
    assert!(lk.fp_gap.interval.unwrap().contains(0.5) && lk.fn_gap.interval.unwrap().contains(-2.0 / 3.0));
}

#[test]
fn undefined_rates_are_none_without_panicking() {
    // No positives anywhere, and a group attribute that is 1 on every image (an empty t=0).
    let r: Vec<_> = (0..6).map(|k| (true, k as f32 - 2.5, false)).collect();
    let (l, y) = rows(&r);
    let st = audit(&l, &y, &spec(1), 30);
    assert_eq!((st.groups[1].n, st.groups[2].n, st.groups[2].small), (6, 0, true));
    let empty = &st.features[0].by_group[2];
    assert!(GroupMetric::ALL.iter().all(|&m| empty.metric(m).estimate.is_none() && empty.metric(m).interval.is_none()));
    let g = &st.features[0].by_group[1];
    for m in [GroupMetric::Tpr, GroupMetric::Fnr, GroupMetric::Auc] {
        assert_eq!(g.metric(m), &Estimate { estimate: None, interval: None }, "{m:?}");
    }
    assert_eq!((g.fpr.estimate, g.base_rate.estimate), (Some(0.5), Some(0.0)));
    assert!(st.features[0].disparities.iter().all(|d| d.difference.estimate.is_none() && d.defined_groups <= 1));
    assert_eq!(st.features[0].equalized_odds_difference.estimate, None);
    let lk = &st.leakage[0];
    assert_eq!((lk.fp_gap.estimate, lk.fn_gap.estimate, lk.fp_gap.interval), (None, None, None));
    assert_eq!(lk.fpr_t1.estimate, Some(0.5));
}

#[test]
fn two_attributes_form_four_intersections_in_order() {
    // Features: A, B, x. Labels of (A, B) cycle through all four; two cells are small.
    let n = 40;
    let ab = |j: usize| if j == 0 { (false, true) } else { (j.is_multiple_of(3), j.is_multiple_of(2)) };
    let logits: Vec<f32> = (0..n).flat_map(|j| [0.0, 0.0, (j % 7) as f32 - 3.0]).collect();
    let labels: Vec<bool> = (0..n).flat_map(|j| [ab(j).0, ab(j).1, j % 5 < 2]).collect();
    let data = AuditData { logits: &logits, labels: &labels, features: 3 };
    let spec = AuditSpec { threshold: 0.5, group_attributes: vec![0, 1], features: vec![2, 0], min_group: 8 };
    let st = audit_statistics(&data, &spec, &StatsSettings { bootstrap: 20, ..Default::default() }).unwrap();
    let names = ["A", "B", "x"];
    let got: Vec<_> = st.groups.iter().map(|g| (g.name(&names), g.n, g.small)).collect();
    let count = |a: bool, b: bool| (0..n).filter(|&j| ab(j) == (a, b)).count();
    let want = [("all", n), ("A=1&B=1", count(true, true)), ("A=1&B=0", count(true, false))];
    let want = want.into_iter().chain([("A=0&B=1", count(false, true)), ("A=0&B=0", count(false, false))]);
    assert_eq!(got, want.map(|(s, k)| (s.to_string(), k, k < 8)).collect::<Vec<_>>());
    assert_eq!(st.finest(), 1..5);
    assert_eq!(st.features.iter().map(|f| f.index).collect::<Vec<_>>(), [2, 0]);
    assert_eq!(st.leakage.iter().map(|l| (l.feature, l.group_attribute)).collect::<Vec<_>>(), [(2, 0), (2, 1), (0, 0), (0, 1)]);
    // A measured against groups it defines: its TPR or FPR is undefined in every cell.
    let own = &st.features[1];
    assert_eq!((own.disparity(GroupMetric::Tpr).defined_groups, own.disparity(GroupMetric::BaseRate).defined_groups), (2, 4));
    assert_eq!(own.disparity(GroupMetric::BaseRate).difference.estimate, Some(1.0));
}

#[test]
fn bad_inputs_are_refused() {
    let (l, y) = rows(&[(true, 1.0, true), (false, -1.0, false)]);
    let d = StatsSettings::default();
    let err = |l: &[f32], y: &[bool], f: usize, spec: &AuditSpec, s: &StatsSettings| {
        audit_statistics(&AuditData { logits: l, labels: y, features: f }, spec, s).unwrap_err()
    };
    let sp = spec(0);
    assert_eq!(err(&l, &y, 0, &sp, &d), AuditStatsError::Empty { images: 0, features: 0 });
    assert_eq!(err(&[], &[], 2, &sp, &d), AuditStatsError::Empty { images: 0, features: 2 });
    assert_eq!(err(&l[1..], &y, 2, &sp, &d), AuditStatsError::LogitShape { len: 3, features: 2 });
    assert!(matches!(err(&l, &y[1..], 2, &sp, &d), AuditStatsError::LabelShape { len: 3, expected: 4, .. }));
    let mut bad = l.clone();
    bad[3] = f32::NAN;
    assert_eq!(err(&bad, &y, 2, &sp, &d), AuditStatsError::NonFinite { index: 3 });
    let with = |f: &dyn Fn(&mut AuditSpec)| {
        let mut s = spec(0);
        f(&mut s);
        err(&l, &y, 2, &s, &d)
    };
    assert_eq!(with(&|s| s.threshold = f64::INFINITY), AuditStatsError::Threshold(f64::INFINITY));
    assert_eq!(with(&|s| s.group_attributes = vec![]), AuditStatsError::GroupCount(0));
    assert_eq!(with(&|s| s.group_attributes = vec![0, 1, 0]), AuditStatsError::GroupCount(3));
    assert_eq!(with(&|s| s.group_attributes = vec![0, 0]), AuditStatsError::Repeated { what: "group attribute", index: 0 });
    assert_eq!(with(&|s| s.group_attributes = vec![2]), AuditStatsError::Index { what: "group attribute", index: 2, features: 2 });
    assert_eq!(with(&|s| s.features = vec![]), AuditStatsError::NoFeatures);
    assert_eq!(with(&|s| s.features = vec![1, 5]), AuditStatsError::Index { what: "feature", index: 5, features: 2 });
    assert_eq!(with(&|s| s.features = vec![1, 1]), AuditStatsError::Repeated { what: "feature", index: 1 });
    assert_eq!(err(&l, &y, 2, &sp, &StatsSettings { ci: 0.0, ..d }), AuditStatsError::Ci(0.0));
    assert_eq!(err(&l, &y, 2, &sp, &StatsSettings { alpha: 2.0, ..d }), AuditStatsError::Alpha(2.0));
}

#[test]
fn the_bootstrap_is_seeded_and_off_at_zero_and_the_record_reads_back() {
    let r: Vec<_> = (0..60).map(|k| (k % 3 != 0, ((k * 17 % 23) as f32 - 11.0) * 0.25, (k * 7 % 5) < 2)).collect();
    let (l, y) = rows(&r);
    let data = AuditData { logits: &l, labels: &y, features: 2 };
    let s = StatsSettings { bootstrap: 200, seed: 11, ..Default::default() };
    let a = audit_statistics(&data, &spec(10), &s).unwrap();
    assert_eq!(a, audit_statistics(&data, &spec(10), &s).unwrap());
    let b = audit_statistics(&data, &spec(10), &StatsSettings { seed: 12, ..s }).unwrap();
    let (fa, fb) = (&a.features[0], &b.features[0]);
    assert_ne!(fa.by_group[1].auc.interval, fb.by_group[1].auc.interval);
    assert_eq!(fa.by_group[1].auc.estimate, fb.by_group[1].auc.estimate);
    assert_eq!(fa.by_group[1].tpr, fb.by_group[1].tpr, "Wilson needs no bootstrap");
    let i = fa.equalized_odds_difference.interval.unwrap();
    assert!(i.low < i.high && i.low >= 0.0);
    let off = audit_statistics(&data, &spec(10), &StatsSettings { bootstrap: 0, ..s }).unwrap();
    let fo = &off.features[0];
    assert!(fo.by_group.iter().all(|g| g.auc.interval.is_none() && g.auc.estimate.is_some() && g.tpr.interval.is_some()));
    assert!(fo.disparities.iter().all(|d| d.difference.interval.is_none() && d.difference.estimate.is_some()));

    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains("\"metric\":\"selection_rate\"") && json.contains("\"cell\":[]"), "{json}");
    for m in GroupMetric::ALL {
        assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{}\"", m.name()));
        assert_eq!(fa.disparity(m).metric, m);
    }
    let back: AuditStatistics = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::from_str::<serde_json::Value>(&json).unwrap());
    assert_eq!(back.groups, a.groups);
}
