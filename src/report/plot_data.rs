//! What a probe's pictures draw, taken from its outcome: the regplot's series (the target's
//! change against each chosen feature's, every image and step) and the heatmap's matrix.
//! The files and the HTML page draw the same data.
//!
//! Owns: which data a probe's pictures show. Must not touch: how they are drawn.

use super::probe::ProbeReportError;
use crate::plots::{self, Series};
use crate::probe::ProbeOutcome;
use crate::stats::{self, Changes, FeatureMatrix};

/// Features a regplot shows when none are chosen: the top 5 by |covariance| with the target.
pub const DEFAULT_PLOT_FEATURES: usize = 5;

/// The regplot's series of `chosen` features (or the [`DEFAULT_PLOT_FEATURES`] that covary
/// most with `target`), from the changes the probe kept.
pub fn regplot_series(
    outcome: &ProbeOutcome,
    names: &[String],
    target: usize,
    chosen: Option<&[usize]>,
) -> Result<Vec<Series>, ProbeReportError> {
    let history = outcome.changes.as_deref().ok_or(ProbeReportError::NoChanges)?;
    let top: Vec<usize>;
    let chosen = match chosen {
        Some(c) => c,
        None => {
            top = stats::top_covarying(&outcome.cov, names, target, DEFAULT_PLOT_FEATURES).into_iter().map(|t| t.index).collect();
            &top
        }
    };
    let changes = Changes::new(outcome.steps, outcome.images, outcome.features, history)?;
    Ok(plots::regplot_series(&changes, names, target, chosen))
}

/// The heatmap's matrix: the probe's covariance of every pair of features, or (`correlation`)
/// the correlation it implies.
pub fn heatmap_matrix(outcome: &ProbeOutcome, names: &[String], correlation: bool) -> Result<FeatureMatrix<f32>, ProbeReportError> {
    let values = if correlation { stats::correlation(&outcome.cov, outcome.features) } else { outcome.cov.clone() };
    Ok(FeatureMatrix::new(names.to_vec(), values)?)
}
