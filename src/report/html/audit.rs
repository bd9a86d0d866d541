//! The HTML page of a classifier audit: provenance, the features by group, the disparities,
//! the leakage beside the probe's dependency rows, and the rates plot.
//!
//! Owns: the audit page's layout. Must not touch: the report's content, the plot's drawing.

use super::{Cell, Page, Provenance, Table, figure};
use crate::report::audit::AuditReport;
use crate::report::audit::views::leak_verdict;
use crate::stats::{Estimate, GroupMetric};

fn low(e: &Estimate) -> Option<f64> {
    e.interval.as_ref().map(|i| i.low)
}

fn high(e: &Estimate) -> Option<f64> {
    e.interval.as_ref().map(|i| i.high)
}

/// The page of `report`, with its rates plot drawn as `plot` (SVG).
pub fn page(report: &AuditReport, provenance: &Provenance, plot: &str) -> String {
    let (st, set) = (&report.statistics, &report.settings);
    let ci = format!("{}%", (100.0 * set.ci).round());
    let mut page = Page::new(&format!("gan-bias classifier audit by {}", set.group_attributes.join(" and ")), provenance);

    let mut groups = Table::new(
        "groups",
        &[
            "feature",
            "group",
            "n",
            "base rate",
            "selection rate",
            "accuracy",
            "TPR",
            "TPR low",
            "TPR high",
            "FPR",
            "FPR low",
            "FPR high",
            "PPV",
            "AUC",
            "AUC low",
            "AUC high",
        ],
    );
    for a in report.by_disparity() {
        for (g, m) in a.by_group.iter().enumerate() {
            let small = st.groups[g].small;
            groups.row(
                vec![
                    Cell::text(report.features[a.index].clone()),
                    Cell::text(report.groups[g].clone()),
                    Cell::num(Some(st.groups[g].n as f64), 0),
                    Cell::num(m.base_rate.estimate, 3),
                    Cell::num(m.selection_rate.estimate, 3),
                    Cell::num(m.accuracy.estimate, 3),
                    Cell::num(m.tpr.estimate, 3),
                    Cell::num(low(&m.tpr), 3),
                    Cell::num(high(&m.tpr), 3),
                    Cell::num(m.fpr.estimate, 3),
                    Cell::num(low(&m.fpr), 3),
                    Cell::num(high(&m.fpr), 3),
                    Cell::num(m.ppv.estimate, 3),
                    Cell::num(m.auc.estimate, 3),
                    Cell::num(low(&m.auc), 3),
                    Cell::num(high(&m.auc), 3),
                ],
                small,
            );
        }
    }
    page.section(
        "groups",
        "The classifier's rates by group",
        &format!(
            "On {} labelled images, groups formed by the true labels of {}: how often the classifier calls each feature when the image shows it (TPR) and when it does not (FPR), its accuracy, precision (PPV) and AUC, with {ci} intervals (Wilson for rates, bootstrap over images for the AUC). Highlighted rows are groups of fewer than {} images: read them with care. Features with the largest equalized-odds difference come first. Click a column to sort.",
            st.images,
            set.group_attributes.join(" and "),
            st.min_group
        ),
        &groups.html(),
    );

    let mut disparities = Table::new(
        "disparities",
        &[
            "feature",
            "equalized odds difference",
            "low",
            "high",
            "demographic parity difference",
            "low",
            "high",
            "equal opportunity difference",
            "TPR ratio",
            "FPR ratio",
        ],
    );
    for a in report.by_disparity() {
        let (eod, dpd, eop) = (&a.equalized_odds_difference, &a.demographic_parity_difference, &a.equal_opportunity_difference);
        disparities.row(
            vec![
                Cell::text(report.features[a.index].clone()),
                Cell::num(eod.estimate, 3),
                Cell::num(low(eod), 3),
                Cell::num(high(eod), 3),
                Cell::num(dpd.estimate, 3),
                Cell::num(low(dpd), 3),
                Cell::num(high(dpd), 3),
                Cell::num(eop.estimate, 3),
                Cell::num(a.disparity(GroupMetric::Tpr).ratio.estimate, 3),
                Cell::num(a.disparity(GroupMetric::Fpr).ratio.estimate, 3),
            ],
            false,
        );
    }
    page.section(
        "disparities",
        "Disparities between groups",
        "How far apart the groups are, as Fairlearn defines it: a difference is the largest group's rate minus the smallest's, a ratio the smallest over the largest. Equalized odds is the larger of the TPR's and the FPR's differences; demographic parity compares how often the feature is called at all; equal opportunity compares the TPR. 0 (difference) or 1 (ratio) means no disparity. Intervals are a bootstrap over images.",
        &disparities.html(),
    );

    for &t in &st.group_attributes {
        let name = &report.features[t];
        let probe = report.probe.iter().find(|r| r.target == t);
        let mut headers = vec!["feature", "fp gap", "fp low", "fp high", "fn gap", "fn low", "fn high"];
        if probe.is_some() {
            headers.extend(["probe dependency", "dependency low", "dependency high", "q", "leak"]);
        }
        let id = format!("leakage-{t}");
        let mut table = Table::new(&id, &headers);
        for l in st.leakage.iter().filter(|l| l.group_attribute == t && l.feature != t) {
            let mut cells = vec![
                Cell::text(report.features[l.feature].clone()),
                Cell::num(l.fp_gap.estimate, 3),
                Cell::num(low(&l.fp_gap), 3),
                Cell::num(high(&l.fp_gap), 3),
                Cell::num(l.fn_gap.estimate, 3),
                Cell::num(low(&l.fn_gap), 3),
                Cell::num(high(&l.fn_gap), 3),
            ];
            let mut marked = false;
            if let Some(p) = probe {
                let d = &p.dependency[l.feature];
                let q = p.q[l.feature];
                let verdict = leak_verdict(l, d.estimate, p.significant(l.feature));
                marked = verdict != "-";
                cells.extend([Cell::num(d.estimate, 3), Cell::num(low(d), 3), Cell::num(high(d), 3), Cell::num(q, 4), Cell::text(verdict)]);
            }
            table.row(cells, marked);
        }
        let beside = match probe {
            Some(p) => format!(
                " Beside them is the probe's dependency row for {name} ({} images x {} steps, noise {}): how far each feature's logit moves when the generator's noise moves {name}'s. The leak column names the gap whose sign alone could produce a significant dependency (highlighted): fp when the classifier calls the feature more often, unshown, in the group that raises it; fn when it misses it less often there. A leak says the classifier could be part of that dependency, not how large a part.",
                p.images, p.steps, p.noise
            ),
            None => String::new(),
        };
        page.section(
            &id,
            &format!("Leakage of {name} into the classifier's errors"),
            &format!(
                "The fp gap is P(called | not shown, {name} = 1) - P(called | not shown, {name} = 0): how much more often the classifier sees the feature in that group although the image does not show it; the fn gap is the same for a feature shown but missed. Intervals are Newcombe's ({ci}).{beside}"
            ),
            &table.html(),
        );
    }
    page.section(
        "plot",
        "TPR and FPR by group",
        &format!("For the features with the largest equalized-odds difference, each group's TPR (blue) and FPR (orange) with {ci} intervals: bars that do not overlap are groups the classifier treats differently."),
        &figure(plot, "TPR and FPR per group"),
    );
    page.finish(&report.to_json())
}
