//! A directed T x F matrix as a heatmap, laid out once for every canvas: row `r` is the
//! target moved (feature `rows[r]`), column `c` the response of feature `c`, so the picture
//! need not be square and its two triangles are not mirror images.
//!
//! Owns: the directed heatmap's layout and its input's shape check. Must not touch: the
//! matrix's numbers, files.

use super::canvas::{Anchor, Canvas, Rect, Rgb, TextStyle, WHITE};
use super::heatmap::{BAR_ROOM, CELL, TOP, label_room, title_room};
use super::{PlotError, diverging};

/// A directed matrix of one metric: row `r` moved feature `rows[r]`, column `c` is feature
/// `c`'s response.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectedMatrix {
    /// The feature index of each row's target.
    pub rows: Vec<usize>,
    /// The F feature names: the columns'; row `r` is named `names[rows[r]]`.
    pub names: Vec<String>,
    /// `rows.len() x F` values, row-major; `None` where undefined.
    pub values: Vec<Option<f64>>,
    /// Same shape: whether each value is significant (its q at most alpha).
    pub significant: Vec<bool>,
    /// What the values are, for the title (e.g. "dependency").
    pub metric: String,
}

impl DirectedMatrix {
    /// Fails unless `values` and `significant` hold `rows.len() x names.len()` entries each
    /// and every row's target is one of the names.
    pub fn check(&self) -> Result<(), PlotError> {
        let (t, f) = (self.rows.len(), self.names.len());
        for (what, len) in [("values", self.values.len()), ("significant", self.significant.len())] {
            if t.checked_mul(f) != Some(len) {
                return Err(PlotError::Shape(format!("{what} has {len} entries, not {t} targets x {f} features")));
            }
        }
        if let Some((r, target)) = self.rows.iter().enumerate().find(|(_, target)| **target >= f) {
            return Err(PlotError::Shape(format!("row {r}'s target is feature {target}, but there are {f} features")));
        }
        Ok(())
    }

    /// The value drawn at `(r, c)`: `None` on the diagonal (`c == rows[r]`), where undefined
    /// and where NaN.
    fn value(&self, r: usize, c: usize) -> Option<f64> {
        if c == self.rows[r] { None } else { self.values[r * self.names.len() + c].filter(|v| !v.is_nan()) }
    }
}

/// The fill of the diagonal's and the undefined cells: a light grey.
pub const NEUTRAL: Rgb = [0xe4, 0xe4, 0xe4];
/// How much of its colour's departure from white a cell that is not significant keeps.
pub const FADE: f64 = 0.3;
/// The colour bar's least height, so its three numbers never overlap.
const BAR_MIN: f64 = 56.0;
/// Room under the names for the legend line.
const LEGEND_ROOM: f64 = 24.0;
const NAME_SIZE: f64 = 10.0;
const TITLE_SIZE: f64 = 16.0;

/// The line under the picture saying what the faded and grey cells are.
pub const LEGEND: &str = "Faded cells: not significant (q > alpha). Grey: the target itself, or undefined.";

/// The title: `Directed <metric>: row = target moved, column = response`.
pub fn title(metric: &str) -> String {
    format!("Directed {metric}: row = target moved, column = response")
}

/// A not significant cell's colour: `colour` mixed towards white, each channel
/// `round(255 + (c - 255) x FADE)`.
pub fn faded(colour: Rgb) -> Rgb {
    colour.map(|c| (255.0 + (c as f64 - 255.0) * FADE).round() as u8)
}

/// The picture's size in user units, whole numbers, for `rows` targets and the F `names`:
/// with `L` = [`label_room`] of all the names (any may be a target),
/// `max(L + 14 F + 110, ceil(20 + 9.92 x title length), ceil(20 + 6.2 x legend length))` by
/// `45 + max(14 rows + L, 64) + 24`.
pub fn directed_size(rows: usize, names: &[String], metric: &str) -> (f64, f64) {
    let label = label_room(names);
    let legend = (20 + (31 * LEGEND.chars().count()).div_ceil(5)) as f64;
    let w = (label + CELL * names.len() as f64 + BAR_ROOM).max(title_room(&title(metric))).max(legend);
    (w, TOP + grid_height(rows, label) + LEGEND_ROOM)
}

/// The height of the cells with the names under them, or of the colour bar if more.
fn grid_height(rows: usize, label: f64) -> f64 {
    (CELL * rows as f64 + label).max(BAR_MIN + 8.0)
}

