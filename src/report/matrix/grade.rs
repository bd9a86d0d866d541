//! Every row of a matrix graded against a planted world by the criteria of `probe --planted`
//! ([`PlantedWorld::recovery`]): the row's measured correlations against the planted ones, its
//! top 10 against the planted top 5.
//!
//! Owns: which numbers of a row are graded. Must not touch: the criteria ([`crate::planted`]).

use super::{MatrixReport, RowStatistics, TargetRow};
use crate::planted::{MEASURED_TOP, PlantedWorld, Recovery};
use crate::stats::RowSet;

/// One row's grade.
#[derive(Debug, Clone, PartialEq)]
pub struct RowGrade {
    pub target: usize,
    pub feature: String,
    pub recovery: Recovery,
    /// Whether any planted factor loads on the target (only those rows have something to recover).
    pub carries_factor: bool,
}

/// The measured correlation row and the top 10 the grade uses: for an exact row, the pooled
/// correlations and the top by |covariance| (the probe's own), as a single run grades; for a
/// first-order row, the mean cosines and the top by |cosine|.
fn measured(row: &TargetRow, features: usize) -> (Vec<f64>, Vec<usize>) {
    let metrics = row.features(RowSet::Pooled);
    let corr: Vec<f64> = metrics.iter().map(|m| m.correlation.estimate.unwrap_or(f64::NAN)).collect();
    let size: Vec<f64> = match (&row.statistics, &row.covariance) {
        (RowStatistics::Exact(_), Some(c)) => c.iter().map(|v| (*v as f64).abs()).collect(),
        _ => corr.iter().map(|v| if v.is_finite() { v.abs() } else { -1.0 }).collect(),
    };
    let mut order: Vec<usize> = (0..features).filter(|&i| i != row.target).collect();
    order.sort_by(|&a, &b| size[b].total_cmp(&size[a]));
    order.truncate(MEASURED_TOP);
    (corr, order)
}

/// Every row of `report` graded against `world`.
pub fn grade(report: &MatrixReport, world: &PlantedWorld) -> Vec<RowGrade> {
    report
        .rows
        .iter()
        .map(|row| {
            let (corr, top) = measured(row, report.features.len());
            RowGrade {
                target: row.target,
                feature: row.feature.clone(),
                recovery: world.recovery(row.target, &corr, &top),
                carries_factor: world.carries_factor(row.target),
            }
        })
        .collect()
}

/// The grading's lines: one summary, then each factor-loaded row that was not recovered.
pub fn text(world_name: &str, grades: &[RowGrade]) -> String {
    let loaded: Vec<&RowGrade> = grades.iter().filter(|g| g.carries_factor).collect();
    let recovered = loaded.iter().filter(|g| g.recovery.passes()).count();
    let mean_pearson = loaded.iter().map(|g| g.recovery.pearson).sum::<f64>() / loaded.len().max(1) as f64;
    let mut s = format!(
        "# planted world {world_name}: {recovered} of {} factor-loaded rows recovered (mean Pearson {mean_pearson:.3}); {} rows carry no factor\n",
        loaded.len(),
        grades.len() - loaded.len()
    );
    for g in loaded.iter().filter(|g| !g.recovery.passes()) {
        s.push_str(&super::super::recovery_line(world_name, &g.feature, &g.recovery, true));
        s.push('\n');
    }
    s
}
