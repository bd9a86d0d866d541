//! [`Canvas`] as pixels: an RGB image `scale` pixels per user unit, starting white. Shapes
//! are filled by scanlines with area coverage (exact across a pixel, [`SUBROWS`] samples down
//! it), so edges are anti-aliased; lines along the axes are moved to whole pixels, so grid
//! lines and bars stay crisp. Text is the bitmap [`font`], each font pixel a square of
//! whole pixels, placed on whole pixels.
//!
//! Owns: rasterising a canvas to pixels. Must not touch: what is drawn, files.

use super::canvas::{Anchor, BLACK, Canvas, Rect, Rgb, TextStyle, WHITE};
use super::font;
use crate::pictures::RgbImage;

/// Samples down each pixel row.
pub const SUBROWS: usize = 8;

/// Corners of the polygon drawn for a circle.
const CIRCLE_CORNERS: usize = 48;

/// An RGB raster drawn in user units.
pub struct RasterCanvas {
    image: RgbImage,
    scale: f64,
    /// Coverage of the pixel row being filled.
    cover: Vec<f32>,
}

impl RasterCanvas {
    /// A white `width x height` pixel image, `scale` pixels per user unit.
    pub fn new(width: usize, height: usize, scale: f64) -> Self {
        RasterCanvas { image: RgbImage { width, height, pixels: vec![255; 3 * width * height] }, scale, cover: vec![0.0; width + 1] }
    }

    pub fn into_image(self) -> RgbImage {
        self.image
    }

    /// The integer size of a font pixel for text of `size` user units: a 12-unit text's
    /// capitals are about 7 user units tall, as sans-serif's are.
    pub fn font_scale(&self, size: f64) -> usize {
        ((size * self.scale / 10.0).round() as usize).max(1)
    }

    fn px(&self, p: (f64, f64)) -> (f64, f64) {
        (p.0 * self.scale, p.1 * self.scale)
    }

    /// Mixes `colour` into pixel `(x, y)` with weight `alpha` (0..=1).
    fn blend(&mut self, x: usize, y: usize, colour: Rgb, alpha: f32) {
        let i = 3 * (y * self.image.width + x);
        for (k, c) in colour.iter().enumerate() {
            let d = self.image.pixels[i + k] as f32;
            self.image.pixels[i + k] = (d + (*c as f32 - d) * alpha).round().clamp(0.0, 255.0) as u8;
        }
    }

    /// Fills the union of `polygons` (pixel coordinates, nonzero winding). Polygons with a
    /// non-finite corner are skipped.
    fn fill_path(&mut self, polygons: &[Vec<(f64, f64)>], colour: Rgb, opacity: f64) {
        let (w, h) = (self.image.width, self.image.height);
        let mut edges: Vec<(f64, f64, f64, f64)> = Vec::new();
        let (mut top, mut bottom, mut left, mut right) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for poly in polygons.iter().filter(|p| p.len() >= 3 && p.iter().all(|(x, y)| x.is_finite() && y.is_finite())) {
            for (i, &(x0, y0)) in poly.iter().enumerate() {
                let (x1, y1) = poly[(i + 1) % poly.len()];
                (top, bottom, left, right) = (top.min(y0), bottom.max(y0), left.min(x0), right.max(x0));
                if y0 != y1 {
                    edges.push((x0, y0, x1, y1));
                }
            }
        }
        if edges.is_empty() || bottom <= 0.0 || right <= 0.0 || top >= h as f64 || left >= w as f64 {
            return;
        }
        let (row0, row1) = (top.max(0.0).floor() as usize, (bottom.ceil() as usize).min(h));
        // One more column each side than the corners span, for rounding in the crossings.
        let (col0, col1) = ((left.floor() - 1.0).max(0.0) as usize, (right.ceil() as usize + 1).min(w + 1));
        let mut crossings: Vec<(f64, i32)> = Vec::new();
        for row in row0..row1 {
            for sub in 0..SUBROWS {
                let y = row as f64 + (sub as f64 + 0.5) / SUBROWS as f64;
                crossings.clear();
                for &(x0, y0, x1, y1) in &edges {
                    if (y0 <= y && y < y1) || (y1 <= y && y < y0) {
                        crossings.push((x0 + (y - y0) * (x1 - x0) / (y1 - y0), if y1 > y0 { 1 } else { -1 }));
                    }
                }
                crossings.sort_by(|a, b| a.0.total_cmp(&b.0));
                let mut winding = 0;
                for pair in crossings.windows(2) {
                    winding += pair[0].1;
                    if winding != 0 {
                        self.cover_span(pair[0].0, pair[1].0, 1.0 / SUBROWS as f32);
                    }
                }
            }
            for col in col0..col1 {
                let c = std::mem::take(&mut self.cover[col]);
                if c > 0.0 && col < w {
                    self.blend(col, row, colour, c.min(1.0) * opacity as f32);
                }
            }
        }
    }