/// Draws `m` (which must pass [`DirectedMatrix::check`]) at [`directed_size`]: cell `(r, c)`
/// is the square at `x = L + 14 c`, `y = 45 + 14 r`, side 14. A defined cell off the diagonal
/// has the [`diverging`] colour of `value / lim`, `lim` the largest finite |value| off the
/// diagonal (1 when there is none or it is 0); one that is not significant has that colour
/// [`faded`] (a frame on each was tried: on a matrix of mostly faint cells the frames drew
/// more ink than the values). The diagonal's and the
/// undefined cells are [`NEUTRAL`], without a value. Row names go left, column names under
/// the cells (turned), the title above, a colour bar from +lim (top) to -lim on the right,
/// and [`LEGEND`] at the bottom.
///
/// Every cell carries `data-row` (its target's name), `data-col` (its feature's name) and
/// `data-value` (`{:e}`, empty on the diagonal and where undefined) and is tagged
/// `class="cell"`, `class="diagonal"` or `class="undefined"`; the defined ones also carry
/// `data-significant`. Names are `class="ylabel"` and `class="xlabel"`, the bar's numbers
/// `class="bar"`, the legend `class="legend"`.
///
/// # Panics
/// When `m` fails [`DirectedMatrix::check`].
pub fn draw<C: Canvas>(c: &mut C, m: &DirectedMatrix) {
    let (names, f, t) = (&m.names, m.names.len(), m.rows.len());
    let lim = (0..t * f).filter_map(|k| m.value(k / f, k % f)).map(f64::abs).filter(|a| a.is_finite()).fold(0.0, f64::max);
    let lim = if lim > 0.0 { lim } else { 1.0 };
    let (w, h) = directed_size(t, names, &m.metric);
    let left = label_room(names);
    let (across, down) = (CELL * f as f64, CELL * t as f64);

    c.fill_rect(Rect { x: 0.0, y: 0.0, w, h }, WHITE, 1.0);
    // The title centred over the cells, unless that would push it off the picture.
    let title = title(&m.metric);
    let half = (title_room(&title) - 20.0) / 2.0;
    let tx = (left + across / 2.0).min(w - 10.0 - half).max(10.0 + half);
    c.text((tx, 26.0), &title, TextStyle::new(TITLE_SIZE, Anchor::Middle));

    for (r, &target) in m.rows.iter().enumerate() {
        for col in 0..f {
            let cell = Rect { x: left + col as f64 * CELL, y: TOP + r as f64 * CELL, w: CELL, h: CELL };
            let mut attrs: Vec<(&str, String)> =
                vec![("class", String::new()), ("data-row", names[target].clone()), ("data-col", names[col].clone())];
            let Some(v) = m.value(r, col) else {
                attrs[0].1 = (if col == target { "diagonal" } else { "undefined" }).into();
                attrs.push(("data-value", String::new()));
                c.tag(&attrs);
                c.fill_rect(cell, NEUTRAL, 1.0);
                continue;
            };
            let significant = m.significant[r * f + col];
            attrs[0].1 = "cell".into();
            attrs.push(("data-value", format!("{v:e}")));
            attrs.push(("data-significant", significant.to_string()));
            c.tag(&attrs);
            let colour = diverging((v / lim).clamp(-1.0, 1.0));
            if significant {
                c.fill_rect(cell, colour, 1.0);
            } else {
                c.fill_rect(cell, faded(colour), 1.0);
            }
        }
        c.tag(&[("class", "ylabel".into())]);
        let y = TOP + (r as f64 + 0.5) * CELL + 3.5;
        c.text((left - 4.0, y), &names[target], TextStyle::new(NAME_SIZE, Anchor::End));
    }
    for (i, name) in names.iter().enumerate() {
        c.tag(&[("class", "xlabel".into())]);
        let x = left + (i as f64 + 0.5) * CELL + 3.5;
        c.text((x, TOP + down + 4.0), name, TextStyle::new(NAME_SIZE, Anchor::End).vertical());
    }
    // The colour bar: +lim at the top, -lim at the bottom.
    let bar = Rect { x: left + across + 25.0, y: TOP, w: 16.0, h: down.max(BAR_MIN) };
    c.vertical_gradient(bar, &[(0.0, diverging(1.0)), (0.5, diverging(0.0)), (1.0, diverging(-1.0))]);
    c.stroke_rect(bar, [0x88; 3], 1.0);
    for (frac, v) in [(0.0, lim), (0.5, 0.0), (1.0, -lim)] {
        c.tag(&[("class", "bar".into())]);
        c.text((bar.x + 20.0, TOP + frac * bar.h + 4.0), &format!("{v:.3}"), TextStyle::new(NAME_SIZE, Anchor::Start));
    }
    c.tag(&[("class", "legend".into())]);
    c.text((10.0, TOP + grid_height(t, left) + 16.0), LEGEND, TextStyle::new(NAME_SIZE, Anchor::Start));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: Vec<usize>, f: usize, len: usize, sig: usize) -> DirectedMatrix {
        let names = (0..f).map(|i| format!("f{i}")).collect();
        DirectedMatrix { rows, names, values: vec![Some(1.0); len], significant: vec![true; sig], metric: "m".into() }
    }

    #[test]
    fn check_names_what_is_wrong() {
        assert!(matrix(vec![0, 2], 3, 6, 6).check().is_ok());
        assert!(matrix(vec![], 0, 0, 0).check().is_ok());
        for (m, needle) in [
            (matrix(vec![0, 2], 3, 5, 6), "values has 5 entries, not 2 targets x 3 features"),
            (matrix(vec![0, 2], 3, 6, 7), "significant has 7 entries"),
            (matrix(vec![0, 3], 3, 6, 6), "row 1's target is feature 3, but there are 3 features"),
        ] {
            let e = m.check().unwrap_err();
            assert!(matches!(e, PlotError::Shape(_)) && e.to_string().contains(needle), "{e}");
        }
    }

    #[test]
    fn faded_colours_keep_three_tenths_of_their_departure_from_white() {
        assert_eq!(faded(WHITE), WHITE);
        assert_eq!(faded([55, 155, 255]), [195, 225, 255]);
    }
}
