//! The classifier audit's report: a typed, versioned record of one audit (what was audited
//! and how, the groups, every statistic of [`crate::stats::audit_statistics`], and the
//! probe's dependency rows it is read beside), serialised as JSON; the table, the CSVs
//! ([`views`]) and the plot's data ([`AuditReport::rate_plot`]) are views of it.
//!
//! Owns: what an audit report holds and how its views lay it out. Must not touch: running
//! the classifier or the probe, computing any statistic.

pub mod views;

use serde::{Deserialize, Serialize};

use crate::plots::rates::{RateFeature, RateGroup, RatePlot};
use crate::stats::{AuditStatistics, Estimate, FeatureAudit, GroupMetric, ProbeStatistics, RowSet};

/// What the JSON's `kind` says.
pub const KIND: &str = "gan-bias classifier audit";

/// Version of the JSON layout; bumped when a field changes meaning or goes away.
pub const VERSION: u32 = 1;

/// Features the plot shows when none are named: the largest equalized-odds differences.
pub const PLOT_FEATURES: usize = 10;

/// One audit, everything its outputs show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    pub kind: String,
    pub version: u32,
    pub settings: AuditSettings,
    /// The classifier's features; every index in `statistics` and `probe` is into this.
    pub features: Vec<String>,
    /// The name of each of `statistics.groups`: `all`, `Male=1`, `Male=1&Young=0`, ...
    pub groups: Vec<String>,
    pub statistics: AuditStatistics,
    /// The probe's dependency row of each group attribute that is one of the classifier's
    /// features, when a generator was probed; empty otherwise.
    pub probe: Vec<ProbeRow>,
    pub timings: AuditTimings,
}

/// What was audited, and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditSettings {
    /// Where the labelled images came from, in words.
    pub data: String,
    pub images: usize,
    pub classifier: String,
    pub classifier_sha256: String,
    /// What was changed in reading the classifier (a final Sigmoid dropped), where anything was.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classifier_notes: Vec<String>,
    /// The backend asked for (`auto`, `cpu`, `vulkan`, ...) and the adapter that ran.
    pub backend: String,
    pub adapter: String,
    pub threshold: f64,
    pub group_attributes: Vec<String>,
    pub min_group: usize,
    pub bootstrap: usize,
    pub bootstrap_seed: u64,
    pub ci: f64,
}

/// How long the audit took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditTimings {
    /// The classifier's forward passes over every image.
    pub classify_seconds: f64,
    pub images_per_second: f64,
    /// The statistics, bootstrap included.
    pub statistics_seconds: f64,
    /// The probe runs (0 when none ran).
    pub probe_seconds: f64,
}

/// The probe's dependency row of one target: how each feature's logit moves when the
/// generator's noise moves the target's (the pooled rows' dependency, as `probe` reports it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRow {
    pub target: usize,
    pub images: usize,
    pub steps: usize,
    /// The generator probed.
    pub generator: String,
    /// Where the starting noise came from: `seed N`.
    pub noise: String,
    /// Indexed by feature (the target's own entry included).
    pub dependency: Vec<Estimate>,
    /// Each feature's Benjamini–Hochberg q-value over the features (None for the target).
    pub q: Vec<Option<f64>>,
    /// A dependency is significant where its q is at most this.
    pub alpha: f64,
}

impl ProbeRow {
    /// Whether feature `i`'s dependency is significant: its q at most alpha.
    pub fn significant(&self, i: usize) -> bool {
        self.q[i].is_some_and(|q| q <= self.alpha)
    }

    /// The pooled dependency row of a probe's statistics.
    pub fn new(st: &ProbeStatistics, generator: &str, noise: &str) -> ProbeRow {
        let set = st.set(RowSet::Pooled);
        ProbeRow {
            target: st.target,
            images: st.images,
            steps: st.steps,
            generator: generator.to_string(),
            noise: noise.to_string(),
            dependency: set.features.iter().map(|m| m.dependency).collect(),
            q: set.features.iter().map(|m| m.test.as_ref().and_then(|t| t.q)).collect(),
            alpha: st.settings.alpha,
        }
    }
}

