//! The typed results of the classifier audit ([`super::audit_statistics`]): the groups, each
//! feature's metrics by group and their disparities, and the leakage gaps. Data only; every
//! definition is in [`audit`](super::audit)'s documentation.
//!
//! Owns: the audit's result types and the metric names. Must not touch: any computation.

use serde::{Deserialize, Serialize};

use super::{Estimate, Proportion, StatsSettings};

/// One metric of a group, for choosing one (a column, a disparity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupMetric {
    /// `P(y = 1)`.
    BaseRate,
    /// `P(pred = 1)`.
    SelectionRate,
    /// `P(pred = y)`.
    Accuracy,
    /// `P(pred = 1 | y = 1)`, the recall.
    Tpr,
    /// `P(pred = 1 | y = 0)`.
    Fpr,
    /// `P(pred = 0 | y = 1)`.
    Fnr,
    /// `P(pred = 0 | y = 0)`.
    Tnr,
    /// `P(y = 1 | pred = 1)`, the precision.
    Ppv,
    /// The ROC AUC of the logit.
    Auc,
}

impl GroupMetric {
    pub const ALL: [GroupMetric; 9] = [
        GroupMetric::BaseRate,
        GroupMetric::SelectionRate,
        GroupMetric::Accuracy,
        GroupMetric::Tpr,
        GroupMetric::Fpr,
        GroupMetric::Fnr,
        GroupMetric::Tnr,
        GroupMetric::Ppv,
        GroupMetric::Auc,
    ];

    /// Its snake-case name, as serialised.
    pub fn name(self) -> &'static str {
        match self {
            GroupMetric::BaseRate => "base_rate",
            GroupMetric::SelectionRate => "selection_rate",
            GroupMetric::Accuracy => "accuracy",
            GroupMetric::Tpr => "tpr",
            GroupMetric::Fpr => "fpr",
            GroupMetric::Fnr => "fnr",
            GroupMetric::Tnr => "tnr",
            GroupMetric::Ppv => "ppv",
            GroupMetric::Auc => "auc",
        }
    }

    /// Its place in [`GroupMetric::ALL`].
    pub fn position(self) -> usize {
        self as usize
    }

    /// Whether it is a share of images (every metric but the AUC), with a Wilson interval.
    pub fn is_proportion(self) -> bool {
        self != GroupMetric::Auc
    }
}

/// One group attribute's true label in a group's definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeValue {
    /// The attribute's feature index.
    pub attribute: usize,
    pub value: bool,
}

/// A group of images, by the true labels of the group attributes; the names are left to the
/// caller, who knows the features' names ([`GroupDef::name`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDef {
    /// The attribute values every image of the group has, in the order the group attributes
    /// were given; empty for the overall group `all`.
    pub cell: Vec<AttributeValue>,
    /// The images in it.
    pub n: usize,
    /// `n < min_group`: reported, but to be read with care.
    pub small: bool,
}

impl GroupDef {
    /// Whether it is the overall group.
    pub fn is_all(&self) -> bool {
        self.cell.is_empty()
    }

    /// `all`, or its values joined by `&`, e.g. `Male=1&Young=0`, with the attributes named by
    /// `names[attribute]`.
    ///
    /// # Panics
    /// When an attribute index is not below `names.len()`.
    pub fn name<S: AsRef<str>>(&self, names: &[S]) -> String {
        if self.is_all() {
            return "all".to_string();
        }
        let parts: Vec<String> = self.cell.iter().map(|v| format!("{}={}", names[v.attribute].as_ref(), u8::from(v.value))).collect();
        parts.join("&")
    }
}

/// A group's confusion counts for one feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub true_negatives: usize,
}

impl Confusion {
    /// The images counted.
    pub fn total(&self) -> usize {
        self.true_positives + self.false_positives + self.false_negatives + self.true_negatives
    }
}

