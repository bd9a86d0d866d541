//! Pictures of the probe's numbers: the notebook's `sns.regplot` of the recorded changes
//! (other features against the target), a heatmap of the F x F matrix and one of a directed
//! T x F matrix (targets moved against every feature's response), and the audit's error
//! rates by group ([`rates`]), as SVG or PNG.
//!
//! Where seaborn bootstraps its confidence intervals, these are t-based (analytic), so the
//! pictures are deterministic; the fitted lines are ordinary least squares, as seaborn's. The
//! statistics (fits, bins, quantiles) are [`crate::stats`]'s; this module only draws them, and
//! must not compute any of its own.
//!
//! Each layout ([`regplot`], [`heatmap`], [`directed`]) is written once against [`canvas::Canvas`] and drawn
//! either as SVG text ([`canvas::SvgCanvas`]) or as pixels ([`raster::RasterCanvas`], text in
//! the project's own bitmap [`font`]). A PNG is the SVG's picture at [`PNG_SCALE`] pixels per
//! SVG user unit.

pub mod canvas;
pub mod directed;
pub mod font;
pub mod heatmap;
pub mod raster;
pub mod rates;
pub mod regplot;

use std::path::Path;

use crate::pictures::{self, RgbImage};
use crate::stats::{Changes, FeatureMatrix};
use canvas::{Rgb, SvgCanvas};
use raster::RasterCanvas;

pub use directed::{DirectedMatrix, directed_size};
pub use heatmap::{HeatmapValue, heatmap_size};
pub use rates::RatePlot;
pub use regplot::Series;

/// Confidence of every interval drawn (seaborn's `ci=99, x_ci=99`).
pub const CONFIDENCE: f64 = 0.99;

/// Pixels of a PNG plot per SVG user unit.
pub const PNG_SCALE: usize = 2;

/// The largest PNG plot drawn, in pixels (about 200 MB of RGB).
pub const MAX_PNG_PIXELS: usize = 64 << 20;

/// A plot's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlotFormat {
    Svg,
    Png,
}

impl PlotFormat {
    /// The format named by a path's extension, `.svg` or `.png` in any case; `None` otherwise.
    pub fn from_path(path: &Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "svg" => Some(PlotFormat::Svg),
            "png" => Some(PlotFormat::Png),
            _ => None,
        }
    }
}

/// Why a plot could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    #[error("the PNG would be {width} x {height} pixels, more than the {MAX_PNG_PIXELS} allowed; write an SVG instead")]
    TooLarge { width: usize, height: usize },
    #[error("cannot plot the directed matrix: {0}")]
    Shape(String),
    #[error("cannot encode the plot as PNG")]
    Encode(#[from] png::EncodingError),
}

/// matplotlib's tab10 colours, one per series in turn.
pub const COLOURS: [Rgb; 10] = [
    [0x1f, 0x77, 0xb4],
    [0xff, 0x7f, 0x0e],
    [0x2c, 0xa0, 0x2c],
    [0xd6, 0x27, 0x28],
    [0x94, 0x67, 0xbd],
    [0x8c, 0x56, 0x4b],
    [0xe3, 0x77, 0xc2],
    [0x7f, 0x7f, 0x7f],
    [0xbc, 0xbd, 0x22],
    [0x17, 0xbe, 0xcf],
];

/// About `want` round ticks (1, 2 or 5 times a power of ten) covering [lo, hi], and the
/// decimals that print them.
fn ticks(lo: f64, hi: f64, want: usize) -> (Vec<f64>, usize) {
    let span = (hi - lo).max(1e-12);
    let raw = span / want as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= 0.7 * raw).unwrap_or(10.0 * mag);
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    ((first..=last).map(|i| i as f64 * step).collect(), decimals)
}

/// A range a little wider than [lo, hi] (never empty): 5% of the span each side, or when the
/// span is 0, the larger of 0.5 and a tenth of |lo|.
fn pad(lo: f64, hi: f64) -> (f64, f64) {
    let m = if hi > lo { 0.05 * (hi - lo) } else { 0.5f64.max(lo.abs() * 0.1) };
    (lo - m, hi + m)
}

/// The heatmap's diverging colour map: `t` (clamped to -1..=1; not finite: 0) mixes white
/// linearly towards `(33, 102, 172)` (blue) at -1 and `(178, 24, 43)` (red) at +1, each
/// channel `round(255 + (end - 255) * |t|)`.
pub fn diverging(t: f64) -> Rgb {
    let t = if t.is_finite() { t.clamp(-1.0, 1.0) } else { 0.0 };
    let (end, a) = if t < 0.0 { ([33.0, 102.0, 172.0], -t) } else { ([178.0, 24.0, 43.0], t) };
    std::array::from_fn(|k| (255.0 + (end[k] - 255.0) * a).round() as u8)
}

/// The pixel size of a `w x h` user-unit picture as PNG, refusing more than [`MAX_PNG_PIXELS`].
fn png_size(w: f64, h: f64) -> Result<(usize, usize), PlotError> {
    let (width, height) = ((w * PNG_SCALE as f64).ceil() as usize, (h * PNG_SCALE as f64).ceil() as usize);
    if width.saturating_mul(height) > MAX_PNG_PIXELS { Err(PlotError::TooLarge { width, height }) } else { Ok((width, height)) }
}

/// The notebook's regplot as SVG; see [`regplot::draw`].
pub fn regplot_svg(target_name: &str, series: &[Series], bins: usize) -> String {
    let mut c = SvgCanvas::new(regplot::WIDTH, regplot::HEIGHT);
    regplot::draw(&mut c, target_name, series, bins);
    c.finish()
}

