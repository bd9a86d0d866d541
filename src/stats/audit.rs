//! The classifier's own bias by group, in the manner of Fairlearn's `MetricFrame`, built by
//! one entry function, [`audit_statistics`].
//!
//! **Data.** N images, each with F logits and the F true labels (both N x F, row-major). A
//! feature is *predicted* on an image when its logit, as f64, is > the threshold (strictly).
//!
//! **Groups.** By the group attributes' *true* labels: with one attribute A the groups `A=1`
//! and `A=0`; with two, A and B, the four intersections `A=1&B=1`, `A=1&B=0`, `A=0&B=1`,
//! `A=0&B=0`: the *finest* groups. Besides them the overall group `all`. A group of fewer than
//! `min_group` images is reported like any other and marked `small`; it still takes part in
//! the disparities, as every group does in Fairlearn's. Groups are returned as structure
//! ([`GroupDef`]); [`GroupDef::name`] names them from the caller's feature names.
//!
//! **Metrics** of a feature in a group, with y the true label and pred the prediction:
//! `base_rate = P(y)`, `selection_rate = P(pred)`, `accuracy = P(pred = y)`,
//! `tpr = P(pred | y)` (recall), `fpr = P(pred | not y)`, `fnr = P(not pred | y)`,
//! `tnr = P(not pred | not y)`, `ppv = P(y | pred)` (precision), and `auc`, the ROC AUC of the
//! logit as a score: the Mann–Whitney `U / (n1 n0)`, a tie between a positive and a negative
//! counting a half. Each is None where its denominator is 0 (unlike scikit-learn, which
//! reports 0 there). Every proportion has its Wilson score interval at level ci (as
//! [`Proportion::wilson`]); the AUC has a bootstrap interval.
//!
//! **Disparities** over the finest groups, as Fairlearn's `MetricFrame.difference()`
//! (`method="between_groups"`) and `.ratio()`: for each metric `difference = max - min` and
//! `ratio = min / max` over the groups where the metric is defined; a group where it is not
//! is skipped for that metric, and with fewer than two defined groups (or, for the ratio, a
//! max of 0) the disparity is None. Fairlearn instead counts an undefined rate as 0. Named:
//! `demographic_parity_difference` (of the selection rate), `equal_opportunity_difference` (of
//! the TPR), `equalized_odds_difference = max(TPR difference, FPR difference)`, None unless
//! both are defined.
//!
//! **Bootstrap.** The scheme of [`bootstrap`](super::bootstrap): B resamples of the N images
//! with replacement, drawn by SplitMix64 from the seed as integer weights, shared by every
//! feature; each recomputes the groups from the resampled images and every AUC and disparity;
//! percentile intervals (Hyndman–Fan 8). An interval is None when B is 0, when the estimate is
//! undefined, or when some resample leaves the statistic undefined.
//!
//! **Leakage** of group attribute t into feature a (each group attribute on its own, t = 1
//! against t = 0, by true labels): `fp_gap = P(pred a | a = 0, t = 1) - P(pred a | a = 0, t = 0)`
//! and `fn_gap = P(not pred a | a = 1, t = 1) - P(not pred a | a = 1, t = 0)`, each with
//! Newcombe's hybrid score interval for a difference of proportions (his method 10, from the
//! two Wilson intervals, as [`newcombe_difference`]); None when either side is empty.
//!
//! Cost: one sort per measured feature, then `O(N)` per feature and resample.
//!
//! Owns: the audit's entry point, its inputs, errors and definitions. Must not touch: the
//! backend, the probe, the command line, the report.

use super::audit_engine::Engine;
pub use super::audit_results::{
    AttributeValue, AuditStatistics, Confusion, Disparity, FeatureAudit, GroupDef, GroupMetric, GroupMetrics, Leakage,
};
use super::bootstrap::percentile_interval;
use super::probe_stats::{ProbeStatsError, check_settings, finite};
use super::{Estimate, Interval, Proportion, StatsSettings, newcombe_difference, normal_quantile};

/// The audited images: `logits` and `labels` are both `images x features`, row-major.
#[derive(Debug, Clone, Copy)]
pub struct AuditData<'a> {
    pub logits: &'a [f32],
    pub labels: &'a [bool],
    /// F, the features per image.
    pub features: usize,
}

/// What the audit measures.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditSpec {
    /// A feature is predicted when its logit is > this (finite).
    pub threshold: f64,
    /// One or two distinct feature indices that define the groups.
    pub group_attributes: Vec<usize>,
    /// The distinct feature indices to measure, at least one.
    pub features: Vec<usize>,
    /// Groups of fewer images are marked small.
    pub min_group: usize,
}