/// One feature's metrics in one group: each proportion with its Wilson interval, the AUC with
/// its bootstrap interval; an estimate is None where its denominator is 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupMetrics {
    /// The group, an index into [`AuditStatistics::groups`].
    pub group: usize,
    pub confusion: Confusion,
    pub base_rate: Estimate,
    pub selection_rate: Estimate,
    pub accuracy: Estimate,
    pub tpr: Estimate,
    pub fpr: Estimate,
    pub fnr: Estimate,
    pub tnr: Estimate,
    pub ppv: Estimate,
    pub auc: Estimate,
}

impl GroupMetrics {
    pub fn metric(&self, metric: GroupMetric) -> &Estimate {
        match metric {
            GroupMetric::BaseRate => &self.base_rate,
            GroupMetric::SelectionRate => &self.selection_rate,
            GroupMetric::Accuracy => &self.accuracy,
            GroupMetric::Tpr => &self.tpr,
            GroupMetric::Fpr => &self.fpr,
            GroupMetric::Fnr => &self.fnr,
            GroupMetric::Tnr => &self.tnr,
            GroupMetric::Ppv => &self.ppv,
            GroupMetric::Auc => &self.auc,
        }
    }
}

/// One metric's disparity over the finest groups, with bootstrap intervals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disparity {
    pub metric: GroupMetric,
    /// The finest groups where the metric is defined (the others are skipped).
    pub defined_groups: usize,
    /// Max - min over those groups.
    pub difference: Estimate,
    /// Min / max over those groups.
    pub ratio: Estimate,
}

/// Everything the audit reports of one measured feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureAudit {
    /// The feature's index.
    pub index: usize,
    /// Its metrics in every group, in the order of [`AuditStatistics::groups`] (`all` first).
    pub by_group: Vec<GroupMetrics>,
    /// Every metric's disparity, in the order of [`GroupMetric::ALL`].
    pub disparities: Vec<Disparity>,
    /// The selection rate's difference.
    pub demographic_parity_difference: Estimate,
    /// The TPR's difference.
    pub equal_opportunity_difference: Estimate,
    /// The larger of the TPR's and the FPR's differences.
    pub equalized_odds_difference: Estimate,
}

impl FeatureAudit {
    pub fn disparity(&self, metric: GroupMetric) -> &Disparity {
        &self.disparities[metric.position()]
    }
}

/// How a group attribute t leaks into the errors on a feature a: the gaps in its false
/// positive and false negative rates between the images with t = 1 and those with t = 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leakage {
    /// t, a feature index.
    pub group_attribute: usize,
    /// a, a feature index.
    pub feature: usize,
    /// `P(pred a | a = 0, t = 1)`.
    pub fpr_t1: Proportion,
    /// `P(pred a | a = 0, t = 0)`.
    pub fpr_t0: Proportion,
    /// `P(not pred a | a = 1, t = 1)`.
    pub fnr_t1: Proportion,
    /// `P(not pred a | a = 1, t = 0)`.
    pub fnr_t0: Proportion,
    /// `fpr_t1 - fpr_t0`, with Newcombe's hybrid score interval.
    pub fp_gap: Estimate,
    /// `fnr_t1 - fnr_t0`, with Newcombe's hybrid score interval.
    pub fn_gap: Estimate,
}

/// Everything [`audit_statistics`](super::audit_statistics) reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditStatistics {
    pub settings: StatsSettings,
    /// A feature is predicted when its logit is > this.
    pub threshold: f64,
    /// N, the images audited.
    pub images: usize,
    pub min_group: usize,
    /// The group attributes' feature indices, as given.
    pub group_attributes: Vec<usize>,
    /// `all`, then the finest groups: `A=1`, `A=0` for one attribute; `A=1&B=1`, `A=1&B=0`,
    /// `A=0&B=1`, `A=0&B=0` for two.
    pub groups: Vec<GroupDef>,
    /// The measured features, as given.
    pub features: Vec<FeatureAudit>,
    /// For each measured feature in turn, one entry per group attribute.
    pub leakage: Vec<Leakage>,
}

impl AuditStatistics {
    /// The finest groups (every group but `all`), as indices into `groups`.
    pub fn finest(&self) -> std::ops::Range<usize> {
        1..self.groups.len()
    }
}
