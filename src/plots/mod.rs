//! Pictures of the probe's numbers: the notebook's `sns.regplot` of the recorded changes
//! (other features against the target) and a heatmap of the F x F matrix, as SVG or PNG.
//!
//! Where seaborn bootstraps its confidence intervals, these are t-based (analytic), so the
//! pictures are deterministic; the fitted lines are ordinary least squares, as seaborn's.
//!
//! Each layout ([`regplot`], [`heatmap`]) is written once against [`canvas::Canvas`] and drawn
//! either as SVG text ([`canvas::SvgCanvas`]) or as pixels ([`raster::RasterCanvas`], text in
//! the project's own bitmap [`font`]). A PNG is the SVG's picture at [`PNG_SCALE`] pixels per
//! SVG user unit.

pub mod canvas;
pub mod font;
pub mod heatmap;
pub mod raster;
pub mod regplot;

use std::path::Path;

use crate::pictures::{self, RgbImage};
use canvas::{Rgb, SvgCanvas};
use raster::RasterCanvas;

pub use heatmap::heatmap_size;

/// Confidence of every interval drawn (seaborn's `ci=99, x_ci=99`).
pub const CONFIDENCE: f64 = 0.99;

/// An ordinary least-squares fit `y = intercept + slope * x`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub slope: f64,
    pub intercept: f64,
    pub n: usize,
    /// Mean of x.
    pub x_mean: f64,
    /// Sum of squared deviations of x from its mean.
    pub sxx: f64,
    /// Residual standard deviation, `sqrt(SSE / (n - 2))` (0 when n <= 2).
    pub s: f64,
}

impl Fit {
    pub fn predict(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }

    /// The 99% confidence band of the fitted mean at `x`: `yhat -+ t * s * sqrt(1/n +
    /// (x - xbar)^2 / Sxx)`, t the 0.995 quantile of Student's t with n - 2 degrees of freedom.
    /// Zero width when n <= 2 (no residual degrees of freedom).
    pub fn band(&self, x: f64) -> (f64, f64) {
        let y = self.predict(x);
        if self.n <= 2 || self.sxx <= 0.0 {
            return (y, y);
        }
        let se = self.s * (1.0 / self.n as f64 + (x - self.x_mean).powi(2) / self.sxx).sqrt();
        let h = t_quantile(0.5 + CONFIDENCE / 2.0, (self.n - 2) as f64) * se;
        (y - h, y + h)
    }
}

/// Least squares of `y` on `x` (same length). With no spread in x the slope is 0 and the
/// intercept the mean of y.
pub fn regression(x: &[f64], y: &[f64]) -> Fit {
    assert_eq!(x.len(), y.len(), "regression: x and y differ in length");
    let n = x.len();
    let nf = n.max(1) as f64;
    let x_mean = x.iter().sum::<f64>() / nf;
    let y_mean = y.iter().sum::<f64>() / nf;
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxx += (a - x_mean) * (a - x_mean);
        sxy += (a - x_mean) * (b - y_mean);
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let intercept = y_mean - slope * x_mean;
    let sse: f64 = x.iter().zip(y).map(|(a, b)| (b - intercept - slope * a).powi(2)).sum();
    let s = if n > 2 { (sse / (n - 2) as f64).sqrt() } else { 0.0 };
    Fit { slope, intercept, n, x_mean, sxx, s }
}

