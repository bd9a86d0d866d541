//! What the plots draw with: a few shapes and text on a surface measured in SVG user units
//! (y down), implemented as SVG text here and as pixels in [`super::raster`]. The layouts in
//! [`super::regplot`] and [`super::heatmap`] are written once against [`Canvas`].
//!
//! Owns: the vector canvas and its SVG text. Must not touch: what is drawn.

use std::fmt::Write;

/// An sRGB colour.
pub type Rgb = [u8; 3];

pub const WHITE: Rgb = [255, 255, 255];
pub const BLACK: Rgb = [0, 0, 0];

/// `#rrggbb`.
pub fn hex(c: Rgb) -> String {
    format!("#{:02x}{:02x}{:02x}", c[0], c[1], c[2])
}

/// An axis-aligned rectangle: top left corner, width and height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// Which point of a text its position names, along the direction it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Start,
    Middle,
    End,
}

/// How a text is drawn: its font size (user units), anchor, and whether it is turned a
/// quarter anticlockwise (read bottom to top, as SVG's `rotate(-90)` about its position).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextStyle {
    pub size: f64,
    pub anchor: Anchor,
    pub vertical: bool,
}

impl TextStyle {
    pub fn new(size: f64, anchor: Anchor) -> Self {
        TextStyle { size, anchor, vertical: false }
    }

    pub fn vertical(self) -> Self {
        TextStyle { vertical: true, ..self }
    }
}

/// A drawing surface. Text is black; its position is on the baseline. Lines have butt ends.
pub trait Canvas {
    /// Attributes (a `class`, `data-*`) for the next element only; pictures without a
    /// document (rasters) ignore them.
    fn tag(&mut self, _attrs: &[(&str, String)]) {}
    fn fill_rect(&mut self, r: Rect, colour: Rgb, opacity: f64);
    /// The outline of `r`, centred on its edges.
    fn stroke_rect(&mut self, r: Rect, colour: Rgb, width: f64);
    /// A closed polygon, filled (nonzero winding).
    fn fill_polygon(&mut self, points: &[(f64, f64)], colour: Rgb, opacity: f64);
    fn line(&mut self, a: (f64, f64), b: (f64, f64), colour: Rgb, width: f64);
    fn circle(&mut self, centre: (f64, f64), radius: f64, colour: Rgb);
    /// `r` filled top to bottom through `stops` (`(offset in 0..=1, colour)`, increasing).
    fn vertical_gradient(&mut self, r: Rect, stops: &[(f64, Rgb)]);
    fn text(&mut self, at: (f64, f64), text: &str, style: TextStyle);
    /// How long `text` at `size` is drawn, in user units.
    fn text_width(&self, text: &str, size: f64) -> f64;
}

/// Escapes text and attribute values: the markup characters as entities, tab and line
/// breaks as character references (so attribute values keep them), and the other control
/// characters, which XML cannot hold at all, as U+FFFD.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\t' | '\n' | '\r' => {
                let _ = write!(out, "&#{};", c as u32);
            }
            c if c < ' ' || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// An SVG document, written as it is drawn.
pub struct SvgCanvas {
    out: String,
    tag: String,
    gradients: usize,
}

/// The SVG text width estimate per character, as a fraction of the font size: a little wider
/// than sans-serif's average character.
pub const SVG_CHAR_WIDTH: f64 = 0.625;

impl SvgCanvas {
    /// An empty `width x height` picture (user units, one per CSS pixel).
    pub fn new(width: f64, height: f64) -> Self {
        let mut out = String::new();
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">"#
        );
        SvgCanvas { out, tag: String::new(), gradients: 0 }
    }

    /// The document.
    pub fn finish(mut self) -> String {
        self.out.push_str("</svg>\n");
        self.out
    }

    /// The pending attributes (with a leading space each), cleared.
    fn take_tag(&mut self) -> String {
        std::mem::take(&mut self.tag)
    }
}

