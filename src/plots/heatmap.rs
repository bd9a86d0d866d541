//! The F x F matrix as a heatmap, laid out once for every canvas.
//!
//! Owns: the heatmap layout. Must not touch: the matrix's numbers, files.

use super::canvas::{Anchor, Canvas, Rect, TextStyle, WHITE};
use super::diverging;
use crate::stats::FeatureMatrix;

/// A value a heatmap can draw: widened to f64 for its colour, written as it is (`{:e}`) for
/// its `data-value`, so an f32 covariance shows its own digits.
pub trait HeatmapValue: Copy + Into<f64> + std::fmt::LowerExp {}

impl<T: Copy + Into<f64> + std::fmt::LowerExp> HeatmapValue for T {}

/// Side of a cell in user units.
pub const CELL: f64 = 14.0;
/// Top of the first row of cells (below the title).
pub const TOP: f64 = 45.0;
/// Room right of the cells for the colour bar and its labels.
pub const BAR_ROOM: f64 = 110.0;
/// Font sizes of the names and of the title.
const NAME_SIZE: f64 = 10.0;
const TITLE_SIZE: f64 = 16.0;

/// Room for the names left of and below the cells: `ceil(10 + 6.2 n)` user units, `n` the
/// longest name in characters (6.2 per character of size 10 is at least the bitmap font's
/// width and about sans-serif's).
pub fn label_room(names: &[String]) -> f64 {
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    (10 + (31 * longest).div_ceil(5)) as f64
}

/// Room the title needs across: `ceil(20 + 9.92 n)`, `n` its length in characters (9.92 per
/// character is the names' allowance at size 16).
pub(super) fn title_room(title: &str) -> f64 {
    (20 + (248 * title.chars().count()).div_ceil(25)) as f64
}

/// The picture's size in user units, whole numbers: with `L` = [`label_room`] and `F` names,
/// `max(L + 14 F + 110, ceil(20 + 9.92 x title length))` by `45 + 14 F + L`.
pub fn heatmap_size(names: &[String], title: &str) -> (f64, f64) {
    let (label, side) = (label_room(names), CELL * names.len() as f64);
    ((label + side + BAR_ROOM).max(title_room(title)), TOP + side + label)
}

/// Draws the `F x F` `matrix` as a heatmap, with its names: cell `(r, c)`
/// is the square at `x = L + 14 c`, `y = 45 + 14 r` (`L` = [`label_room`]), side 14, in the
/// [`diverging`] colour of `value / lim`, where the symmetric limit `lim` is the largest
/// finite |value| off the diagonal (of all entries when that is 0; 1 when all are 0), so a
/// dominant diagonal (variances, or the 1s of a correlation) saturates rather than washing
/// the rest out. Names go left of the rows and under the columns (turned), the title above,
/// and a colour bar from +lim (top) to -lim right of the cells.
///
/// Cells are tagged `class="cell"` with their `data-value`; names `class="ylabel"` and
/// `class="xlabel"`; the bar's numbers `class="bar"`.
pub fn draw<C: Canvas, T: HeatmapValue>(c: &mut C, m: &FeatureMatrix<T>, title: &str) {
    let (names, matrix) = (m.names(), m.values());
    let f = names.len();
    let finite_abs = |v: &T| Some((*v).into().abs()).filter(|a| a.is_finite());
    let off = (0..f * f).filter(|k| k / f != k % f).filter_map(|k| finite_abs(&matrix[k])).fold(0.0, f64::max);
    let lim = if off > 0.0 { off } else { matrix.iter().filter_map(finite_abs).fold(0.0, f64::max) };
    let lim = if lim > 0.0 { lim } else { 1.0 };
    let (w, h) = heatmap_size(names, title);
    let left = label_room(names);
    let side = CELL * f as f64;

    c.fill_rect(Rect { x: 0.0, y: 0.0, w, h }, WHITE, 1.0);
    // The title centred over the cells, unless that would push it off the picture.
    let half = (title_room(title) - 20.0) / 2.0;
    let tx = (left + side / 2.0).min(w - 10.0 - half).max(10.0 + half);
    c.text((tx, 26.0), title, TextStyle::new(TITLE_SIZE, Anchor::Middle));
    for r in 0..f {
        for col in 0..f {
            let v = m.get(r, col);
            c.tag(&[("class", "cell".into()), ("data-value", format!("{v:e}"))]);
            let cell = Rect { x: left + col as f64 * CELL, y: TOP + r as f64 * CELL, w: CELL, h: CELL };
            c.fill_rect(cell, diverging(v.into() / lim), 1.0);
        }
    }
    for (i, name) in names.iter().enumerate() {
        let y = TOP + (i as f64 + 0.5) * CELL + 3.5;
        c.tag(&[("class", "ylabel".into())]);
        c.text((left - 4.0, y), name, TextStyle::new(NAME_SIZE, Anchor::End));
        let x = left + (i as f64 + 0.5) * CELL + 3.5;
        c.tag(&[("class", "xlabel".into())]);
        c.text((x, TOP + side + 4.0), name, TextStyle::new(NAME_SIZE, Anchor::End).vertical());
    }
    // The colour bar: +lim at the top, -lim at the bottom.
    let bar = Rect { x: left + side + 25.0, y: TOP, w: 16.0, h: side };
    c.vertical_gradient(bar, &[(0.0, diverging(1.0)), (0.5, diverging(0.0)), (1.0, diverging(-1.0))]);
    c.stroke_rect(bar, [0x88; 3], 1.0);
    for (frac, v) in [(0.0, lim), (0.5, 0.0), (1.0, -lim)] {
        c.tag(&[("class", "bar".into())]);
        c.text((bar.x + 20.0, TOP + frac * side + 4.0), &format!("{v:.3}"), TextStyle::new(NAME_SIZE, Anchor::Start));
    }
}
