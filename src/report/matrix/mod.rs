//! The directed dependency matrix of many targets: row t is the target moved, column i the
//! attribute that responds. A typed, versioned record ([`MatrixReport`]) holding every
//! target's full statistics, and its views: the cells (one per target and other feature,
//! with q-values over every off-diagonal cell), the CSV, the JSON, the heatmap's data and
//! the printed summary ([`summary`]). Parts of a sharded run are the same record with their
//! shard named; [`merge`] joins them.
//!
//! Owns: what a matrix report holds and how its views lay it out. Must not touch: running
//! the probe, how a statistic is computed ([`crate::stats`]).

pub mod agreement;
pub mod grade;
pub mod merge;
mod settings;
pub mod summary;

pub use settings::{MatrixSettings, Method, ModelId, RunRecord, Shard, settings, sha256_hex};

use serde::{Deserialize, Serialize};

use super::probe::{Means, ProbeReportError, outcome_statistics};
use super::statistics::{TopRow, feature_row};
use crate::plots::DirectedMatrix;
use crate::probe::ProbeOutcome;
use crate::stats::{self, Estimate, FeatureMetrics, FirstOrderRow, Metric, ProbeStatistics, RowSet, StatsSettings};

/// Version of the matrix JSON; bumped when a field changes meaning or goes away.
pub const VERSION: u32 = 1;

/// What the file is, so a part of something else is refused by name.
pub const KIND: &str = "gan-bias dependency matrix";

/// One target's statistics, by method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "kebab-case")]
pub enum RowStatistics {
    /// Every metric of the pooled, up and down rows, as a single `--feature` run reports them.
    Exact(Box<ProbeStatistics>),
    FirstOrder(Box<FirstOrderRow>),
}

/// One row of the matrix: a target and its statistics against every feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetRow {
    pub target: usize,
    pub feature: String,
    /// The probe's own covariance of the target with every feature over the pooled rows (as a
    /// single run's table shows it); exact only.
    pub covariance: Option<Vec<f32>>,
    /// The target's mean logit at the start and at the last step each way; exact only.
    pub target_logit_mean: Option<Means>,
    pub statistics: RowStatistics,
}

impl TargetRow {
    /// The row of an exact probe's outcome (it must hold its changes).
    pub fn exact(outcome: &ProbeOutcome, names: &[String], settings: &StatsSettings) -> Result<TargetRow, ProbeReportError> {
        let (f, t) = (names.len(), outcome.target);
        let st = outcome_statistics(outcome, f, settings)?;
        Ok(TargetRow {
            target: t,
            feature: names[t].clone(),
            covariance: Some(outcome.cov[t * f..(t + 1) * f].to_vec()),
            target_logit_mean: Some(Means {
                start: outcome.start_mean,
                last_step_up: outcome.end_mean_up,
                last_step_down: outcome.end_mean_down,
            }),
            statistics: RowStatistics::Exact(Box::new(st)),
        })
    }

    /// The row of a first-order row's statistics.
    pub fn first_order(row: FirstOrderRow, names: &[String]) -> TargetRow {
        TargetRow {
            target: row.target,
            feature: names[row.target].clone(),
            covariance: None,
            target_logit_mean: None,
            statistics: RowStatistics::FirstOrder(Box::new(row)),
        }
    }

    /// Every feature's metrics (the target's own included) over the rows of `set` (exact;
    /// first-order has one set).
    pub fn features(&self, set: RowSet) -> &[FeatureMetrics] {
        match &self.statistics {
            RowStatistics::Exact(st) => &st.set(set).features,
            RowStatistics::FirstOrder(r) => &r.features,
        }
    }

    /// Mean and max |dependency| over the other features (StyleSpace's mean-AD and max-AD, in
    /// this project's units).
    pub fn dependency_summary(&self, set: RowSet) -> (Estimate, Estimate) {
        match &self.statistics {
            RowStatistics::Exact(st) => (st.set(set).mean_abs_dependency, st.set(set).max_abs_dependency),
            RowStatistics::FirstOrder(r) => (r.mean_abs_dependency, r.max_abs_dependency),
        }
    }