/// Why the audit cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuditStatsError {
    #[error("the audit needs at least one image and feature ({images} images, {features} features)")]
    Empty { images: usize, features: usize },
    #[error("the logits hold {len} values, which is not a multiple of {features} features")]
    LogitShape { len: usize, features: usize },
    #[error("the labels hold {len} values, but {images} images x {features} features need {expected}")]
    LabelShape { len: usize, images: usize, features: usize, expected: usize },
    #[error("{images} images are more than the audit can index")]
    TooManyImages { images: usize },
    #[error("the logits hold a non-finite value at index {index}")]
    NonFinite { index: usize },
    #[error("the threshold must be finite, not {0}")]
    Threshold(f64),
    #[error("the audit groups by one or two attributes, not {0}")]
    GroupCount(usize),
    #[error("at least one feature must be measured")]
    NoFeatures,
    #[error("{what} {index} is not one of the {features} features")]
    Index { what: &'static str, index: usize, features: usize },
    #[error("{what} {index} is given twice")]
    Repeated { what: &'static str, index: usize },
    #[error("the interval level must lie strictly between 0 and 1, not {0}")]
    Ci(f64),
    #[error("alpha must lie in [0, 1], not {0}")]
    Alpha(f64),
}

/// Refuses an index of `what` at or past `f`, or one given twice.
fn check_indices(indices: &[usize], f: usize, what: &'static str) -> Result<(), AuditStatsError> {
    for (k, &index) in indices.iter().enumerate() {
        if index >= f {
            return Err(AuditStatsError::Index { what, index, features: f });
        }
        if indices[..k].contains(&index) {
            return Err(AuditStatsError::Repeated { what, index });
        }
    }
    Ok(())
}

/// The number of images, once every input is checked.
fn check(data: &AuditData<'_>, spec: &AuditSpec, settings: &StatsSettings) -> Result<usize, AuditStatsError> {
    let f = data.features;
    if f == 0 {
        return Err(AuditStatsError::Empty { images: 0, features: 0 });
    }
    if data.logits.len() % f != 0 {
        return Err(AuditStatsError::LogitShape { len: data.logits.len(), features: f });
    }
    let n = data.logits.len() / f;
    if n == 0 {
        return Err(AuditStatsError::Empty { images: 0, features: f });
    }
    if data.labels.len() != n * f {
        return Err(AuditStatsError::LabelShape { len: data.labels.len(), images: n, features: f, expected: n * f });
    }
    if u32::try_from(n).is_err() {
        return Err(AuditStatsError::TooManyImages { images: n });
    }
    if let Some(index) = data.logits.iter().position(|v| !v.is_finite()) {
        return Err(AuditStatsError::NonFinite { index });
    }
    if !spec.threshold.is_finite() {
        return Err(AuditStatsError::Threshold(spec.threshold));
    }
    if !(1..=2).contains(&spec.group_attributes.len()) {
        return Err(AuditStatsError::GroupCount(spec.group_attributes.len()));
    }
    check_indices(&spec.group_attributes, f, "group attribute")?;
    if spec.features.is_empty() {
        return Err(AuditStatsError::NoFeatures);
    }
    check_indices(&spec.features, f, "feature")?;
    check_settings(settings).map_err(|e| match e {
        ProbeStatsError::Alpha(a) => AuditStatsError::Alpha(a),
        _ => AuditStatsError::Ci(settings.ci),
    })?;
    Ok(n)
}

/// The estimate and Wilson interval of `count / total`.
fn wilson(count: u64, total: u64, z: f64) -> Estimate {
    let p = Proportion::wilson(count as usize, total as usize, z);
    Estimate { estimate: p.estimate, interval: p.interval }
}

/// A difference of two proportions with Newcombe's interval.
fn newcombe(p1: &Proportion, p0: &Proportion) -> Estimate {
    match newcombe_difference(p1, p0) {
        Some((gap, interval)) => Estimate { estimate: Some(gap), interval: Some(interval) },
        None => Estimate { estimate: None, interval: None },
    }
}

/// The classifier audit of `data` (see the module's documentation for every definition).
///
/// Cost: one sort per measured feature, then `B x N` per measured feature for the bootstrap
/// (and N draws per resample).
pub fn audit_statistics(data: &AuditData<'_>, spec: &AuditSpec, settings: &StatsSettings) -> Result<AuditStatistics, AuditStatsError> {
    let n = check(data, spec, settings)?;
    let (f, attrs) = (data.features, &spec.group_attributes);
    let label = |j: usize, a: usize| data.labels[j * f + a];
    let predicted = |j: usize, a: usize| f64::from(data.logits[j * f + a]) > spec.threshold;
    let z = normal_quantile(0.5 + settings.ci / 2.0);

    // Finest group g of an image: bit (k from the last) set when attribute k's label is 0, so
    // the order is A=1&B=1, A=1&B=0, A=0&B=1, A=0&B=0.
    let finest = 1usize << attrs.len();
    let group_of: Vec<u8> = (0..n).map(|j| attrs.iter().fold(0u8, |g, &t| 2 * g + u8::from(!label(j, t)))).collect();
    let mut sizes = vec![0usize; finest];
    group_of.iter().for_each(|&g| sizes[usize::from(g)] += 1);
    let group = |cell: Vec<AttributeValue>, size: usize| GroupDef { cell, n: size, small: size < spec.min_group };
    let mut groups = vec![group(Vec::new(), n)];
    for (g, &size) in sizes.iter().enumerate() {
        let cell = attrs.iter().enumerate().map(|(k, &t)| AttributeValue { attribute: t, value: (g >> (attrs.len() - 1 - k)) & 1 == 0 });
        groups.push(group(cell.collect(), size));
    }

    let engine = Engine::new(data.logits, data.labels, f, spec.threshold, &group_of, finest, &spec.features);
    let (b, len) = (settings.bootstrap, engine.len());
    let reps = if b > 0 { engine.bootstrap(b, settings.seed) } else { Vec::new() };
    let ones = vec![1u32; n];

    let features = (0..spec.features.len())
        .map(|k| {
            let sums = engine.sums(k, &ones);
            let mut point = vec![0.0; len];
            engine.statistics(&sums, &mut point);
            let estimate = |s: usize| Estimate {
                estimate: finite(point[s]),
                interval: if b > 0 && !point[s].is_nan() {
                    percentile_interval(&reps[(k * len + s) * b..(k * len + s + 1) * b], settings.ci)
                        .map(|(low, high)| Interval { low, high })
                } else {
                    None
                },
            };
            let by_group: Vec<GroupMetrics> = (0..engine.groups())
                .map(|slot| {
                    let [tn, fp, fneg, tp] = sums.counts(slot, finest);
                    let (all, pos, neg) = (tn + fp + fneg + tp, tp + fneg, tn + fp);
                    GroupMetrics {
                        group: slot,
                        confusion: Confusion {
                            true_positives: tp as usize,
                            false_positives: fp as usize,
                            false_negatives: fneg as usize,
                            true_negatives: tn as usize,
                        },
                        base_rate: wilson(pos, all, z),
                        selection_rate: wilson(tp + fp, all, z),
                        accuracy: wilson(tp + tn, all, z),
                        tpr: wilson(tp, pos, z),
                        fpr: wilson(fp, neg, z),
                        fnr: wilson(fneg, pos, z),
                        tnr: wilson(tn, neg, z),
                        ppv: wilson(tp, tp + fp, z),
                        auc: estimate(engine.auc_at(slot)),
                    }
                })
                .collect();
            let disparities = GroupMetric::ALL
                .map(|m| Disparity {
                    metric: m,
                    defined_groups: by_group[1..].iter().filter(|g| g.metric(m).estimate.is_some()).count(),
                    difference: estimate(engine.difference_at(m)),
                    ratio: estimate(engine.ratio_at(m)),
                })
                .to_vec();
            FeatureAudit {
                index: spec.features[k],
                by_group,
                disparities,
                demographic_parity_difference: estimate(engine.difference_at(GroupMetric::SelectionRate)),
                equal_opportunity_difference: estimate(engine.difference_at(GroupMetric::Tpr)),
                equalized_odds_difference: estimate(engine.equalized_odds_at()),
            }
        })
        .collect();

    let mut leakage = Vec::new();
    for &a in &spec.features {
        for &t in attrs {
            // Among the images whose label a is `y`: those with t = `tv` and those of them whose
            // prediction of a is not y (a false positive for y = 0, a false negative for y = 1).
            let rate = |y: bool, tv: bool| {
                let (mut k, mut total) = (0, 0);
                for j in (0..n).filter(|&j| label(j, a) == y && label(j, t) == tv) {
                    total += 1;
                    k += usize::from(predicted(j, a) != y);
                }
                Proportion::wilson(k, total, z)
            };
            let (fpr_t1, fpr_t0, fnr_t1, fnr_t0) = (rate(false, true), rate(false, false), rate(true, true), rate(true, false));
            let (fp_gap, fn_gap) = (newcombe(&fpr_t1, &fpr_t0), newcombe(&fnr_t1, &fnr_t0));
            leakage.push(Leakage { group_attribute: t, feature: a, fpr_t1, fpr_t0, fnr_t1, fnr_t0, fp_gap, fn_gap });
        }
    }

    Ok(AuditStatistics {
        settings: *settings,
        threshold: spec.threshold,
        images: n,
        min_group: spec.min_group,
        group_attributes: attrs.clone(),
        groups,
        features,
        leakage,
    })
}

#[cfg(test)]
mod tests {
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
        let ties: Vec<_> = (0..10).map(|k| (k % 2 == 0, 0.25, k % 3 == 0)).collect();
        let (l, y) = rows(&ties);
        let st = audit(&l, &y, &spec(0), 50);
        assert!(st.features[0].by_group.iter().all(|g| g.auc.estimate == Some(0.5)), "{:?}", st.features[0].by_group);
        let perfect: Vec<_> = (0..10).map(|k| (k < 5, if k % 2 == 0 { k as f32 + 1.0 } else { -(k as f32) }, k % 2 == 0)).collect();
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
        let ab = |j: usize| if j == 0 { (false, true) } else { (j % 3 == 0, j % 2 == 0) };
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
}
