//! The probe's statistics, built by one entry function, [`probe_statistics`]: every metric
//! of every feature against the target for the pooled, up and down rows, their
//! cluster-bootstrap intervals, a test per feature with Benjamini–Hochberg q-values, and the
//! observational block of the starting images.
//!
//! The definitions live once, each where it is computed: the metrics in
//! [`metrics`](super::metrics) (covariance, correlation, slope, dependency, mean and max |d|),
//! the bootstrap and its quantiles in [`bootstrap`](super::bootstrap), the test in
//! [`significance`](super::significance), the q-values in [`benjamini_hochberg`], the
//! prevalences and the parity gap in [`observational`](super::observational).
//!
//! The sample size is the number of images n, never the number of rows 2Sn.

use serde::{Deserialize, Serialize};

use super::bootstrap::{Engine, layout, percentile_interval};
use super::metrics::set_len;
use super::observational::{Observational, observational};
use super::significance::slope_test;
use super::sufficient::{ImageSums, StartSums, feature_means};
use super::{Changes, Direction, benjamini_hochberg, normal_quantile};

/// What the statistics are computed with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StatsSettings {
    /// The level of every interval, in (0, 1) (default 0.95).
    pub ci: f64,
    /// The number of cluster-bootstrap resamples B (default 1000; 0 gives no intervals of the
    /// probe metrics; the observational intervals need none).
    pub bootstrap: usize,
    /// The bootstrap's seed (default 0).
    pub seed: u64,
    /// The q-value at or below which a feature is called significant, in [0, 1] (default 0.05).
    pub alpha: f64,
}

impl Default for StatsSettings {
    fn default() -> Self {
        StatsSettings { ci: 0.95, bootstrap: 1000, seed: 0, alpha: 0.05 }
    }
}

/// Why the statistics cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProbeStatsError {
    #[error("the starting logits hold {len} values, but {images} images x {features} features need {expected}")]
    StartShape { len: usize, images: usize, features: usize, expected: usize },
    #[error("target {target} is not one of the {features} features")]
    Target { target: usize, features: usize },
    #[error("the probe statistics need at least one image, step and feature ({images} images, {steps} steps, {features} features)")]
    Empty { images: usize, steps: usize, features: usize },
    #[error("the interval level must lie strictly between 0 and 1, not {0}")]
    Ci(f64),
    #[error("alpha must lie in [0, 1], not {0}")]
    Alpha(f64),
    #[error("the {what} hold a non-finite value at index {index}")]
    NonFinite { what: &'static str, index: usize },
}

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

/// Everything [`probe_statistics`] reports.
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

fn finite(v: f64) -> Option<f64> {
    if v.is_nan() { None } else { Some(v) }
}

/// The probe's statistics of the recorded `changes` (layout `(2, S, n, F)`), the `start`ing
/// logits (`n x F`, row-major) and the `target` feature t.
///
/// The pooled covariance is `np.cov` of all 2Sn rows (what the probe's kernel computes), to
/// f64 precision. Cost: one pass over the rows to build the per-image sums, then `B x n x 5F`
/// multiply-adds for the bootstrap.
pub fn probe_statistics(
    changes: &Changes,
    start: &[f32],
    target: usize,
    settings: &StatsSettings,
) -> Result<ProbeStatistics, ProbeStatsError> {
    let (steps, n, f) = (changes.steps(), changes.images(), changes.features());
    if n == 0 || steps == 0 || f == 0 {
        return Err(ProbeStatsError::Empty { images: n, steps, features: f });
    }
    if start.len() != n * f {
        return Err(ProbeStatsError::StartShape { len: start.len(), images: n, features: f, expected: n * f });
    }
    if target >= f {
        return Err(ProbeStatsError::Target { target, features: f });
    }
    if !(settings.ci > 0.0 && settings.ci < 1.0) {
        return Err(ProbeStatsError::Ci(settings.ci));
    }
    if !(0.0..=1.0).contains(&settings.alpha) {
        return Err(ProbeStatsError::Alpha(settings.alpha));
    }
    if let Some(index) = changes.values().iter().position(|v| !v.is_finite()) {
        return Err(ProbeStatsError::NonFinite { what: "recorded changes", index });
    }
    if let Some(index) = start.iter().position(|v| !v.is_finite()) {
        return Err(ProbeStatsError::NonFinite { what: "starting logits", index });
    }

    let shift = feature_means(changes);
    let up = ImageSums::of_direction(changes, Direction::Up, target, &shift);
    let down = ImageSums::of_direction(changes, Direction::Down, target, &shift);
    let engine = Engine::new(up, down, StartSums::new(start, n, f));

    let mut point = vec![0.0; engine.len()];
    engine.evaluate(&vec![1; n], &mut Vec::new(), &mut point);
    let b = settings.bootstrap;
    let reps = if b > 0 { engine.bootstrap(b, settings.seed) } else { Vec::new() };
    let estimate = |s: usize| Estimate {
        estimate: finite(point[s]),
        interval: if b > 0 && !point[s].is_nan() {
            percentile_interval(&reps[s * b..(s + 1) * b], settings.ci).map(|(low, high)| Interval { low, high })
        } else {
            None
        },
    };

    let sigma = (0..f).map(estimate).collect();
    let metric_set = |set: RowSet| {
        let (index, sums, rows) = match set {
            RowSet::Pooled => (layout::POOLED, &engine.pooled, 2 * steps * n),
            RowSet::Up => (layout::UP, &engine.up, steps * n),
            RowSet::Down => (layout::DOWN, &engine.down, steps * n),
        };
        let at = layout::set_start(f, index);
        let tests: Vec<_> = (0..f).map(|i| (i != target).then(|| slope_test(sums, i))).collect();
        let q = benjamini_hochberg(&tests.iter().map(|t| t.as_ref().and_then(|t| t.p)).collect::<Vec<_>>());
        let features = (0..f)
            .map(|i| FeatureMetrics {
                index: i,
                covariance: estimate(at + i),
                correlation: estimate(at + f + i),
                slope: estimate(at + 2 * f + i),
                dependency: estimate(at + 3 * f + i),
                test: tests[i].as_ref().map(|t| FeatureTest {
                    images: t.images,
                    mean_slope: finite(t.mean_slope),
                    t: finite(t.t),
                    p: t.p,
                    q: q[i],
                    significant: q[i].is_some_and(|q| q <= settings.alpha),
                }),
            })
            .collect();
        debug_assert_eq!(set_len(f), 4 * f + 2);
        MetricSet { set, rows, features, mean_abs_dependency: estimate(at + 4 * f), max_abs_dependency: estimate(at + 4 * f + 1) }
    };

    Ok(ProbeStatistics {
        target,
        images: n,
        steps,
        features: f,
        settings: *settings,
        sigma,
        pooled: metric_set(RowSet::Pooled),
        up: metric_set(RowSet::Up),
        down: metric_set(RowSet::Down),
        observational: observational(start, n, f, target, normal_quantile(0.5 + settings.ci / 2.0)),
    })
}