    /// Adds `weight` times the overlap of `[a, b)` with each pixel of the row to its coverage.
    fn cover_span(&mut self, a: f64, b: f64, weight: f32) {
        let w = self.image.width as f64;
        let (a, b) = (a.clamp(0.0, w), b.clamp(0.0, w));
        if a.is_nan() || b.is_nan() || b <= a {
            return;
        }
        let (ia, ib) = (a.floor() as usize, b.floor() as usize);
        if ia == ib {
            self.cover[ia] += weight * (b - a) as f32;
            return;
        }
        self.cover[ia] += weight * (ia as f64 + 1.0 - a) as f32;
        for c in &mut self.cover[ia + 1..ib] {
            *c += weight;
        }
        self.cover[ib] += weight * (b - ib as f64) as f32;
    }

    /// Sets the pixels of `[x0, x1) x [y0, y1)` (clipped) to `colour`.
    fn block(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, colour: Rgb) {
        let (w, h) = (self.image.width as i64, self.image.height as i64);
        for y in y0.max(0)..y1.min(h) {
            for x in x0.max(0)..x1.min(w) {
                let i = 3 * (y * w + x) as usize;
                self.image.pixels[i..i + 3].copy_from_slice(&colour);
            }
        }
    }
}

/// The corners of `r` in order.
fn corners(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<(f64, f64)> {
    vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
}

/// Where a line of `width` pixels centred at `c` starts, so that its edges fall on whole
/// pixels (when it is at least one pixel wide).
fn snap(c: f64, width: f64) -> (f64, f64) {
    let w = width.round().max(1.0);
    let start = (c - w / 2.0).round();
    (start, start + w)
}

impl Canvas for RasterCanvas {
    fn fill_rect(&mut self, r: Rect, colour: Rgb, opacity: f64) {
        let (x0, y0) = self.px((r.x, r.y));
        let (x1, y1) = self.px((r.x + r.w, r.y + r.h));
        self.fill_path(&[corners(x0, y0, x1, y1)], colour, opacity);
    }

    fn stroke_rect(&mut self, r: Rect, colour: Rgb, width: f64) {
        let half = width * self.scale / 2.0;
        let (x0, y0) = self.px((r.x, r.y));
        let (x1, y1) = self.px((r.x + r.w, r.y + r.h));
        let outer = corners(x0 - half, y0 - half, x1 + half, y1 + half);
        let mut inner = corners(x0 + half, y0 + half, x1 - half, y1 - half);
        inner.reverse();
        self.fill_path(&[outer, inner], colour, 1.0);
    }

    fn fill_polygon(&mut self, points: &[(f64, f64)], colour: Rgb, opacity: f64) {
        let poly: Vec<(f64, f64)> = points.iter().map(|p| self.px(*p)).collect();
        self.fill_path(&[poly], colour, opacity);
    }

    fn line(&mut self, a: (f64, f64), b: (f64, f64), colour: Rgb, width: f64) {
        let ((ax, ay), (bx, by)) = (self.px(a), self.px(b));
        let w = width * self.scale;
        let poly = if ax == bx {
            let (x0, x1) = snap(ax, w);
            corners(x0, ay.min(by), x1, ay.max(by))
        } else if ay == by {
            let (y0, y1) = snap(ay, w);
            corners(ax.min(bx), y0, ax.max(bx), y1)
        } else {
            let len = ((bx - ax).powi(2) + (by - ay).powi(2)).sqrt();
            let (nx, ny) = (-(by - ay) / len * w / 2.0, (bx - ax) / len * w / 2.0);
            vec![(ax + nx, ay + ny), (bx + nx, by + ny), (bx - nx, by - ny), (ax - nx, ay - ny)]
        };
        self.fill_path(&[poly], colour, 1.0);
    }

    fn circle(&mut self, centre: (f64, f64), radius: f64, colour: Rgb) {
        let (cx, cy) = self.px(centre);
        let r = radius * self.scale;
        let poly = (0..CIRCLE_CORNERS)
            .map(|i| {
                let t = std::f64::consts::TAU * i as f64 / CIRCLE_CORNERS as f64;
                (cx + r * t.cos(), cy + r * t.sin())
            })
            .collect();
        self.fill_path(&[poly], colour, 1.0);
    }

    fn vertical_gradient(&mut self, r: Rect, stops: &[(f64, Rgb)]) {
        let (x0, y0) = self.px((r.x, r.y));
        let (x1, y1) = self.px((r.x + r.w, r.y + r.h));
        let whole = |v: f64| v.clamp(-1e9, 1e9).round() as i64;
        let (x0, x1, y0, y1) = (whole(x0), whole(x1), whole(y0), whole(y1));
        for y in y0.max(0)..y1.min(self.image.height as i64) {
            let t = ((y - y0) as f64 + 0.5) / (y1 - y0) as f64;
            let colour = gradient_at(stops, t);
            self.block(x0, y, x1, y + 1, colour);
        }
    }

    fn text(&mut self, at: (f64, f64), text: &str, style: TextStyle) {
        let s = self.font_scale(style.size) as i64;
        let (ox, oy) = self.px(at);
        // Far off the picture is as good as anywhere there; this keeps the sums below small.
        let (ox, oy) = (ox.clamp(-1e9, 1e9).round() as i64, oy.clamp(-1e9, 1e9).round() as i64);
        let width = font::text_width(text) as i64 * s;
        let u0 = match style.anchor {
            Anchor::Start => 0,
            Anchor::Middle => -width / 2,
            Anchor::End => -width,
        };
        for (fx, row) in font::pixels(text) {
            // Along the text and down from its baseline, then turned if vertical.
            let (u, v) = (u0 + fx as i64 * s, (row as i64 - font::ASCENT as i64) * s);
            if style.vertical {
                self.block(ox + v, oy - u - s, ox + v + s, oy - u, BLACK);
            } else {
                self.block(ox + u, oy + v, ox + u + s, oy + v + s, BLACK);
            }
        }
    }

    fn text_width(&self, text: &str, size: f64) -> f64 {
        (font::text_width(text) * self.font_scale(size)) as f64 / self.scale
    }
}

/// The colour at `t` (0..=1) of a gradient through `stops`, mixed linearly in sRGB.
fn gradient_at(stops: &[(f64, Rgb)], t: f64) -> Rgb {
    let Some(first) = stops.first() else { return WHITE };
    let mut prev = *first;
    if t <= prev.0 {
        return prev.1;
    }
    for &(o, c) in &stops[1..] {
        if t <= o {
            let f = if o > prev.0 { (t - prev.0) / (o - prev.0) } else { 1.0 };
            return std::array::from_fn(|k| (prev.1[k] as f64 + (c[k] as f64 - prev.1[k] as f64) * f).round() as u8);
        }
        prev = (o, c);
    }
    prev.1
}
