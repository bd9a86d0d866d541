//! The audit report's text views: the long-form CSV of every metric and disparity, the
//! leakage CSV, and the printed tables (features by group, then each group attribute's
//! leakage beside the probe's dependency row).
//!
//! Owns: the layout of the audit's CSVs and tables. Must not touch: what is measured.

use std::fmt::Write as _;

use super::{AuditReport, ProbeRow};
use crate::report::csv_field;
use crate::stats::{Estimate, GroupMetric, Leakage};

/// The long-form CSV's header.
pub const CSV_HEADER: &str = "feature,group,n,metric,value,ci_low,ci_high";

/// The leakage CSV's header.
pub const LEAKAGE_HEADER: &str = "group_attribute,feature,fp_gap,fp_ci_low,fp_ci_high,fn_gap,fn_ci_low,fn_ci_high";

/// A value as the CSVs write it: shortest round-trip decimal, empty when undefined.
fn cell(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v}"))
}

/// `value,ci_low,ci_high` of an estimate.
fn cells(e: &Estimate) -> String {
    let (low, high) = e.interval.as_ref().map_or((None, None), |i| (Some(i.low), Some(i.high)));
    format!("{},{},{}", cell(e.estimate), cell(low), cell(high))
}

/// Which of a leakage's gaps could alone produce a probe dependency of `dependency`'s sign:
/// `fp` when the false-positive gap's interval lies wholly on that sign's side (the classifier
/// calls the feature more often, unshown, in group t = 1, so its logit rises with t's);
/// `fn` when the false-negative gap's interval lies wholly on the other side (it misses the
/// feature less often there); `fp+fn` for both, `-` for neither, or when the dependency is
/// undefined or not significant (its q above alpha: nothing to explain).
pub fn leak_verdict(leak: &Leakage, dependency: Option<f64>, significant: bool) -> &'static str {
    let Some(d) = dependency.filter(|d| *d != 0.0 && significant) else { return "-" };
    let side = |e: &Estimate, sign: f64| e.interval.as_ref().is_some_and(|i| i.low * sign > 0.0 && i.high * sign > 0.0);
    match (side(&leak.fp_gap, d.signum()), side(&leak.fn_gap, -d.signum())) {
        (true, true) => "fp+fn",
        (true, false) => "fp",
        (false, true) => "fn",
        (false, false) => "-",
    }
}

impl AuditReport {
    /// Every metric of every measured feature in every group, then each metric's difference
    /// and ratio over the finest groups, then the three named disparities (group
    /// `difference`), as [`CSV_HEADER`]. `n` is the group's images, and all images for the
    /// disparity rows.
    pub fn csv(&self) -> String {
        let st = &self.statistics;
        let mut s = format!("{CSV_HEADER}\n");
        for a in &st.features {
            let feature = csv_field(&self.features[a.index]);
            let mut row = |group: &str, n: usize, metric: &str, e: &Estimate| {
                let _ = writeln!(s, "{feature},{},{n},{metric},{}", csv_field(group), cells(e));
            };
            for (g, m) in a.by_group.iter().enumerate() {
                for metric in GroupMetric::ALL {
                    row(&self.groups[g], st.groups[g].n, metric.name(), m.metric(metric));
                }
            }
            for d in &a.disparities {
                row("difference", st.images, d.metric.name(), &d.difference);
                row("ratio", st.images, d.metric.name(), &d.ratio);
            }
            row("difference", st.images, "demographic_parity_difference", &a.demographic_parity_difference);
            row("difference", st.images, "equal_opportunity_difference", &a.equal_opportunity_difference);
            row("difference", st.images, "equalized_odds_difference", &a.equalized_odds_difference);
        }
        s
    }

    /// Every leakage entry (each measured feature and group attribute), as [`LEAKAGE_HEADER`].
    pub fn leakage_csv(&self) -> String {
        let mut s = format!("{LEAKAGE_HEADER}\n");
        for l in &self.statistics.leakage {
            let _ = writeln!(
                s,
                "{},{},{},{}",
                csv_field(&self.features[l.group_attribute]),
                csv_field(&self.features[l.feature]),
                cells(&l.fp_gap),
                cells(&l.fn_gap)
            );
        }
        s
    }

