//! How well the first-order matrix reaches the exact one: Pearson over the off-diagonal cells
//! both hold, the overlap of each row's top 5, and the speed-up.
//!
//! Owns: the agreement's definition and its line. Must not touch: how either matrix is made.

use serde::Serialize;

use super::{MatrixReport, Method};
use crate::stats::{Metric, pearson};

/// Partners compared per row.
pub const TOP: usize = 5;

/// The first-order matrix against the exact one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Agreement {
    /// The exact matrix's metric, and the first-order one's, compared.
    pub exact_metric: Metric,
    pub first_order_metric: Metric,
    /// Off-diagonal cells defined in both.
    pub cells: usize,
    /// Pearson correlation of the two over those cells.
    pub pearson: f64,
    /// Rows both hold, and the mean over them of |top 5 exact ∩ top 5 first-order| / 5, each
    /// top 5 by |metric| over the row's other features.
    pub rows: usize,
    pub top_overlap: f64,
    /// The exact run's seconds over the first-order run's.
    pub speedup: f64,
}

/// The agreement of `first` (first-order) with `exact`, comparing `exact_metric` of one with
/// `first_metric` of the other; refused unless they are of those methods, models and noise.
pub fn agreement(exact: &MatrixReport, first: &MatrixReport, exact_metric: Metric, first_metric: Metric) -> Result<Agreement, String> {
    let (e, f) = (&exact.settings, &first.settings);
    if e.method != Method::Exact || f.method != Method::FirstOrder {
        return Err(format!("compares an exact matrix with a first-order one, not {} with {}", e.method.name(), f.method.name()));
    }
    if e.generator.sha256 != f.generator.sha256 || e.classifier.sha256 != f.classifier.sha256 {
        return Err("the two matrices come from different models".into());
    }
    if e.noise_sha256 != f.noise_sha256 {
        return Err(format!("the two matrices come from different starting noise ({} and {})", e.noise, f.noise));
    }
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for c in &exact.cells {
        if let (Some(x), Some(y)) = (c.metric(exact_metric), first.cell(c.target_index, c.index).and_then(|d| d.metric(first_metric))) {
            xs.push(x);
            ys.push(y);
        }
    }
    let top = |m: &MatrixReport, t: usize, metric: Metric| -> Vec<usize> {
        let mut cells: Vec<(usize, f64)> =
            m.cells.iter().filter(|c| c.target_index == t).map(|c| (c.index, c.metric(metric).map_or(-1.0, f64::abs))).collect();
        cells.sort_by(|a, b| b.1.total_cmp(&a.1));
        cells.into_iter().take(TOP).map(|c| c.0).collect()
    };
    let shared: Vec<usize> = exact.rows.iter().map(|r| r.target).filter(|t| first.rows.iter().any(|r| r.target == *t)).collect();
    let overlaps: Vec<f64> = shared
        .iter()
        .map(|&t| {
            let (a, b) = (top(exact, t, exact_metric), top(first, t, first_metric));
            a.iter().filter(|i| b.contains(i)).count() as f64 / a.len().max(1) as f64
        })
        .collect();
    Ok(Agreement {
        exact_metric,
        first_order_metric: first_metric,
        cells: xs.len(),
        pearson: pearson(&xs, &ys),
        rows: shared.len(),
        top_overlap: overlaps.iter().sum::<f64>() / overlaps.len().max(1) as f64,
        speedup: exact.seconds() / first.seconds(),
    })
}

impl Agreement {
    /// One line for the summary.
    pub fn line(&self) -> String {
        format!(
            "first-order {} against exact {}: Pearson {:.3} over {} off-diagonal cells, top-{TOP} overlap {:.2} over {} rows; {:.1}x faster",
            self.first_order_metric.name(),
            self.exact_metric.name(),
            self.pearson,
            self.cells,
            self.top_overlap,
            self.rows,
            self.speedup
        )
    }
}
