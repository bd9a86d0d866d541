//! Stage 4 of the pipeline: the statistics of the probe's numbers, all in f64.
//!
//! Owns the typed views of what a probe measured ([`Changes`], the recorded changes, and
//! [`FeatureMatrix`], an F x F matrix with its feature names), the top-k ranking of a
//! covariance row ([`top_in_row`]), Pearson correlation and the correlation matrix of a
//! covariance ([`pearson`], [`correlation_matrix`]), ordinary least squares with its
//! confidence band ([`regression`]), seaborn-style binning ([`x_bins`]) and exact normal and
//! Student's t quantiles ([`normal_quantile`], [`t_quantile`], from `statrs`), and the
//! statistics of the first-order dependency matrix from per-image gradients
//! ([`first_order_statistics`]), and the audit of the classifier's own bias by group
//! ([`audit_statistics`]).
//!
//! It depends on nothing but `std` and `statrs`: never on the backend, the probe, the plots or
//! the command line. Its inputs are plain slices and the views defined here; a caller turns
//! its own data into those. (Its tests alone borrow [`crate::rng`] for seeded samples and
//! nalgebra as an independent solver; the golden values come from scipy and numpy, printed by
//! `tools/stats_golden.py`.)

mod audit;
mod audit_engine;
mod audit_results;
mod binning;
pub mod bootstrap;
mod correlation;
mod first_order;
mod first_order_cells;
pub mod metrics;
pub mod multiple;
pub mod observational;
mod probe_stats;
mod quantile;
mod rank;
mod regression;
mod results;
pub mod significance;
mod sufficient;
mod views;

pub use audit::{
    AttributeValue, AuditData, AuditSpec, AuditStatistics, AuditStatsError, Confusion, Disparity, FeatureAudit, GroupDef, GroupMetric,
    GroupMetrics, Leakage, audit_statistics,
};
pub use binning::{Bin, x_bins};
pub use correlation::{correlation_matrix, pearson};
pub use first_order::{FirstOrderRow, FirstOrderStatistics, first_order_statistics};
pub use multiple::benjamini_hochberg;
pub use observational::{Observational, ParityGap, Proportion, newcombe_difference};
pub use probe_stats::{
    Estimate, FeatureMetrics, FeatureTest, Interval, Metric, MetricSet, ProbeStatistics, ProbeStatsError, RowSet, StatsSettings,
    probe_statistics,
};
pub use quantile::{normal_quantile, t_quantile};
pub use rank::{TopEntry, top_in_row};
pub use regression::{Fit, regression};
pub use views::{Changes, Direction, FeatureMatrix};

/// Why data does not fit a view.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatsError {
    #[error(
        "the recorded changes hold {len} values, but 2 directions x {steps} steps x {images} images x {features} features \
         need {expected}"
    )]
    ChangesShape { steps: usize, images: usize, features: usize, len: usize, expected: String },
    #[error("a matrix of {names} features needs {expected} values ({names} x {names}), but {len} were given")]
    MatrixShape { names: usize, len: usize, expected: String },
}

/// The product of `dims`, or `None` when it overflows.
fn product(dims: &[usize]) -> Option<usize> {
    dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

/// [`top_in_row`] on a row-major `names.len()` square slice (the probe's covariance as it
/// comes back), kept for callers that hold no [`FeatureMatrix`].
///
/// # Panics
/// When `cov` holds fewer than `names.len()` rows of `names.len()` values.
pub fn top_covarying(cov: &[f32], names: &[String], target: usize, top: usize) -> Vec<TopEntry> {
    let f = names.len();
    rank::top_of(&cov[target * f..(target + 1) * f], names, target, top)
}

/// The correlation matrix of a row-major `f x f` covariance slice, computed in f64 as
/// [`correlation_matrix`] and stored as f32; kept for callers that hold no [`FeatureMatrix`].
///
/// # Panics
/// When `cov` holds fewer than `f x f` values.
pub fn correlation(cov: &[f32], f: usize) -> Vec<f32> {
    correlation::correlation_values(&cov[..f * f], f).into_iter().map(|v| v as f32).collect()
}

#[cfg(test)]
mod golden;
