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
//! counting a half. Each is None where its denominator is 0 (scikit-learn's and Fairlearn's
//! rate functions report 0 there, and `roc_auc_score` NaN). Every proportion has its Wilson
//! score interval at level ci (as [`Proportion::wilson`]); the AUC has a bootstrap interval.
//!
//! **Disparities** over the finest groups, as Fairlearn's `MetricFrame.difference()`
//! (`method="between_groups"`) and `.ratio()`: for each metric `difference = max - min` and
//! `ratio = min / max` over the groups where the metric is defined; a group where it is not
//! is skipped for that metric, and with fewer than two defined groups (or, for the ratio, a
//! max of 0) the disparity is None, where Fairlearn would take an undefined rate as 0. Named:
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
    if !data.logits.len().is_multiple_of(f) {
        return Err(AuditStatsError::LogitShape { len: data.logits.len(), features: f });
    }
    let n = data.logits.len() / f;
    if n == 0 {
        return Err(AuditStatsError::Empty { images: 0, features: f });
    }
    if data.labels.len() != n * f {
        return Err(AuditStatsError::LabelShape { len: data.labels.len(), images: n, features: f, expected: n * f });
    }
    if n > 1 << 30 {
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
/// Cost: one sort per measured feature, then for the bootstrap N draws per resample and, per
/// resample and measured feature, one step per image in `all` and one in its finest group
/// (and one more for an image whose logit is tied).
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
                    let [tn, fp, fneg, tp] = sums[slot].counts;
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
#[path = "audit_tests.rs"]
mod tests;