/// Why a report cannot be made of these parts.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuditReportError {
    #[error("feature index {index} is not one of the {features} named features")]
    Index { index: usize, features: usize },
    #[error("the probe row of {target} holds {found} features, not {features}")]
    ProbeRow { target: usize, found: usize, features: usize },
    #[error("cannot read the audit report: {0}")]
    Json(String),
    #[error("not a classifier audit report (kind {found:?}, version {version})")]
    Kind { found: String, version: u32 },
}

impl AuditReport {
    /// The report of `statistics` on the classifier features `features`, with the probe's
    /// rows beside it.
    pub fn new(
        settings: AuditSettings,
        features: Vec<String>,
        statistics: AuditStatistics,
        probe: Vec<ProbeRow>,
        timings: AuditTimings,
    ) -> Result<AuditReport, AuditReportError> {
        let f = features.len();
        let indices = statistics.group_attributes.iter().chain(statistics.features.iter().map(|a| &a.index));
        if let Some(&index) = indices.into_iter().find(|&&i| i >= f) {
            return Err(AuditReportError::Index { index, features: f });
        }
        if let Some(row) = probe.iter().find(|r| r.dependency.len() != f || r.q.len() != f || r.target >= f) {
            return Err(AuditReportError::ProbeRow { target: row.target, found: row.dependency.len(), features: f });
        }
        let groups = statistics.groups.iter().map(|g| g.name(&features)).collect();
        Ok(AuditReport { kind: KIND.to_string(), version: VERSION, settings, features, groups, statistics, probe, timings })
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an audit report serialises") + "\n"
    }

    /// A report read back from [`AuditReport::to_json`]'s text.
    pub fn from_json(text: &str) -> Result<AuditReport, AuditReportError> {
        let report: AuditReport = serde_json::from_str(text).map_err(|e| AuditReportError::Json(e.to_string()))?;
        if report.kind != KIND || report.version != VERSION {
            return Err(AuditReportError::Kind { found: report.kind, version: report.version });
        }
        Ok(report)
    }

    /// The measured features, largest equalized-odds difference first (undefined ones last,
    /// then by feature order).
    pub fn by_disparity(&self) -> Vec<&FeatureAudit> {
        let mut order: Vec<&FeatureAudit> = self.statistics.features.iter().collect();
        order.sort_by(|a, b| {
            let key = |x: &FeatureAudit| x.equalized_odds_difference.estimate.unwrap_or(f64::NEG_INFINITY);
            key(b).total_cmp(&key(a)).then(a.index.cmp(&b.index))
        });
        order
    }

    /// The measured feature of index `index`, if it was measured.
    pub fn feature(&self, index: usize) -> Option<&FeatureAudit> {
        self.statistics.features.iter().find(|a| a.index == index)
    }