    /// The printed report: a header, the features by group (largest equalized-odds
    /// difference first), then each group attribute's leakage.
    pub fn text(&self) -> String {
        let (st, set) = (&self.statistics, &self.settings);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# classifier audit of {} on {}: {} images, a feature predicted when its logit > {}; groups by the true labels of {}",
            set.classifier,
            set.data,
            st.images,
            set.threshold,
            set.group_attributes.join(" and ")
        );
        for note in &set.classifier_notes {
            let _ = writeln!(s, "# classifier {}: {note}", set.classifier);
        }
        let t = &self.timings;
        let _ = writeln!(
            s,
            "# {}: classified in {:.2} s ({:.0} images/s); statistics in {:.2} s (bootstrap {}, {}% intervals: Wilson for rates, bootstrap for AUCs and disparities)",
            set.adapter,
            t.classify_seconds,
            t.images_per_second,
            t.statistics_seconds,
            set.bootstrap,
            pct(set.ci)
        );
        let groups: Vec<String> =
            st.finest().map(|g| format!("{} n={}{}", self.groups[g], st.groups[g].n, if st.groups[g].small { "*" } else { "" })).collect();
        let small = if st.finest().any(|g| st.groups[g].small) {
            format!(" (* fewer than {} images: read with care)", st.min_group)
        } else {
            String::new()
        };
        let _ = writeln!(s, "# groups: {}{small}", groups.join(", "));
        s.push('\n');
        self.group_table(&mut s);
        for (k, &t) in st.group_attributes.iter().enumerate() {
            s.push('\n');
            let probe = self.probe.iter().find(|r| r.target == t);
            self.leakage_table(&mut s, k, probe);
        }
        s
    }

    /// One row per measured feature: each finest group's TPR and FPR, the equalized-odds
    /// difference with its interval, the demographic-parity difference, and the overall
    /// accuracy and AUC.
    fn group_table(&self, s: &mut String) {
        let st = &self.statistics;
        let name_w = self.features.iter().map(|n| n.len()).max().unwrap_or(7).max(7) + 2;
        let widths: Vec<usize> = st.finest().map(|g| self.groups[g].len().max(12) + 2).collect();
        let _ = write!(s, "{:name_w$}", "");
        for (g, w) in st.finest().zip(&widths) {
            let _ = write!(s, "{:w$}", self.groups[g]);
        }
        let _ = writeln!(s, "{:24}{:8}{:8}{:8}", format!("EOD [{}% CI]", pct(self.settings.ci)), "DPD", "acc", "AUC");
        let _ = write!(s, "{:name_w$}", "feature");
        for w in &widths {
            let _ = write!(s, "{:w$}", "TPR    FPR");
        }
        let _ = writeln!(s, "{:24}{:8}{:8}{:8}", "", "", "all", "all");
        for a in self.by_disparity() {
            let _ = write!(s, "{:name_w$}", self.features[a.index]);
            for (g, w) in st.finest().zip(&widths) {
                let m = &a.by_group[g];
                let _ = write!(s, "{:w$}", format!("{:<7}{}", num(m.tpr.estimate), num(m.fpr.estimate)));
            }
            let eod = &a.equalized_odds_difference;
            let all = &a.by_group[0];
            let _ = writeln!(
                s,
                "{:24}{:8}{:8}{:8}",
                format!("{} {}", num(eod.estimate), interval(eod)),
                num(a.demographic_parity_difference.estimate),
                num(all.accuracy.estimate),
                num(all.auc.estimate)
            );
        }
        s.push_str("(EOD: equalized-odds difference, the larger of the TPR's and the FPR's max - min over the groups; DPD: demographic-parity difference, of the selection rate)\n");
    }

    /// Group attribute `k`'s leakage into every other measured feature, beside the probe's
    /// dependency row of that attribute when there is one.
    fn leakage_table(&self, s: &mut String, k: usize, probe: Option<&ProbeRow>) {
        let st = &self.statistics;
        let t = st.group_attributes[k];
        let name = &self.features[t];
        let ci = pct(self.settings.ci);
        let mut rows: Vec<&Leakage> = st.leakage.iter().filter(|l| l.group_attribute == t && l.feature != t).collect();
        if rows.is_empty() {
            return;
        }
        let dependency = |l: &Leakage| probe.and_then(|p| p.dependency[l.feature].estimate);
        let gap = |l: &Leakage| l.fp_gap.estimate.unwrap_or(0.0).abs().max(l.fn_gap.estimate.unwrap_or(0.0).abs());
        let key = |l: &Leakage| if probe.is_some() { dependency(l).map_or(-1.0, f64::abs) } else { gap(l) };
        rows.sort_by(|a, b| key(b).total_cmp(&key(a)).then(a.feature.cmp(&b.feature)));
        let _ = writeln!(
            s,
            "# leakage of {name} into the classifier's errors: fp gap = P(pred a | a = 0, {name} = 1) - P(pred a | a = 0, {name} = 0), fn gap the same for a shown but missed ({ci}% Newcombe intervals)"
        );
        match probe {
            Some(p) => {
                let _ = writeln!(
                    s,
                    "# beside the probe's dependency row for {name} ({} images x {} steps, {}, {}); leak: a gap whose interval has the sign that alone would produce that dependency, where its q <= {}",
                    p.images, p.steps, p.noise, p.generator, p.alpha
                );
            }
            None => {
                s.push_str("# (no probe row: give a generator, or use the bundled weights, to read it beside the probe's dependency)\n")
            }
        }
        let name_w = self.features.iter().map(|n| n.len()).max().unwrap_or(7).max(7) + 2;
        let _ = write!(s, "{:name_w$}{:26}{:26}", "feature", format!("fp gap [{ci}% CI]"), format!("fn gap [{ci}% CI]"));
        if probe.is_some() {
            let _ = write!(s, "{:28}{:9}leak", format!("probe dependency [{ci}% CI]"), "q");
        }
        s.push('\n');
        for l in rows {
            let _ = write!(
                s,
                "{:name_w$}{:26}{:26}",
                self.features[l.feature],
                format!("{} {}", signed(l.fp_gap.estimate), interval(&l.fp_gap)),
                format!("{} {}", signed(l.fn_gap.estimate), interval(&l.fn_gap))
            );
            if let Some(p) = probe {
                let d = &p.dependency[l.feature];
                let q = p.q[l.feature].map_or_else(|| "-".to_string(), |q| format!("{q:.3}"));
                let _ = write!(
                    s,
                    "{:28}{:9}{}",
                    format!("{} {}", signed(d.estimate), interval(d)),
                    q,
                    leak_verdict(l, d.estimate, p.significant(l.feature))
                );
            }
            s.push('\n');
        }
    }
}

