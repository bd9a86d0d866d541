//! The probe report's statistics views: the ranking by the chosen metric of the chosen row
//! set, the top rows with their interval, p and q, the printed table, the CSV, and the
//! observational section. Definitions of every metric live in [`crate::stats`]; this module
//! only chooses, orders and lays out.
//!
//! Owns: the table's and CSV's columns. Must not touch: how a statistic is computed.

use serde::Serialize;

use crate::stats::{self, Estimate, FeatureMetrics, Metric, ProbeStatistics, RowSet};

/// One row of the top table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopRow {
    pub rank: usize,
    pub feature: String,
    pub index: usize,
    /// The covariance over the chosen rows; over the pooled rows it is the probe's own
    /// (the notebook's figure, computed with the history on the backend).
    pub covariance: f32,
    pub correlation: Option<f64>,
    pub slope: Option<f64>,
    pub dependency: Option<f64>,
    /// The interval of the ranking's metric.
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub p: Option<f64>,
    pub q: Option<f64>,
    pub significant: bool,
}

/// The `top` features other than the target, by |metric| over the rows of `set`, largest
/// first, ties in index order. Ranking by the pooled covariance uses the probe's own matrix
/// (`cov`, row-major), so the notebook's ranking stays exactly what it was.
pub fn rank(cov: &[f32], names: &[String], st: &ProbeStatistics, set: RowSet, metric: Metric, top: usize) -> Vec<usize> {
    let target = st.target;
    if set == RowSet::Pooled && metric == Metric::Covariance {
        return stats::top_covarying(cov, names, target, top).iter().map(|t| t.index).collect();
    }
    let rows = &st.set(set).features;
    let size = |i: usize| rows[i].metric(metric).estimate.map_or(-1.0, f64::abs);
    let mut order: Vec<usize> = (0..names.len()).filter(|&i| i != target).collect();
    order.sort_by(|&a, &b| size(b).total_cmp(&size(a)));
    order.truncate(top);
    order
}

/// The top rows of `order` (from [`rank`]).
pub fn top_rows(cov: &[f32], names: &[String], st: &ProbeStatistics, set: RowSet, metric: Metric, order: &[usize]) -> Vec<TopRow> {
    let f = names.len();
    let rows = &st.set(set).features;
    order
        .iter()
        .enumerate()
        .map(|(rank, &i)| {
            let covariance = match set {
                RowSet::Pooled => Some(cov[st.target * f + i]),
                _ => None,
            };
            feature_row(rank + 1, &names[i], covariance, &rows[i], metric)
        })
        .collect()
}

/// The row of one feature from its metrics, with the interval of `metric`: its covariance
/// `covariance` where given (the probe's own, over the pooled rows), else the set's estimate.
pub fn feature_row(rank: usize, name: &str, covariance: Option<f32>, m: &FeatureMetrics, metric: Metric) -> TopRow {
    let interval = m.metric(metric).interval;
    let test = m.test.as_ref();
    TopRow {
        rank,
        feature: name.to_string(),
        index: m.index,
        covariance: covariance.unwrap_or_else(|| m.covariance.estimate.map_or(f32::NAN, |c| c as f32)),
        correlation: m.correlation.estimate,
        slope: m.slope.estimate,
        dependency: m.dependency.estimate,
        ci_low: interval.map(|v| v.low),
        ci_high: interval.map(|v| v.high),
        p: test.and_then(|t| t.p),
        q: test.and_then(|t| t.q),
        significant: test.is_some_and(|t| t.significant),
    }
}

/// The CSV of the top rows: `rank,feature,index,covariance,correlation,slope,dependency,
/// ci_low,ci_high,p,q`; an undefined value is an empty field.
pub fn top_csv(rows: &[TopRow]) -> String {
    let mut s = String::from("rank,feature,index,covariance,correlation,slope,dependency,ci_low,ci_high,p,q\n");
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for r in rows {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{}\n",
            r.rank,
            super::csv_field(&r.feature),
            r.index,
            r.covariance,
            opt(r.correlation),
            opt(r.slope),
            opt(r.dependency),
            opt(r.ci_low),
            opt(r.ci_high),
            opt(r.p),
            opt(r.q)
        ));
    }
    s
}

/// A value in a column `width` wide with `decimals` decimals, `-` where undefined.
fn cell(v: Option<f64>, width: usize, decimals: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:>width$.decimals$}"),
        _ => format!("{:>width$}", "-"),
    }
}

/// Decimals that show a value of this metric (covariances are small numbers).
fn decimals(metric: Metric) -> usize {
    if metric == Metric::Covariance { 6 } else { 3 }
}

