//! The typed results of the probe's statistics ([`super::probe_statistics`]): estimates with
//! their intervals, the metrics and test of each feature, a row set's metrics, and the whole
//! serialisable record. Data only; every definition is where it is computed.
//!
//! Owns: the result types. Must not touch: any computation.

use serde::{Deserialize, Serialize};

use super::StatsSettings;
use super::observational::Observational;

/// A closed interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// Whether `v` lies in it.
    pub fn contains(&self, v: f64) -> bool {
        self.low <= v && v <= self.high
    }

    /// Whether it lies wholly on one side of 0.
    pub fn excludes_zero(&self) -> bool {
        self.low > 0.0 || self.high < 0.0
    }
}

/// A statistic's value on the images and its cluster-bootstrap percentile interval; the
/// estimate is None where the statistic is undefined, the interval None when the bootstrap is
/// off or the statistic is undefined on some resample.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub estimate: Option<f64>,
    pub interval: Option<Interval>,
}

/// The four metrics, for choosing one (the ranking, the CSV's interval).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    Covariance,
    Correlation,
    Slope,
    Dependency,
}

/// The rows a metric is computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowSet {
    /// Both directions' rows, 2S per image (the notebook's covariance).
    Pooled,
    /// The S rows per image up the target's gradient.
    Up,
    /// The S rows per image down it.
    Down,
}

impl RowSet {
    pub const ALL: [RowSet; 3] = [RowSet::Pooled, RowSet::Up, RowSet::Down];

    /// Its lower-case name, as serialised.
    pub fn name(self) -> &'static str {
        match self {
            RowSet::Pooled => "pooled",
            RowSet::Up => "up",
            RowSet::Down => "down",
        }
    }
}

/// The test of "feature i does not move with the target" in one row set (see
/// [`significance`](super::significance)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureTest {
    /// The images with a slope, m; the test's df is m - 1.
    pub images: usize,
    /// The mean over those images of each image's own slope of x_i on x_t.
    pub mean_slope: Option<f64>,
    /// The t statistic.
    pub t: Option<f64>,
    /// Two-sided p.
    pub p: Option<f64>,
    /// The Benjamini–Hochberg q-value over the F - 1 features of the set.
    pub q: Option<f64>,
    /// `q <= alpha`.
    pub significant: bool,
}

/// One feature's metrics against the target in one row set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FeatureMetrics {
    pub index: usize,
    pub covariance: Estimate,
    pub correlation: Estimate,
    pub slope: Estimate,
    pub dependency: Estimate,
    /// None for the target itself.
    pub test: Option<FeatureTest>,
}

impl Metric {
    pub const ALL: [Metric; 4] = [Metric::Covariance, Metric::Correlation, Metric::Slope, Metric::Dependency];

    /// Its lower-case name, as serialised.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Covariance => "covariance",
            Metric::Correlation => "correlation",
            Metric::Slope => "slope",
            Metric::Dependency => "dependency",
        }
    }
}

impl FeatureMetrics {
    pub fn metric(&self, metric: Metric) -> &Estimate {
        match metric {
            Metric::Covariance => &self.covariance,
            Metric::Correlation => &self.correlation,
            Metric::Slope => &self.slope,
            Metric::Dependency => &self.dependency,
        }
    }
}

/// Every feature's metrics in one row set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSet {
    pub set: RowSet,
    /// The rows in the set (S n, or 2 S n pooled).
    pub rows: usize,
    /// Indexed by feature; the target's entry included.
    pub features: Vec<FeatureMetrics>,
    /// Mean |d| over i ≠ t with d defined.
    pub mean_abs_dependency: Estimate,
    /// Max |d| over i ≠ t with d defined.
    pub max_abs_dependency: Estimate,
}

/// Everything [`super::probe_statistics`] reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeStatistics {
    pub target: usize,
    /// n, the sample size of every interval and test.
    pub images: usize,
    /// S, the steps each way.
    pub steps: usize,
    /// F.
    pub features: usize,
    pub settings: StatsSettings,
    /// σ_i, the standard deviation (ddof 1) of logit i over the n starting images, with its
    /// bootstrap interval.
    pub sigma: Vec<Estimate>,
    pub pooled: MetricSet,
    pub up: MetricSet,
    pub down: MetricSet,
    pub observational: Observational,
}

impl ProbeStatistics {
    pub fn set(&self, set: RowSet) -> &MetricSet {
        match set {
            RowSet::Pooled => &self.pooled,
            RowSet::Up => &self.up,
            RowSet::Down => &self.down,
        }
    }
}