/// A level as a percentage: `95`, `99.9`.
fn pct(ci: f64) -> String {
    format!("{}", (ci * 1000.0).round() / 10.0)
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"))
}

fn signed(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:+.3}"))
}

fn interval(e: &Estimate) -> String {
    e.interval.as_ref().map_or_else(String::new, |i| format!("[{:.3}, {:.3}]", i.low, i.high))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Interval, Proportion};

    fn est(v: f64, low: f64, high: f64) -> Estimate {
        Estimate { estimate: Some(v), interval: Some(Interval { low, high }) }
    }

    fn leak(fp: Estimate, fn_gap: Estimate) -> Leakage {
        let p = Proportion { count: 0, total: 0, estimate: None, interval: None };
        Leakage { group_attribute: 0, feature: 1, fpr_t1: p.clone(), fpr_t0: p.clone(), fnr_t1: p.clone(), fnr_t0: p, fp_gap: fp, fn_gap }
    }

    #[test]
    fn verdict_reads_each_gap_by_the_sign_it_would_produce() {
        let up = est(0.1, 0.05, 0.15);
        let down = est(-0.1, -0.15, -0.05);
        let zero = est(0.0, -0.05, 0.05);
        assert_eq!(leak_verdict(&leak(up, zero), Some(0.4), true), "fp");
        assert_eq!(leak_verdict(&leak(up, zero), Some(-0.4), true), "-");
        assert_eq!(leak_verdict(&leak(zero, down), Some(0.4), true), "fn");
        assert_eq!(leak_verdict(&leak(down, up), Some(-0.4), true), "fp+fn");
        assert_eq!(leak_verdict(&leak(down, up), Some(-0.4), false), "-", "not significant");
        assert_eq!(leak_verdict(&leak(up, down), None, true), "-");
        assert_eq!(leak_verdict(&leak(zero, zero), Some(1.0), true), "-");
        assert_eq!(leak_verdict(&leak(up, Estimate { estimate: None, interval: None }), Some(0.0), true), "-");
    }

    #[test]
    fn cells_leave_undefined_values_empty() {
        assert_eq!(cells(&est(0.25, 0.125, 0.5)), "0.25,0.125,0.5");
        assert_eq!(cells(&Estimate { estimate: Some(1.0), interval: None }), "1,,");
        assert_eq!(cells(&Estimate { estimate: None, interval: None }), ",,");
        assert_eq!(pct(0.95), "95");
        assert_eq!(pct(0.999), "99.9");
    }
}