    /// The plot's data: TPR and FPR per finest group of each of `chosen` (feature indices),
    /// or by default of the [`PLOT_FEATURES`] with the largest equalized-odds difference.
    /// A chosen feature that was not measured is left out.
    pub fn rate_plot(&self, chosen: Option<&[usize]>) -> RatePlot {
        let picked: Vec<&FeatureAudit> = match chosen {
            Some(list) => list.iter().filter_map(|&i| self.feature(i)).collect(),
            None => self.by_disparity().into_iter().take(PLOT_FEATURES).collect(),
        };
        let features = picked
            .into_iter()
            .map(|a| RateFeature {
                name: self.features[a.index].clone(),
                groups: self
                    .statistics
                    .finest()
                    .map(|g| RateGroup {
                        name: self.groups[g].clone(),
                        n: self.statistics.groups[g].n,
                        small: self.statistics.groups[g].small,
                        tpr: *a.by_group[g].metric(GroupMetric::Tpr),
                        fpr: *a.by_group[g].metric(GroupMetric::Fpr),
                    })
                    .collect(),
            })
            .collect();
        RatePlot { features, ci: self.settings.ci }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{AuditData, AuditSpec, StatsSettings, audit_statistics};

    /// Six images of three features (0 groups them), no bootstrap.
    fn report(probe: Vec<ProbeRow>) -> Result<AuditReport, AuditReportError> {
        let logits = [1.0, 2.0, -1.0, -1.0, -0.5, 0.5, 1.0, 0.2, 0.3, -1.0, -2.0, -3.0, 2.0, 1.0, 1.0, -0.1, 0.1, 0.0];
        let labels: Vec<bool> = logits.iter().map(|&v| v > 0.0).collect();
        let spec = AuditSpec { threshold: 0.0, group_attributes: vec![0], features: vec![1, 2], min_group: 4 };
        let settings = StatsSettings { bootstrap: 0, ..StatsSettings::default() };
        let statistics = audit_statistics(&AuditData { logits: &logits, labels: &labels, features: 3 }, &spec, &settings).unwrap();
        let names = vec!["g".to_string(), "a,b".to_string(), "c".to_string()];
        let settings = AuditSettings {
            data: "d".into(),
            images: 6,
            classifier: "c".into(),
            classifier_sha256: "00".into(),
            classifier_notes: Vec::new(),
            backend: "cpu".into(),
            adapter: "cpu".into(),
            threshold: 0.0,
            group_attributes: vec!["g".into()],
            min_group: 4,
            bootstrap: 0,
            bootstrap_seed: 0,
            ci: 0.95,
        };
        let timings = AuditTimings { classify_seconds: 1.0, images_per_second: 6.0, statistics_seconds: 0.0, probe_seconds: 0.0 };
        AuditReport::new(settings, names, statistics, probe, timings)
    }

    fn row(target: usize, features: usize) -> ProbeRow {
        let e = Estimate { estimate: Some(0.5), interval: None };
        ProbeRow {
            target,
            images: 2,
            steps: 1,
            generator: "g".into(),
            noise: "seed 0".into(),
            dependency: vec![e; features],
            q: vec![None; features],
            alpha: 0.05,
        }
    }

    #[test]
    fn names_groups_and_round_trips_through_json() {
        let r = report(vec![row(0, 3)]).unwrap();
        assert_eq!(r.groups, ["all", "g=1", "g=0"]);
        assert!(r.statistics.groups[1].small && r.statistics.groups[2].small);
        let back = AuditReport::from_json(&r.to_json()).unwrap();
        assert_eq!(back, r);
        let other = r.to_json().replace(KIND, "something else");
        assert!(matches!(AuditReport::from_json(&other), Err(AuditReportError::Kind { .. })));
        assert!(matches!(AuditReport::from_json("{"), Err(AuditReportError::Json(_))));
        // Names with a comma are quoted in both CSVs; the text marks the small groups.
        assert!(r.csv().lines().nth(1).unwrap().starts_with("\"a,b\",all,6,base_rate,"));
        assert!(r.leakage_csv().contains("\ng,\"a,b\","));
        assert!(r.text().contains("g=1 n=3*, g=0 n=3* (* fewer than 4 images"));
        assert_eq!(r.rate_plot(None).features.len(), 2);
        assert_eq!(r.rate_plot(Some(&[2, 0])).features.len(), 1, "an unmeasured feature is left out");
    }

    #[test]
    fn refuses_rows_that_do_not_fit_the_features() {
        assert_eq!(report(vec![row(0, 2)]).unwrap_err(), AuditReportError::ProbeRow { target: 0, found: 2, features: 3 });
        assert!(matches!(report(vec![row(3, 3)]), Err(AuditReportError::ProbeRow { .. })));
    }
}