/// The header line that says how the statistics were made.
pub fn statistics_line(st: &ProbeStatistics, set: RowSet, metric: Metric) -> String {
    let s = &st.settings;
    let intervals = if s.bootstrap == 0 {
        "no intervals (--bootstrap 0)".to_string()
    } else {
        format!(
            "{}% intervals of the {} from {} bootstrap resamples of the {} images (seed {})",
            100.0 * s.ci,
            metric.name(),
            s.bootstrap,
            st.images,
            s.seed
        )
    };
    let set_name = match set {
        RowSet::Pooled => "both directions' rows",
        RowSet::Up => "the rows up the gradient",
        RowSet::Down => "the rows down the gradient",
    };
    format!(
        "statistics over {set_name}, ranked by |{}|: {intervals}; p: t-test of the {} images' own slopes, q: Benjamini-Hochberg over {} features, * where q <= {}",
        metric.name(),
        st.images,
        st.features.saturating_sub(1),
        s.alpha
    )
}

/// The line giving the target's mean and max |dependency| over the other features.
pub fn dependency_line(st: &ProbeStatistics, set: RowSet, target: &str) -> String {
    let m = st.set(set);
    let show = |e: &Estimate| match (e.estimate, e.interval) {
        (Some(v), Some(i)) => format!("{v:.3} [{:.3}, {:.3}]", i.low, i.high),
        (Some(v), None) => format!("{v:.3}"),
        _ => "-".into(),
    };
    format!(
        "{target}: mean |dependency| {}, max |dependency| {} over the {} other features",
        show(&m.mean_abs_dependency),
        show(&m.max_abs_dependency),
        st.features.saturating_sub(1)
    )
}

/// The table rows: the four metrics, the planted correlation where graded, the interval of
/// the ranking's metric, q and the significance mark.
pub fn table(rows: &[TopRow], metric: Metric, planted: Option<&[f64]>) -> String {
    let width = rows.iter().map(|r| r.feature.len()).max().unwrap_or(0).max("feature".len());
    let d = decimals(metric);
    let ci = if d == 6 { 10 } else { 8 };
    let mut s = format!("{:<width$}  {:>10}  {:>8}  {:>8}  {:>8}", "feature", "covariance", "corr", "slope", "dep");
    if planted.is_some() {
        s.push_str(&format!("  {:>8}", "planted"));
    }
    s.push_str(&format!("  {:>ci$}  {:>ci$}  {:>8}\n", "ci_low", "ci_high", "q"));
    for r in rows {
        s.push_str(&format!(
            "{:<width$}  {:>10.6}  {}  {}  {}",
            r.feature,
            r.covariance,
            cell(r.correlation, 8, 3),
            cell(r.slope, 8, 3),
            cell(r.dependency, 8, 3)
        ));
        if let Some(p) = planted {
            s.push_str(&format!("  {:>8.3}", p[r.index]));
        }
        let q = r.q.map_or_else(|| format!("{:>8}", "-"), |q| format!("{q:>8.1e}"));
        s.push_str(&format!("  {}  {}  {q}{}\n", cell(r.ci_low, ci, d), cell(r.ci_high, ci, d), if r.significant { " *" } else { "" }));
    }
    s
}

/// The observational section for the top rows: each attribute's prevalence on the starting
/// images and its demographic-parity gap against the target, beside its dependency.
pub fn observational(st: &ProbeStatistics, rows: &[TopRow], target: &str, ci: f64) -> String {
    let o = &st.observational;
    let width = rows.iter().map(|r| r.feature.len()).max().unwrap_or(0).max("feature".len());
    let pct = 100.0 * ci;
    let mut s = format!(
        "# observational, on the {} starting images as the classifier reads them (logit > 0): {target} predicted on {}, not on {}\n",
        st.images, o.target_predicted, o.target_not_predicted
    );
    s.push_str(&format!(
        "{:<width$}  {:>10}  {:>17}  {:>8}  {:>17}  {:>8}\n",
        "feature",
        "prevalence",
        format!("{pct}% Wilson"),
        "gap",
        format!("{pct}% Newcombe"),
        "dep"
    ));
    let interval = |i: Option<stats::Interval>| i.map_or_else(|| format!("{:>17}", "-"), |i| format!("[{:>6.3}, {:>6.3}]", i.low, i.high));
    for r in rows {
        let prev = &o.prevalence[r.index];
        let gap = o.parity_gap.iter().find(|g| g.index == r.index);
        s.push_str(&format!(
            "{:<width$}  {}  {:>17}  {}  {:>17}  {}\n",
            r.feature,
            cell(prev.estimate, 10, 3),
            interval(prev.interval),
            cell(gap.and_then(|g| g.gap), 8, 3),
            interval(gap.and_then(|g| g.interval)),
            cell(r.dependency, 8, 3)
        ));
    }
    s
}
