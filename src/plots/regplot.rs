//! The notebook's `sns.regplot` of the recorded changes, laid out once for every canvas.
//!
//! Owns: the regplot layout. Must not touch: the fits (crate::stats), files.

use super::canvas::{Anchor, Canvas, Rect, Rgb, TextStyle, WHITE};
use super::{COLOURS, CONFIDENCE, pad, ticks};
use crate::stats::{Bin, Fit, regression, x_bins};

/// One series of the regplot: the other feature's name, the target's changes (x) and the
/// other feature's (y), as many of each.
pub type Series = (String, Vec<f64>, Vec<f64>);

/// Size of the picture in user units.
pub const WIDTH: f64 = 760.0;
pub const HEIGHT: f64 = 520.0;
/// Margins around the plotting area: left, right, top, bottom.
pub const MARGINS: (f64, f64, f64, f64) = (75.0, 20.0, 45.0, 60.0);
/// The plotting area's colour (seaborn's darkgrid).
pub const AREA: Rgb = [0xea, 0xea, 0xf2];
/// Radius of a bin's marker.
pub const MARKER: f64 = 3.5;
/// Width of the fitted lines.
pub const LINE: f64 = 2.0;
/// Opacity of the 99% bands.
const BAND: f64 = 0.15;
const LEGEND_BORDER: Rgb = [0xcc, 0xcc, 0xcc];

/// Corners of each band's outline: this many segments along x.
const BAND_STEPS: usize = 40;

/// The band of `f` over `[lo, hi]`: `(x, lower, upper)` at `BAND_STEPS + 1` points.
fn band_points(f: &Fit, lo: f64, hi: f64) -> Vec<(f64, f64, f64)> {
    (0..=BAND_STEPS)
        .map(|i| {
            let x = lo + (hi - lo) * i as f64 / BAND_STEPS as f64;
            let (a, b) = f.band(x, CONFIDENCE);
            (x, a, b)
        })
        .collect()
}

/// Draws the regplot: for each `(name, x, y)` the bins of x (`bins` of them, see [`x_bins`]),
/// as points with vertical 99% bars, and the least-squares line over the range of x with its
/// translucent 99% band, in [`COLOURS`] in turn; white grid lines at round ticks; axis labels,
/// the title `Generator Biases: Features vs <target>-ness` and a legend at the upper right.
///
/// The axes span the data's x range and the y range of the bars and bands, each widened by
/// 5% of its span on both sides. Each fitted line is tagged `class="fit"` with `data-feature`,
/// `data-slope` and `data-intercept`; each band `class="band"`.
pub fn draw<C: Canvas>(c: &mut C, target_name: &str, series: &[Series], bins: usize) {
    let (left, right, top, bottom) = MARGINS;
    let fitted: Vec<(Fit, Vec<Bin>, f64, f64)> = series
        .iter()
        .map(|(_, x, y)| {
            let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (regression(x, y), x_bins(x, y, bins, CONFIDENCE), lo, hi)
        })
        .collect();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for (f, bs, lo, hi) in fitted.iter().filter(|t| t.2.is_finite()) {
        x0 = x0.min(*lo);
        x1 = x1.max(*hi);
        for b in bs.iter().filter(|b| b.count > 0) {
            (y0, y1) = (y0.min(b.lo), y1.max(b.hi));
        }
        for (_, a, b) in band_points(f, *lo, *hi) {
            (y0, y1) = (y0.min(a), y1.max(b));
        }
    }
    if !x0.is_finite() || !y0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let ((x0, x1), (y0, y1)) = (pad(x0, x1), pad(y0, y1));
    let (pw, ph) = (WIDTH - left - right, HEIGHT - top - bottom);
    let sx = |v: f64| left + (v - x0) / (x1 - x0) * pw;
    let sy = |v: f64| top + (y1 - v) / (y1 - y0) * ph;

    c.fill_rect(Rect { x: 0.0, y: 0.0, w: WIDTH, h: HEIGHT }, WHITE, 1.0);
    c.fill_rect(Rect { x: left, y: top, w: pw, h: ph }, AREA, 1.0);
    let tick_style = TextStyle::new(12.0, Anchor::Middle);
    let (xt, xd) = ticks(x0, x1, 8);
    for t in &xt {
        let x = sx(*t);
        c.line((x, top), (x, top + ph), WHITE, 1.0);
        c.text((x, top + ph + 16.0), &format!("{t:.xd$}"), tick_style);
    }
    let (yt, yd) = ticks(y0, y1, 7);
    for t in &yt {
        let y = sy(*t);
        c.line((left, y), (left + pw, y), WHITE, 1.0);
        c.text((left - 6.0, y + 4.0), &format!("{t:.yd$}"), TextStyle::new(12.0, Anchor::End));
    }
    for (i, ((name, _, _), (f, bs, lo, hi))) in series.iter().zip(&fitted).enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        if !lo.is_finite() {
            continue;
        }
        let pts = band_points(f, *lo, *hi);
        let mut outline: Vec<(f64, f64)> = pts.iter().map(|(x, _, b)| (sx(*x), sy(*b))).collect();
        outline.extend(pts.iter().rev().map(|(x, a, _)| (sx(*x), sy(*a))));
        c.tag(&[("class", "band".into())]);
        c.fill_polygon(&outline, colour, BAND);
        for b in bs.iter().filter(|b| b.count > 0) {
            let x = sx(b.x);
            c.line((x, sy(b.lo)), (x, sy(b.hi)), colour, 1.5);
            c.circle((x, sy(b.mean)), MARKER, colour);
        }
        c.tag(&[
            ("class", "fit".into()),
            ("data-feature", name.clone()),
            ("data-slope", format!("{:e}", f.slope)),
            ("data-intercept", format!("{:e}", f.intercept)),
        ]);
        c.line((sx(*lo), sy(f.predict(*lo))), (sx(*hi), sy(f.predict(*hi))), colour, LINE);
    }
    // Axes' labels, title and the legend at the upper right.
    c.text((left + pw / 2.0, HEIGHT - 18.0), target_name, TextStyle::new(14.0, Anchor::Middle));
    c.text((18.0, top + ph / 2.0), "Other Feature", TextStyle::new(14.0, Anchor::Middle).vertical());
    let title = format!("Generator Biases: Features vs {target_name}-ness");
    c.text((left + pw / 2.0, 28.0), &title, TextStyle::new(16.0, Anchor::Middle));
    if series.is_empty() {
        return;
    }
    let longest = series.iter().map(|t| c.text_width(&t.0, 12.0)).fold(0.0, f64::max);
    let (lw, lh) = ((40.0 + longest).ceil(), 10.0 + 20.0 * series.len() as f64);
    let (lx, ly) = (left + pw - lw - 8.0, top + 8.0);
    let legend = Rect { x: lx, y: ly, w: lw, h: lh };
    c.fill_rect(legend, WHITE, 0.8);
    c.stroke_rect(legend, LEGEND_BORDER, 1.0);
    for (i, (name, _, _)) in series.iter().enumerate() {
        let y = ly + 15.0 + 20.0 * i as f64;
        let colour = COLOURS[i % COLOURS.len()];
        c.line((lx + 8.0, y), (lx + 28.0, y), colour, LINE);
        c.circle((lx + 18.0, y), MARKER, colour);
        c.text((lx + 34.0, y + 4.0), name, TextStyle::new(12.0, Anchor::Start));
    }
}
