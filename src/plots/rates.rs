//! The audit's plot: for each chosen feature, the classifier's TPR and FPR in every group,
//! each a point with its interval as a horizontal bar on one shared 0..1 axis, laid out once
//! for every canvas.
//!
//! Owns: the rate plot's layout. Must not touch: the rates (the audit's statistics), files.

use super::canvas::{Anchor, Canvas, Rect, Rgb, TextStyle, WHITE};
use super::regplot::AREA;
use super::{COLOURS, PlotError};
use crate::stats::Estimate;

/// One group's rates of one feature.
#[derive(Debug, Clone, PartialEq)]
pub struct RateGroup {
    pub name: String,
    pub n: usize,
    /// Fewer images than the audit's minimum: drawn hollow-labelled with a `*`.
    pub small: bool,
    pub tpr: Estimate,
    pub fpr: Estimate,
}

/// One feature's panel.
#[derive(Debug, Clone, PartialEq)]
pub struct RateFeature {
    pub name: String,
    pub groups: Vec<RateGroup>,
}

/// What the plot shows: the features in order, and the level of their intervals.
#[derive(Debug, Clone, PartialEq)]
pub struct RatePlot {
    pub features: Vec<RateFeature>,
    pub ci: f64,
}

/// The plotting area's width, in user units.
const AXIS_WIDTH: f64 = 460.0;
/// Height of a feature's name row and of each group's row.
const FEATURE_ROW: f64 = 22.0;
const GROUP_ROW: f64 = 16.0;
const TOP: f64 = 48.0;
const BOTTOM: f64 = 40.0;
const RIGHT: f64 = 24.0;
const FONT: f64 = 11.0;
const MARKER: f64 = 3.5;
/// The TPR's colour and the FPR's (tab10's first two).
const TPR_COLOUR: Rgb = COLOURS[0];
const FPR_COLOUR: Rgb = COLOURS[1];

impl RatePlot {
    /// Fails when there is nothing to draw.
    pub fn check(&self) -> Result<(), PlotError> {
        if self.features.is_empty() || self.features.iter().any(|f| f.groups.is_empty()) {
            return Err(PlotError::Shape("the rate plot needs at least one feature with at least one group".into()));
        }
        Ok(())
    }

    fn group_label(g: &RateGroup) -> String {
        format!("{} (n={}{})", g.name, g.n, if g.small { "*" } else { "" })
    }

    /// The left margin: room for the longest label.
    fn left(&self) -> f64 {
        let widest = self
            .features
            .iter()
            .flat_map(|f| {
                std::iter::once(f.name.chars().count() as f64 * 0.62 * (FONT + 1.0))
                    .chain(f.groups.iter().map(|g| Self::group_label(g).chars().count() as f64 * 0.62 * FONT + 12.0))
            })
            .fold(0.0, f64::max);
        (widest + 16.0).max(120.0)
    }

    /// The picture's size in user units.
    pub fn size(&self) -> (f64, f64) {
        let rows: f64 = self.features.iter().map(|f| FEATURE_ROW + GROUP_ROW * f.groups.len() as f64).sum();
        (self.left() + AXIS_WIDTH + RIGHT, TOP + rows + BOTTOM)
    }
}

/// Draws `plot`: a title, a legend (TPR, FPR), vertical grid lines at 0, 0.25, ..., 1, and
/// per feature its name, then one row per group with the TPR and FPR as points and their
/// intervals as bars; an undefined rate is not drawn. Each point is tagged `class="rate"` with
/// `data-feature`, `data-group`, `data-metric` and `data-value`.
pub fn draw<C: Canvas>(c: &mut C, plot: &RatePlot) {
    let (w, h) = plot.size();
    let left = plot.left();
    let sx = |v: f64| left + v.clamp(0.0, 1.0) * AXIS_WIDTH;
    c.fill_rect(Rect { x: 0.0, y: 0.0, w, h }, WHITE, 1.0);
    c.fill_rect(Rect { x: left, y: TOP - 6.0, w: AXIS_WIDTH, h: h - TOP - BOTTOM + 6.0 }, AREA, 1.0);
    let level = format!("{}", (plot.ci * 1000.0).round() / 10.0);
    c.text((w / 2.0, 20.0), &format!("Classifier error rates by group ({level}% intervals)"), TextStyle::new(14.0, Anchor::Middle));
    for k in 0..=4 {
        let v = k as f64 / 4.0;
        c.line((sx(v), TOP - 6.0), (sx(v), h - BOTTOM), WHITE, 1.0);
        c.text((sx(v), h - BOTTOM + 14.0), &format!("{v:.2}"), TextStyle::new(FONT, Anchor::Middle));
    }
    c.text((left + AXIS_WIDTH / 2.0, h - 8.0), "rate", TextStyle::new(12.0, Anchor::Middle));
    for (i, (label, colour)) in [("TPR", TPR_COLOUR), ("FPR", FPR_COLOUR)].into_iter().enumerate() {
        let x = left + AXIS_WIDTH - 110.0 + 55.0 * i as f64;
        c.circle((x, 36.0), MARKER, colour);
        c.text((x + 8.0, 40.0), label, TextStyle::new(FONT, Anchor::Start));
    }
    let mut y = TOP;
    for f in &plot.features {
        c.text((8.0, y + FEATURE_ROW - 7.0), &f.name, TextStyle::new(FONT + 1.0, Anchor::Start));
        y += FEATURE_ROW;
        for g in &f.groups {
            let mid = y + GROUP_ROW / 2.0;
            c.text((20.0, mid + 4.0), &RatePlot::group_label(g), TextStyle::new(FONT, Anchor::Start));
            for (metric, e, colour, dy) in [("tpr", &g.tpr, TPR_COLOUR, -2.5), ("fpr", &g.fpr, FPR_COLOUR, 2.5)] {
                let Some(v) = e.estimate else { continue };
                if let Some(i) = &e.interval {
                    c.line((sx(i.low), mid + dy), (sx(i.high), mid + dy), colour, 1.5);
                }
                c.tag(&[
                    ("class", "rate".into()),
                    ("data-feature", f.name.clone()),
                    ("data-group", g.name.clone()),
                    ("data-metric", metric.into()),
                    ("data-value", format!("{v}")),
                ]);
                c.circle((sx(v), mid + dy), MARKER, colour);
            }
            y += GROUP_ROW;
        }
    }
}
