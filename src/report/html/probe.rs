//! The HTML page of one probe: provenance, the planted-world verdict, the top table with every
//! metric's interval, p and q, the pictures (regplot, heatmap, image grid) and the
//! observational block.
//!
//! Owns: the probe page's layout. Must not touch: the report's content, the pictures' drawing.

use super::{Cell, Page, Provenance, Table, figure, para, png_figure};
use crate::report::probe::ProbeReport;
use crate::report::recovery_line;

/// The pictures a probe page shows, already drawn.
#[derive(Debug, Clone, Default)]
pub struct ProbePictures {
    /// The notebook's regplot, as SVG.
    pub regplot: Option<String>,
    /// The covariance heatmap, as SVG.
    pub heatmap: Option<String>,
    /// The picture grid, as PNG bytes.
    pub grid: Option<Vec<u8>>,
}

/// The page of `report`.
pub fn page(report: &ProbeReport, provenance: &Provenance, pictures: &ProbePictures) -> String {
    let s = &report.settings;
    let mut page = Page::new(&format!("gan-bias probe: {}", s.feature), provenance);

    if let Some(g) = &report.planted {
        let line = recovery_line(&g.world, &s.feature, &g.recovery, g.carries_factor);
        page.section(
            "verdict",
            "Verdict against the planted world",
            "These models were trained on a synthetic world whose correlations were planted on purpose. The probe passes when its measured row agrees with the planted one: the same signs, and the planted strongest partners among the measured top features.",
            &para(line.trim_start_matches("# ")),
        );
    }

    let ci = format!("{}%", (100.0 * s.ci).round());
    let metric = s.rank_by.name();
    let mut top = Table::new(
        "top",
        &[
            "rank",
            "feature",
            "covariance",
            "correlation",
            "slope",
            "dependency",
            &format!("{metric} {ci} low"),
            &format!("{metric} {ci} high"),
            "p",
            "q",
            "significant",
        ],
    );
    let planted = report.planted.as_ref().map(|g| &g.planted);
    if planted.is_some() {
        top.headers.push("planted correlation".into());
    }
    for r in &report.top {
        let mut cells = vec![
            Cell::num(Some(r.rank as f64), 0),
            Cell::text(r.feature.clone()),
            Cell::num(Some(f64::from(r.covariance)), 4),
            Cell::num(r.correlation, 3),
            Cell::num(r.slope, 3),
            Cell::num(r.dependency, 3),
            Cell::num(r.ci_low, 4),
            Cell::num(r.ci_high, 4),
            Cell::num(r.p, 4),
            Cell::num(r.q, 4),
            Cell::text(if r.significant { "yes" } else { "no" }),
        ];
        if let Some(p) = planted {
            cells.push(Cell::num(p.get(r.index).copied(), 3));
        }
        top.row(cells, r.significant);
    }
    page.section(
        "top",
        &format!("What moves with {}", s.feature),
        &format!(
            "The probe moved {} images' noise up and down {}'s gradient for {} steps each way and recorded how every other feature's logit changed. Rows are ranked by |{metric}|. Covariance is the notebook's figure; correlation is how tightly the feature follows, in [-1, 1]; slope is logit units per unit of {}; dependency is standard deviations of the feature per standard deviation of {}. The interval is a {ci} bootstrap over images; p tests 'does not move with {}', and q corrects it for testing every feature (Benjamini-Hochberg). Highlighted rows are significant (q at most {}). Click a column to sort.",
            s.images, s.feature, s.steps, s.feature, s.feature, s.feature, s.alpha
        ),
        &top.html(),
    );

    let mut figures = String::new();
    if let Some(svg) = &pictures.regplot {
        figures.push_str(&figure(
            svg,
            &format!("The notebook's plot: each feature's change against {}'s, binned, with least-squares lines and 99% bands.", s.feature),
        ));
    }
    if let Some(svg) = &pictures.heatmap {
        figures.push_str(&figure(svg, "The covariance of every pair of features' changes (hover a cell for its value)."));
    }
    if let Some(png) = &pictures.grid {
        figures.push_str(&png_figure(
            png,
            "the probe's images",
            &format!(
                "Images down, steps across: the steps down {} on the left, the starting image in the middle, the steps up on the right.",
                s.feature
            ),
        ));
    }
    if !figures.is_empty() {
        page.section(
            "pictures",
            "Pictures",
            "The same numbers drawn: how the other features follow the target as the noise moves, every pair's covariance, and what the generator's faces look like along the way.",
            &figures,
        );
    }
    for (i, name) in report.features.iter().enumerate() {
        for (j, other) in report.features.iter().enumerate() {
            page.cell_info(name, other, format!("{name} / {other}: covariance {:.4}", report.covariance[i][j]));
        }
    }

    let st = &report.statistics;
    let o = &st.observational;
    let mut obs = Table::new(
        "observational",
        &["feature", "prevalence", &format!("{ci} low"), &format!("{ci} high"), "parity gap", "gap low", "gap high", "dependency"],
    );
    for r in &report.top {
        let prev = &o.prevalence[r.index];
        let gap = o.parity_gap.iter().find(|g| g.index == r.index);
        let (low, high) = prev.interval.as_ref().map_or((None, None), |i| (Some(i.low), Some(i.high)));
        let (glow, ghigh) = gap.and_then(|g| g.interval.as_ref()).map_or((None, None), |i| (Some(i.low), Some(i.high)));
        obs.row(
            vec![
                Cell::text(r.feature.clone()),
                Cell::num(prev.estimate, 3),
                Cell::num(low, 3),
                Cell::num(high, 3),
                Cell::num(gap.and_then(|g| g.gap), 3),
                Cell::num(glow, 3),
                Cell::num(ghigh, 3),
                Cell::num(r.dependency, 3),
            ],
            false,
        );
    }
    page.section(
        "observational",
        "What the generator shows unedited",
        &format!(
            "On the {} starting images as the classifier reads them (logit above 0; {} predicted on {}, not on {}): how common each feature is (prevalence, Wilson interval), and how much more common it is among images showing {} than among the others (parity gap, Newcombe interval), beside the probe's dependency. The gap is what the generator produces; the dependency is what moving along {} changes.",
            st.images, s.feature, o.target_predicted, o.target_not_predicted, s.feature, s.feature
        ),
        &obs.html(),
    );
    page.finish(&report.to_json())
}