/// ` fill-opacity="o"` unless `o` is 1.
fn opacity_attr(o: f64) -> String {
    if o < 1.0 { format!(r#" fill-opacity="{o}""#) } else { String::new() }
}

impl Canvas for SvgCanvas {
    fn tag(&mut self, attrs: &[(&str, String)]) {
        self.tag = attrs.iter().map(|(k, v)| format!(r#" {k}="{}""#, esc(v))).collect();
    }

    fn fill_rect(&mut self, r: Rect, colour: Rgb, opacity: f64) {
        let t = self.take_tag();
        let _ = writeln!(
            self.out,
            r#"<rect{t} x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}"{}/>"#,
            r.x,
            r.y,
            r.w,
            r.h,
            hex(colour),
            opacity_attr(opacity)
        );
    }

    fn stroke_rect(&mut self, r: Rect, colour: Rgb, width: f64) {
        let t = self.take_tag();
        let _ = writeln!(
            self.out,
            r#"<rect{t} x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="none" stroke="{}" stroke-width="{width}"/>"#,
            r.x,
            r.y,
            r.w,
            r.h,
            hex(colour)
        );
    }

    fn fill_polygon(&mut self, points: &[(f64, f64)], colour: Rgb, opacity: f64) {
        let t = self.take_tag();
        let pts: Vec<String> = points.iter().map(|(x, y)| format!("{x:.2},{y:.2}")).collect();
        let _ =
            writeln!(self.out, r#"<polygon{t} points="{}" fill="{}"{} stroke="none"/>"#, pts.join(" "), hex(colour), opacity_attr(opacity));
    }

    fn line(&mut self, a: (f64, f64), b: (f64, f64), colour: Rgb, width: f64) {
        let t = self.take_tag();
        let _ = writeln!(
            self.out,
            r#"<line{t} x1="{:.2}" y1="{:.2}" x2="{:.2}" y2="{:.2}" stroke="{}" stroke-width="{width}"/>"#,
            a.0,
            a.1,
            b.0,
            b.1,
            hex(colour)
        );
    }

    fn circle(&mut self, centre: (f64, f64), radius: f64, colour: Rgb) {
        let t = self.take_tag();
        let _ = writeln!(self.out, r#"<circle{t} cx="{:.2}" cy="{:.2}" r="{radius}" fill="{}"/>"#, centre.0, centre.1, hex(colour));
    }

    fn vertical_gradient(&mut self, r: Rect, stops: &[(f64, Rgb)]) {
        let id = format!("gradient{}", self.gradients);
        self.gradients += 1;
        let stops: String = stops.iter().map(|(o, c)| format!(r#"<stop offset="{o}" stop-color="{}"/>"#, hex(*c))).collect();
        let _ = writeln!(self.out, r#"<defs><linearGradient id="{id}" x1="0" y1="0" x2="0" y2="1">{stops}</linearGradient></defs>"#);
        let t = self.take_tag();
        let _ = writeln!(self.out, r#"<rect{t} x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="url(#{id})"/>"#, r.x, r.y, r.w, r.h);
    }

    fn text(&mut self, at: (f64, f64), text: &str, style: TextStyle) {
        let t = self.take_tag();
        let anchor = match style.anchor {
            Anchor::Start => "",
            Anchor::Middle => r#" text-anchor="middle""#,
            Anchor::End => r#" text-anchor="end""#,
        };
        let (x, y) = at;
        let turn = if style.vertical { format!(r#" transform="rotate(-90 {x:.2} {y:.2})""#) } else { String::new() };
        let _ = writeln!(self.out, r#"<text{t} x="{x:.2}" y="{y:.2}" font-size="{}"{anchor}{turn}>{}</text>"#, style.size, esc(text));
    }

    fn text_width(&self, text: &str, size: f64) -> f64 {
        SVG_CHAR_WIDTH * size * text.chars().count() as f64
    }
}
