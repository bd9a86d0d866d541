//! The matrix's printed summary: how it was made, each target's top partners, the most
//! entangled pairs, the most asymmetric pairs and each target's mean and max |dependency|.
//!
//! Owns: the summary's layout. Must not touch: how a cell is computed.

use super::{Cell, MatrixReport, Method};
use crate::stats::{Estimate, Metric, RowSet};

/// Partners shown per target, and pairs in each overall list.
pub const PARTNERS: usize = 3;
pub const PAIRS: usize = 10;

/// A value with its sign and 3 significant decimals (6 for a covariance), `-` if undefined.
fn value(v: Option<f64>, metric: Metric) -> String {
    match v {
        Some(v) if v.is_finite() && metric == Metric::Covariance => format!("{v:+.6}"),
        Some(v) if v.is_finite() => format!("{v:+.3}"),
        _ => "-".into(),
    }
}

fn estimate(e: &Estimate) -> String {
    match (e.estimate, e.interval) {
        (Some(v), Some(i)) => format!("{v:.3} [{:.3}, {:.3}]", i.low, i.high),
        (Some(v), None) => format!("{v:.3}"),
        _ => "-".into(),
    }
}

/// The cells of `cells` by |metric|, largest first (undefined last), ties in order.
fn by_size<'a>(cells: impl Iterator<Item = &'a Cell>, metric: Metric) -> Vec<&'a Cell> {
    let mut v: Vec<&Cell> = cells.collect();
    let size = |c: &Cell| c.metric(metric).filter(|v| v.is_finite()).map_or(-1.0, f64::abs);
    v.sort_by(|a, b| size(b).total_cmp(&size(a)));
    v
}

/// The pairs (t, i), both targets of the matrix, whose |M\[t\]\[i\]| most exceeds |M\[i\]\[t\]|, the
/// larger cell significant (an attribute the classifier barely varies on has a tiny sigma, so
/// its dependency is large and noisy): (the cell t -> i, the cell i -> t), largest
/// difference first.
pub fn asymmetric_pairs(report: &MatrixReport, metric: Metric) -> Vec<(&Cell, &Cell)> {
    let mut pairs: Vec<(&Cell, &Cell, f64)> = Vec::new();
    for c in report.cells.iter().filter(|c| c.significant) {
        let Some(back) = report.cell(c.index, c.target_index) else { continue };
        if let (Some(a), Some(b)) = (c.metric(metric), back.metric(metric))
            && a.abs() > b.abs()
        {
            pairs.push((c, back, a.abs() - b.abs()));
        }
    }
    pairs.sort_by(|a, b| b.2.total_cmp(&a.2));
    pairs.into_iter().map(|(a, b, _)| (a, b)).collect()
}

/// The summary printed after a matrix run or a merge.
pub fn text(report: &MatrixReport) -> String {
    let s = &report.settings;
    let (metric, f) = (s.rank_by, report.features.len());
    let star = |c: &Cell| if c.significant { "*" } else { "" };
    let mut out = String::new();
    let how = match s.method {
        Method::Exact => format!("{} images x {} steps each way, update {}", s.images, s.steps, s.update),
        Method::FirstOrder => format!("{} images, gradients at the starting noise", s.images),
    };
    out.push_str(&format!(
        "# gan-bias matrix ({}): {} target(s) x {f} features, {how}, noise {}; {:.2} s\n",
        s.method.name(),
        report.rows.len(),
        s.noise,
        report.seconds()
    ));
    for note in &s.classifier.notes {
        out.push_str(&format!("# classifier {}: {note}\n", s.classifier.path));
    }
    if let Some(shard) = report.shard {
        out.push_str(&format!(
            "# shard {}/{} of {} targets: merge the parts for the whole matrix\n",
            shard.index,
            shard.count,
            s.targets.len()
        ));
    }
    let set = match (s.method, s.direction) {
        (Method::FirstOrder, _) => "each image's gradients",
        (_, RowSet::Pooled) => "both directions' rows",
        (_, RowSet::Up) => "the rows up the gradient",
        (_, RowSet::Down) => "the rows down the gradient",
    };
    let intervals = if s.statistics.bootstrap == 0 {
        "no intervals".to_string()
    } else {
        format!("{}% intervals from {} bootstrap resamples of the images", 100.0 * s.statistics.ci, s.statistics.bootstrap)
    };
    out.push_str(&format!(
        "# {} over {set}; {intervals}; q: Benjamini-Hochberg over all {} off-diagonal cells, * where q <= {}\n",
        metric.name(),
        report.cells.len(),
        s.statistics.alpha
    ));
    let width = report.features.iter().map(|n| n.len()).max().unwrap_or(0).max("target".len());

    out.push_str(&format!("# top partners of each target, by |{}|\n", metric.name()));
    for row in &report.rows {
        let top = by_size(report.cells.iter().filter(|c| c.target_index == row.target), metric);
        let partners: Vec<String> =
            top.iter().take(PARTNERS).map(|c| format!("{} {}{}", c.feature, value(c.metric(metric), metric), star(c))).collect();
        out.push_str(&format!("{:<width$}  {}\n", row.feature, partners.join(", ")));
    }

    out.push_str(&format!("# the most entangled pairs (target -> response), by |{}|\n", metric.name()));
    for c in by_size(report.cells.iter(), metric).into_iter().take(PAIRS) {
        let ci = match (c.ci_low, c.ci_high) {
            (Some(l), Some(h)) => format!("  [{}, {}]", value(Some(l), metric), value(Some(h), metric)),
            _ => String::new(),
        };
        let q = c.q.map_or_else(|| "-".into(), |q| format!("{q:.1e}"));
        out.push_str(&format!("{} -> {}  {}{ci}  q {q}{}\n", c.target, c.feature, value(c.metric(metric), metric), star(c)));
    }

    let asym = asymmetric_pairs(report, metric);
    if !asym.is_empty() {
        out.push_str(&format!("# the most asymmetric pairs: |M[t][i]| against |M[i][t]| ({}), M[t][i] significant\n", metric.name()));
        for (a, b) in asym.into_iter().take(PAIRS) {
            out.push_str(&format!(
                "moving {} moves {} by {}{}; moving {} moves {} by {}{}\n",
                a.target,
                a.feature,
                value(a.metric(metric), metric),
                star(a),
                b.target,
                b.feature,
                value(b.metric(metric), metric),
                star(b)
            ));
        }
    }

    out.push_str(&format!("# dependency of each target over the {} others (mean-AD and max-AD)\n", f.saturating_sub(1)));
    out.push_str(&format!("{:<width$}  {:<24}  {}\n", "target", "mean |dependency|", "max |dependency|"));
    for row in &report.rows {
        let (mean, max) = row.dependency_summary(s.direction);
        out.push_str(&format!("{:<width$}  {:<24}  {}\n", row.feature, estimate(&mean), estimate(&max)));
    }
    out
}