/// The notebook's regplot as an image of [`regplot::WIDTH`] x [`regplot::HEIGHT`] times
/// [`PNG_SCALE`] pixels (1520 x 1040); see [`regplot::draw`].
pub fn regplot_image(target_name: &str, series: &[Series], bins: usize) -> RgbImage {
    let mut c = RasterCanvas::new(PNG_SCALE * regplot::WIDTH as usize, PNG_SCALE * regplot::HEIGHT as usize, PNG_SCALE as f64);
    regplot::draw(&mut c, target_name, series, bins);
    c.into_image()
}

/// The heatmap as SVG; see [`heatmap::draw`].
pub fn heatmap_svg<T: HeatmapValue>(matrix: &FeatureMatrix<T>, title: &str) -> String {
    let (w, h) = heatmap_size(matrix.names(), title);
    let mut c = SvgCanvas::new(w, h);
    heatmap::draw(&mut c, matrix, title);
    c.finish()
}

/// The heatmap as an image, [`heatmap_size`] times [`PNG_SCALE`] pixels; see [`heatmap::draw`].
pub fn heatmap_image<T: HeatmapValue>(matrix: &FeatureMatrix<T>, title: &str) -> Result<RgbImage, PlotError> {
    let (w, h) = heatmap_size(matrix.names(), title);
    let (width, height) = png_size(w, h)?;
    let mut c = RasterCanvas::new(width, height, PNG_SCALE as f64);
    heatmap::draw(&mut c, matrix, title);
    Ok(c.into_image())
}

/// Fails when the heatmap's PNG would be too large; cheap, for checks before any work.
pub fn check_heatmap_png(names: &[String], title: &str) -> Result<(), PlotError> {
    let (w, h) = heatmap_size(names, title);
    png_size(w, h).map(|_| ())
}

/// The directed heatmap as SVG; see [`directed::draw`]. Fails when `m` fails
/// [`DirectedMatrix::check`].
pub fn directed_svg(m: &DirectedMatrix) -> Result<String, PlotError> {
    m.check()?;
    let (w, h) = directed_size(m.rows.len(), &m.names, &m.metric);
    let mut c = SvgCanvas::new(w, h);
    directed::draw(&mut c, m);
    Ok(c.finish())
}

/// The directed heatmap as an image, [`directed_size`] times [`PNG_SCALE`] pixels; see
/// [`directed::draw`]. Fails when `m` fails [`DirectedMatrix::check`] or the PNG would be too
/// large.
pub fn directed_image(m: &DirectedMatrix) -> Result<RgbImage, PlotError> {
    m.check()?;
    let (w, h) = directed_size(m.rows.len(), &m.names, &m.metric);
    let (width, height) = png_size(w, h)?;
    let mut c = RasterCanvas::new(width, height, PNG_SCALE as f64);
    directed::draw(&mut c, m);
    Ok(c.into_image())
}

/// Fails when the directed heatmap's PNG of `rows` targets, the features `names` and
/// `metric` would be too large; cheap, for checks before any work.
pub fn check_directed_png(rows: usize, names: &[String], metric: &str) -> Result<(), PlotError> {
    let (w, h) = directed_size(rows, names, metric);
    png_size(w, h).map(|_| ())
}

/// The directed heatmap's file contents in `format`.
pub fn directed_file(format: PlotFormat, m: &DirectedMatrix) -> Result<Vec<u8>, PlotError> {
    Ok(match format {
        PlotFormat::Svg => directed_svg(m)?.into_bytes(),
        PlotFormat::Png => pictures::encode_png(&directed_image(m)?)?,
    })
}

/// The audit's rate plot's file contents in `format`; see [`rates::draw`]. Fails when `plot`
/// fails [`RatePlot::check`] or its PNG would be too large.
pub fn rates_file(format: PlotFormat, plot: &RatePlot) -> Result<Vec<u8>, PlotError> {
    plot.check()?;
    let (w, h) = plot.size();
    Ok(match format {
        PlotFormat::Svg => {
            let mut c = SvgCanvas::new(w, h);
            rates::draw(&mut c, plot);
            c.finish().into_bytes()
        }
        PlotFormat::Png => {
            let (width, height) = png_size(w, h)?;
            let mut c = RasterCanvas::new(width, height, PNG_SCALE as f64);
            rates::draw(&mut c, plot);
            pictures::encode_png(&c.into_image())?
        }
    })
}

/// The regplot's file contents in `format`.
pub fn regplot_file(format: PlotFormat, target_name: &str, series: &[Series], bins: usize) -> Result<Vec<u8>, PlotError> {
    Ok(match format {
        PlotFormat::Svg => regplot_svg(target_name, series, bins).into_bytes(),
        PlotFormat::Png => pictures::encode_png(&regplot_image(target_name, series, bins))?,
    })
}

/// The heatmap's file contents in `format`.
pub fn heatmap_file<T: HeatmapValue>(format: PlotFormat, matrix: &FeatureMatrix<T>, title: &str) -> Result<Vec<u8>, PlotError> {
    Ok(match format {
        PlotFormat::Svg => heatmap_svg(matrix, title).into_bytes(),
        PlotFormat::Png => pictures::encode_png(&heatmap_image(matrix, title)?)?,
    })
}

/// The regplot's series for the recorded `changes`: for each feature `j` of `chosen`, its
/// name, the target's changes (x) and feature `j`'s (y) over every row of the changes.
///
/// # Panics
/// When `target` or a chosen feature is not a feature of `changes` and of `names`.
pub fn regplot_series(changes: &Changes<'_>, names: &[String], target: usize, chosen: &[usize]) -> Vec<Series> {
    let x = changes.column(target);
    chosen.iter().map(|&j| (names[j].clone(), x.clone(), changes.column(j))).collect()
}