    /// The covariance of the cell of feature `i` as a single run shows it: the probe's own
    /// over the pooled rows, the set's estimate otherwise, none for first-order.
    fn covariance_of(&self, set: RowSet, i: usize) -> Option<f32> {
        match (&self.statistics, &self.covariance) {
            (RowStatistics::Exact(_), Some(c)) if set == RowSet::Pooled => Some(c[i]),
            (RowStatistics::Exact(_), _) => self.features(set)[i].covariance.estimate.map(|c| c as f32),
            _ => None,
        }
    }
}

/// One cell of the matrix: target `target` moved, feature `index` responding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub target: String,
    pub target_index: usize,
    pub feature: String,
    pub index: usize,
    pub covariance: Option<f32>,
    pub correlation: Option<f64>,
    pub slope: Option<f64>,
    pub dependency: Option<f64>,
    /// The interval of the ranking's metric.
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub p: Option<f64>,
    /// Benjamini–Hochberg over every off-diagonal cell of the matrix.
    pub q: Option<f64>,
    pub significant: bool,
}

impl Cell {
    /// The value of `metric`.
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Covariance => self.covariance.map(f64::from),
            Metric::Correlation => self.correlation,
            Metric::Slope => self.slope,
            Metric::Dependency => self.dependency,
        }
    }
}

/// The matrix: settings, the runs that made it, and every target's row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatrixReport {
    pub version: u32,
    pub kind: String,
    pub settings: MatrixSettings,
    /// Which part this is; None for a whole matrix.
    pub shard: Option<Shard>,
    pub runs: Vec<RunRecord>,
    pub features: Vec<String>,
    /// One per target held, in the order of `settings.targets`.
    pub rows: Vec<TargetRow>,
    /// Every off-diagonal cell of the rows held, q over all of them (a view of `rows`,
    /// recomputed whenever rows are joined).
    pub cells: Vec<Cell>,
}

impl MatrixReport {
    /// The report of `rows` (in the order of the targets they were run for).
    pub fn new(
        settings: MatrixSettings,
        shard: Option<Shard>,
        run: RunRecord,
        features: Vec<String>,
        rows: Vec<TargetRow>,
    ) -> MatrixReport {
        let mut report =
            MatrixReport { version: VERSION, kind: KIND.into(), settings, shard, runs: vec![run], features, rows, cells: Vec::new() };
        report.cells = report.compute_cells();
        report
    }

    /// The first index or length in a report read from a file that does not fit its features
    /// (a hand-edited or truncated part), in words; None when every one fits.
    pub fn misfit(&self) -> Option<String> {
        let f = self.features.len();
        let mut seen = std::collections::HashSet::new();
        if let Some(&t) = self.settings.targets.iter().find(|&&t| t >= f || !seen.insert(t)) {
            return Some(format!("settings list target {t} twice or beyond its {f} features"));
        }
        if let Some(s) = self.shard.filter(|s| s.count == 0 || s.index >= s.count) {
            return Some(format!("names shard {}/{}, which does not exist", s.index, s.count));
        }
        let mut held = std::collections::HashSet::new();
        for row in &self.rows {
            if row.target >= f || self.features[row.target] != row.feature {
                return Some(format!("holds a row for {:?} (target {}) that is not one of its features", row.feature, row.target));
            }
            if !held.insert(row.target) {
                return Some(format!("holds two rows for target {}", row.feature));
            }
            let sets: Vec<&[FeatureMetrics]> = match &row.statistics {
                RowStatistics::Exact(st) => {
                    if st.sigma.len() != f || st.target != row.target {
                        return Some(format!("its row for {} has statistics of another shape", row.feature));
                    }
                    [RowSet::Pooled, RowSet::Up, RowSet::Down].iter().map(|&set| &st.set(set).features[..]).collect()
                }
                RowStatistics::FirstOrder(r) => vec![&r.features[..]],
            };
            let bad_set = sets.iter().any(|ms| ms.len() != f || ms.iter().enumerate().any(|(i, m)| m.index != i));
            if bad_set || row.covariance.as_ref().is_some_and(|c| c.len() != f) {
                return Some(format!("its row for {} does not hold one value per feature ({f})", row.feature));
            }
        }
        None
    }