/// The complementary error function (Numerical Recipes' `erfcc`, fractional error < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.26551223
        + t * (1.00002368
            + t * (0.37409196
                + t * (0.09678418
                    + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The standard normal quantile, by bisection of `Phi(z) = 0.5 erfc(-z / sqrt 2)`.
pub fn normal_quantile(p: f64) -> f64 {
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if 0.5 * erfc(-mid / std::f64::consts::SQRT_2) < p { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// The `p` quantile of Student's t with `df` degrees of freedom. Exact for df = 1 (Cauchy) and
/// df = 2; otherwise the normal quantile with the Cornish-Fisher expansion to 1/df^4
/// (Abramowitz & Stegun 26.7.5): within 0.8% at df = 3, 0.03% at df = 10, and closer beyond.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if df <= 1.0 {
        return (std::f64::consts::PI * (p - 0.5)).tan();
    }
    if df <= 2.0 {
        return (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt();
    }
    let z = normal_quantile(p);
    let (z3, z5, z7, z9) = (z.powi(3), z.powi(5), z.powi(7), z.powi(9));
    let g1 = (z3 + z) / 4.0;
    let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
    let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
    let g4 = (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / 92160.0;
    z + g1 / df + g2 / df.powi(2) + g3 / df.powi(3) + g4 / df.powi(4)
}

/// One bin of x: its centre, how many points fell in it, the mean of their y and its 99%
/// confidence interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub x: f64,
    pub count: usize,
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
}

/// Bins x as seaborn's `x_bins=k` does (`_RegressionPlotter.bin_predictor`): the k centres are
/// the percentiles `linspace(0, 100, k + 2)[1:-1]` of x (numpy's linear interpolation), and
/// each point goes to the nearest centre, the first on ties (so a repeated centre stays empty).
/// Per bin: the mean of y and a t-based 99% interval of that mean, `mean -+ t(0.995, m - 1) *
/// sd / sqrt(m)` (seaborn bootstraps it instead); a single point has a zero-width interval.
/// Empty bins are kept, with count 0.
pub fn x_bins(x: &[f64], y: &[f64], k: usize) -> Vec<Bin> {
    assert_eq!(x.len(), y.len(), "x_bins: x and y differ in length");
    if x.is_empty() || k == 0 {
        return Vec::new();
    }
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let last = (sorted.len() - 1) as f64;
    let centres: Vec<f64> = (1..=k)
        .map(|i| {
            let pos = i as f64 / (k + 1) as f64 * last;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(sorted.len() - 1);
            sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
        })
        .collect();
    let mut members: Vec<Vec<f64>> = vec![Vec::new(); k];
    for (a, b) in x.iter().zip(y) {
        let mut best = 0;
        for (i, c) in centres.iter().enumerate() {
            if (a - c).abs() < (a - centres[best]).abs() {
                best = i;
            }
        }
        members[best].push(*b);
    }
    centres
        .iter()
        .zip(members)
        .map(|(&c, ys)| {
            let m = ys.len();
            let mean = if m > 0 { ys.iter().sum::<f64>() / m as f64 } else { 0.0 };
            let half = if m > 1 {
                let sd = (ys.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1) as f64).sqrt();
                t_quantile(0.5 + CONFIDENCE / 2.0, (m - 1) as f64) * sd / (m as f64).sqrt()
            } else {
                0.0
            };
            Bin { x: c, count: m, mean, lo: mean - half, hi: mean + half }
        })
        .collect()
}

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
    #[error("cannot encode the plot as PNG: {0}")]
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
pub fn regplot_svg(target_name: &str, series: &[(String, Vec<f64>, Vec<f64>)], bins: usize) -> String {
    let mut c = SvgCanvas::new(regplot::WIDTH, regplot::HEIGHT);
    regplot::draw(&mut c, target_name, series, bins);
    c.finish()
}

/// The notebook's regplot as an image of [`regplot::WIDTH`] x [`regplot::HEIGHT`] times
/// [`PNG_SCALE`] pixels (1520 x 1040); see [`regplot::draw`].
pub fn regplot_image(target_name: &str, series: &[(String, Vec<f64>, Vec<f64>)], bins: usize) -> RgbImage {
    let mut c = RasterCanvas::new(PNG_SCALE * regplot::WIDTH as usize, PNG_SCALE * regplot::HEIGHT as usize, PNG_SCALE as f64);
    regplot::draw(&mut c, target_name, series, bins);
    c.into_image()
}

/// The heatmap as SVG; see [`heatmap::draw`].
pub fn heatmap_svg(names: &[String], matrix: &[f32], title: &str) -> String {
    let (w, h) = heatmap_size(names, title);
    let mut c = SvgCanvas::new(w, h);
    heatmap::draw(&mut c, names, matrix, title);
    c.finish()
}

/// The heatmap as an image, [`heatmap_size`] times [`PNG_SCALE`] pixels; see [`heatmap::draw`].
pub fn heatmap_image(names: &[String], matrix: &[f32], title: &str) -> Result<RgbImage, PlotError> {
    let (w, h) = heatmap_size(names, title);
    let (width, height) = png_size(w, h)?;
    let mut c = RasterCanvas::new(width, height, PNG_SCALE as f64);
    heatmap::draw(&mut c, names, matrix, title);
    Ok(c.into_image())
}

/// Fails when the heatmap's PNG would be too large; cheap, for checks before any work.
pub fn check_heatmap_png(names: &[String], title: &str) -> Result<(), PlotError> {
    let (w, h) = heatmap_size(names, title);
    png_size(w, h).map(|_| ())
}

/// The regplot's file contents in `format`.
pub fn regplot_file(
    format: PlotFormat,
    target_name: &str,
    series: &[(String, Vec<f64>, Vec<f64>)],
    bins: usize,
) -> Result<Vec<u8>, PlotError> {
    Ok(match format {
        PlotFormat::Svg => regplot_svg(target_name, series, bins).into_bytes(),
        PlotFormat::Png => pictures::encode_png(&regplot_image(target_name, series, bins))?,
    })
}

/// The heatmap's file contents in `format`.
pub fn heatmap_file(format: PlotFormat, names: &[String], matrix: &[f32], title: &str) -> Result<Vec<u8>, PlotError> {
    Ok(match format {
        PlotFormat::Svg => heatmap_svg(names, matrix, title).into_bytes(),
        PlotFormat::Png => pictures::encode_png(&heatmap_image(names, matrix, title)?)?,
    })
}
