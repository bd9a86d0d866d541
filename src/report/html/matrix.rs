//! The HTML page of a dependency matrix: provenance, the planted-world grading, the directed
//! heatmap (hover a cell for its value and interval), the most entangled and most asymmetric
//! pairs, and every cell as a sortable table.
//!
//! Owns: the matrix page's layout. Must not touch: the report's content, the heatmap's drawing.

use super::{Cell, Page, Provenance, Table, figure, pre};
use crate::report::matrix::{MatrixReport, metric_label, summary};

/// The page of `report`, with its directed heatmap drawn as `heatmap` (SVG) and the planted
/// world's grading as printed (`grading`), when there is one.
pub fn page(report: &MatrixReport, provenance: &Provenance, heatmap: &str, grading: Option<&str>) -> String {
    let s = &report.settings;
    let metric = s.rank_by;
    let label = metric_label(metric, s.method);
    let mut page =
        Page::new(&format!("gan-bias dependency matrix: {} targets x {} features", report.rows.len(), report.features.len()), provenance);
    if let Some(text) = grading {
        page.section(
            "verdict",
            "Verdict against the planted world",
            "These models were trained on a synthetic world whose correlations were planted on purpose; each target's measured row is graded against the planted one (signs, and the planted strongest partners among the measured top features).",
            &pre(text),
        );
    }
    for c in &report.cells {
        let ci = match (c.ci_low, c.ci_high) {
            (Some(l), Some(h)) => format!(" [{l:.3}, {h:.3}]"),
            _ => String::new(),
        };
        let value = c.metric(metric).map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
        let q = c.q.map_or_else(String::new, |q| format!(", q {q:.3}"));
        page.cell_info(&c.target, &c.feature, format!("{} \u{2192} {}: {label} {value}{ci}{q}", c.target, c.feature));
    }
    page.section(
        "heatmap",
        "The directed matrix",
        &format!(
            "Each row is a target the probe moved; each column a feature whose response was measured. A cell is the {label} of the column's feature when the row's target moves: red when they rise together, blue when one falls as the other rises. Faded cells are not significant (q above {}). The matrix is directed: moving A may move B more than moving B moves A. Hover a cell for its value and interval.",
            s.statistics.alpha
        ),
        &figure(heatmap, &format!("Directed {label} matrix")),
    );
    let summary = summary::text(report);
    page.section(
        "pairs",
        "Most entangled and most asymmetric pairs",
        "The strongest partners of each target, the pairs with the largest dependency either way, and the pairs where one direction is much larger than the other (only where the larger direction is significant).",
        &pre(&summary),
    );
    let mut cells = Table::new(
        "cells",
        &["target", "feature", "covariance", "correlation", "slope", "dependency", "ci low", "ci high", "p", "q", "significant"],
    );
    for c in &report.cells {
        cells.row(
            vec![
                Cell::text(c.target.clone()),
                Cell::text(c.feature.clone()),
                c.covariance.map_or_else(|| Cell::num(None, 4), |v| Cell::num32(v, 4)),
                Cell::num(c.correlation, 3),
                Cell::num(c.slope, 3),
                Cell::num(c.dependency, 3),
                Cell::num(c.ci_low, 3),
                Cell::num(c.ci_high, 3),
                Cell::num(c.p, 4),
                Cell::num(c.q, 4),
                Cell::text(if c.significant { "yes" } else { "no" }),
            ],
            c.significant,
        );
    }
    page.section(
        "cells",
        "Every cell",
        &format!("One row per (target, feature) pair, with the interval of the {label}, p and q (Benjamini-Hochberg over every off-diagonal cell). Highlighted rows are significant. Click a column to sort."),
        &cells.html(),
    );
    page.finish(&report.to_json())
}