    /// Every off-diagonal cell, row by row in target order, features in index order; q by
    /// Benjamini–Hochberg over all their p-values; significant where q <= alpha.
    pub fn compute_cells(&self) -> Vec<Cell> {
        let s = &self.settings;
        let (set, metric) = (s.direction, s.rank_by);
        let mut cells: Vec<Cell> = Vec::new();
        for row in &self.rows {
            for m in row.features(set).iter().filter(|m| m.index != row.target) {
                let covariance = row.covariance_of(set, m.index);
                let r: TopRow = feature_row(0, &self.features[m.index], covariance, m, metric);
                cells.push(Cell {
                    target: row.feature.clone(),
                    target_index: row.target,
                    feature: r.feature,
                    index: r.index,
                    covariance,
                    correlation: r.correlation,
                    slope: r.slope,
                    dependency: r.dependency,
                    ci_low: r.ci_low,
                    ci_high: r.ci_high,
                    p: r.p,
                    q: None,
                    significant: false,
                });
            }
        }
        let q = stats::benjamini_hochberg(&cells.iter().map(|c| c.p).collect::<Vec<_>>());
        for (c, q) in cells.iter_mut().zip(q) {
            c.q = q;
            c.significant = q.is_some_and(|q| q <= s.statistics.alpha);
        }
        cells
    }

    /// The cell of target `t` and feature `i`, when the matrix holds it.
    pub fn cell(&self, t: usize, i: usize) -> Option<&Cell> {
        self.cells.iter().find(|c| c.target_index == t && c.index == i)
    }

    /// The CSV of every cell: `target,feature,covariance,correlation,slope,dependency,ci_low,
    /// ci_high,p,q`; an undefined value is an empty field.
    pub fn matrix_csv(&self) -> String {
        let mut s = String::from("target,feature,covariance,correlation,slope,dependency,ci_low,ci_high,p,q\n");
        let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        for c in &self.cells {
            s.push_str(&format!(
                "{},{},{},{},{},{},{},{},{},{}\n",
                super::csv_field(&c.target),
                super::csv_field(&c.feature),
                c.covariance.map(|v| v.to_string()).unwrap_or_default(),
                opt(c.correlation),
                opt(c.slope),
                opt(c.dependency),
                opt(c.ci_low),
                opt(c.ci_high),
                opt(c.p),
                opt(c.q)
            ));
        }
        s
    }

    /// The report as pretty JSON, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a matrix report always serialises");
        s.push('\n');
        s
    }

    /// The directed matrix of the ranking's metric for the heatmap: rows the targets held,
    /// columns every feature.
    pub fn directed(&self) -> DirectedMatrix {
        let f = self.features.len();
        let metric = self.settings.rank_by;
        let mut values = vec![None; self.rows.len() * f];
        let mut significant = vec![false; self.rows.len() * f];
        let at: std::collections::HashMap<usize, usize> = self.rows.iter().enumerate().map(|(r, row)| (row.target, r)).collect();
        for c in &self.cells {
            let k = at[&c.target_index] * f + c.index;
            values[k] = c.metric(metric);
            significant[k] = c.significant;
        }
        DirectedMatrix {
            rows: self.rows.iter().map(|r| r.target).collect(),
            names: self.features.clone(),
            values,
            significant,
            metric: metric_label(metric, self.settings.method),
        }
    }

    /// Seconds of every run together.
    pub fn seconds(&self) -> f64 {
        self.runs.iter().map(|r| r.seconds).sum()
    }
}

/// How the heatmap names its metric: `dependency (exact)`.
pub fn metric_label(metric: Metric, method: Method) -> String {
    format!("{} ({})", metric.name(), method.name())
}
