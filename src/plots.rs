//! Pictures of the probe's numbers as hand-written SVG: the notebook's `sns.regplot` of the
//! recorded changes (other features against the target) and a heatmap of the F x F matrix.
//!
//! Where seaborn bootstraps its confidence intervals, these are t-based (analytic), so the
//! pictures are deterministic; the fitted lines are ordinary least squares, as seaborn's.

use std::fmt::Write;

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

/// matplotlib's tab10 colours.
const COLOURS: [&str; 10] = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// About `want` round ticks (1, 2 or 5 times a power of ten) covering [lo, hi].
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

/// A range a little wider than [lo, hi] (never empty).
fn pad(lo: f64, hi: f64) -> (f64, f64) {
    let m = if hi > lo { 0.05 * (hi - lo) } else { 0.5f64.max(lo.abs() * 0.1) };
    (lo - m, hi + m)
}

/// The notebook's regplot: for each `(name, x, y)` the bins of x (`bins` of them, see
/// [`x_bins`]) as points with vertical 99% bars, and the least-squares line over the range of
/// x with its translucent 99% band. Each line is a `<line class="fit">` carrying `data-feature`,
/// `data-slope` and `data-intercept`.
pub fn regplot_svg(target_name: &str, series: &[(String, Vec<f64>, Vec<f64>)], bins: usize) -> String {
    let (w, h) = (760.0, 520.0);
    let (left, right, top, bottom) = (75.0, 20.0, 45.0, 60.0);
    let fitted: Vec<(Fit, Vec<Bin>, f64, f64)> = series
        .iter()
        .map(|(_, x, y)| {
            let lo = x.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (regression(x, y), x_bins(x, y, bins), lo, hi)
        })
        .collect();
    let band_points = |f: &Fit, lo: f64, hi: f64| -> Vec<(f64, f64, f64)> {
        (0..=40).map(|i| lo + (hi - lo) * i as f64 / 40.0).map(|x| (x, f.band(x).0, f.band(x).1)).collect()
    };
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
    let (pw, ph) = (w - left - right, h - top - bottom);
    let sx = |v: f64| left + (v - x0) / (x1 - x0) * pw;
    let sy = |v: f64| top + (y1 - v) / (y1 - y0) * ph;
    let mut s = String::new();
    let _ =
        writeln!(s, r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif">"#);
    let _ = writeln!(s, r#"<rect width="{w}" height="{h}" fill="white"/>"#);
    let _ = writeln!(s, r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#eaeaf2"/>"##);
    let (xt, xd) = ticks(x0, x1, 8);
    let (yt, yd) = ticks(y0, y1, 7);
    for t in &xt {
        let x = sx(*t);
        let _ = writeln!(s, r#"<line x1="{x:.2}" y1="{top}" x2="{x:.2}" y2="{}" stroke="white"/>"#, top + ph);
        let _ = writeln!(s, r#"<text x="{x:.2}" y="{}" font-size="12" text-anchor="middle">{t:.xd$}</text>"#, top + ph + 16.0);
    }
    for t in &yt {
        let y = sy(*t);
        let _ = writeln!(s, r#"<line x1="{left}" y1="{y:.2}" x2="{}" y2="{y:.2}" stroke="white"/>"#, left + pw);
        let _ = writeln!(s, r#"<text x="{}" y="{:.2}" font-size="12" text-anchor="end">{t:.yd$}</text>"#, left - 6.0, y + 4.0);
    }
    for (i, ((name, _, _), (f, bs, lo, hi))) in series.iter().zip(&fitted).enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        if !lo.is_finite() {
            continue;
        }
        let pts = band_points(f, *lo, *hi);
        let mut poly: Vec<String> = pts.iter().map(|(x, _, b)| format!("{:.2},{:.2}", sx(*x), sy(*b))).collect();
        poly.extend(pts.iter().rev().map(|(x, a, _)| format!("{:.2},{:.2}", sx(*x), sy(*a))));
        let _ = writeln!(s, r#"<polygon class="band" points="{}" fill="{colour}" fill-opacity="0.15" stroke="none"/>"#, poly.join(" "));
        for b in bs.iter().filter(|b| b.count > 0) {
            let x = sx(b.x);
            let _ = writeln!(
                s,
                r#"<line x1="{x:.2}" y1="{:.2}" x2="{x:.2}" y2="{:.2}" stroke="{colour}" stroke-width="1.5"/>"#,
                sy(b.lo),
                sy(b.hi)
            );
            let _ = writeln!(s, r#"<circle cx="{x:.2}" cy="{:.2}" r="3.5" fill="{colour}"/>"#, sy(b.mean));
        }
        let _ = writeln!(
            s,
            r#"<line class="fit" data-feature="{}" data-slope="{:e}" data-intercept="{:e}" x1="{:.2}" y1="{:.2}" x2="{:.2}" y2="{:.2}" stroke="{colour}" stroke-width="2"/>"#,
            esc(name),
            f.slope,
            f.intercept,
            sx(*lo),
            sy(f.predict(*lo)),
            sx(*hi),
            sy(f.predict(*hi))
        );
    }
    // Axes' labels, title and the legend at the upper right.
    let _ =
        writeln!(s, r#"<text x="{}" y="{}" font-size="14" text-anchor="middle">{}</text>"#, left + pw / 2.0, h - 18.0, esc(target_name));
    let _ = writeln!(
        s,
        r#"<text x="18" y="{0}" font-size="14" text-anchor="middle" transform="rotate(-90 18 {0})">Other Feature</text>"#,
        top + ph / 2.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="28" font-size="16" text-anchor="middle">Generator Biases: Features vs {}-ness</text>"#,
        left + pw / 2.0,
        esc(target_name)
    );
    let longest = series.iter().map(|t| t.0.chars().count()).max().unwrap_or(0) as f64;
    let (lw, lh) = (40.0 + 7.5 * longest, 10.0 + 20.0 * series.len() as f64);
    let (lx, ly) = (left + pw - lw - 8.0, top + 8.0);
    let _ = writeln!(s, r##"<rect x="{lx:.2}" y="{ly}" width="{lw:.2}" height="{lh}" fill="white" fill-opacity="0.8" stroke="#cccccc"/>"##);
    for (i, (name, _, _)) in series.iter().enumerate() {
        let y = ly + 15.0 + 20.0 * i as f64;
        let colour = COLOURS[i % COLOURS.len()];
        let _ = writeln!(s, r#"<line x1="{:.2}" y1="{y}" x2="{:.2}" y2="{y}" stroke="{colour}" stroke-width="2"/>"#, lx + 8.0, lx + 28.0);
        let _ = writeln!(s, r#"<circle cx="{:.2}" cy="{y}" r="3.5" fill="{colour}"/>"#, lx + 18.0);
        let _ = writeln!(s, r#"<text x="{:.2}" y="{}" font-size="12">{}</text>"#, lx + 34.0, y + 4.0, esc(name));
    }
    s.push_str("</svg>\n");
    s
}

/// A diverging colour: blue for -1, white for 0, red for +1 (clamped).
fn diverging(t: f64) -> String {
    let t = if t.is_finite() { t.clamp(-1.0, 1.0) } else { 0.0 };
    let (end, a) = if t < 0.0 { ((33.0, 102.0, 172.0), -t) } else { ((178.0, 24.0, 43.0), t) };
    let mix = |e: f64| (255.0 + (e - 255.0) * a).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(end.0), mix(end.1), mix(end.2))
}

/// The `F x F` row-major `matrix` as a heatmap: one `<rect class="cell">` per entry (with its
/// `data-value`), on a diverging scale centred on zero whose symmetric limits are the largest
/// |value| off the diagonal (all entries when that is 0), so a dominant diagonal (variances,
/// or the 1s of a correlation) saturates rather than washing the rest out; names on both axes
/// (rotated on x) and a colour bar with its limits.
pub fn heatmap_svg(names: &[String], matrix: &[f32], title: &str) -> String {
    let f = names.len();
    assert_eq!(matrix.len(), f * f, "heatmap: the matrix is not {f} x {f}");
    let off = (0..f * f).filter(|k| k / f != k % f).map(|k| (matrix[k] as f64).abs()).filter(|v| v.is_finite()).fold(0.0, f64::max);
    let lim = if off > 0.0 { off } else { matrix.iter().map(|v| (*v as f64).abs()).filter(|v| v.is_finite()).fold(0.0, f64::max) };
    let lim = if lim > 0.0 { lim } else { 1.0 };
    let cell = 14.0;
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0) as f64;
    let label = 10.0 + 6.2 * longest;
    let (left, top) = (label, 45.0);
    let side = cell * f as f64;
    let (w, h) = (left + side + 110.0, top + side + label);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif">"#
    );
    let _ = writeln!(s, r#"<rect width="{w:.0}" height="{h:.0}" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="{:.1}" y="26" font-size="16" text-anchor="middle">{}</text>"#, left + side / 2.0, esc(title));
    for r in 0..f {
        for c in 0..f {
            let v = matrix[r * f + c];
            let _ = writeln!(
                s,
                r#"<rect class="cell" data-value="{v:e}" x="{:.1}" y="{:.1}" width="{cell}" height="{cell}" fill="{}"/>"#,
                left + c as f64 * cell,
                top + r as f64 * cell,
                diverging(v as f64 / lim)
            );
        }
    }
    for (i, name) in names.iter().enumerate() {
        let y = top + (i as f64 + 0.5) * cell + 3.5;
        let _ =
            writeln!(s, r#"<text class="ylabel" x="{:.1}" y="{y:.1}" font-size="10" text-anchor="end">{}</text>"#, left - 4.0, esc(name));
        let x = left + (i as f64 + 0.5) * cell + 3.5;
        let yb = top + side + 4.0;
        let _ = writeln!(
            s,
            r#"<text class="xlabel" x="{x:.1}" y="{yb:.1}" font-size="10" text-anchor="end" transform="rotate(-90 {x:.1} {yb:.1})">{}</text>"#,
            esc(name)
        );
    }
    // The colour bar: +lim at the top, -lim at the bottom.
    let bx = left + side + 25.0;
    let _ = writeln!(
        s,
        r##"<defs><linearGradient id="bar" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="{}"/><stop offset="0.5" stop-color="#ffffff"/><stop offset="1" stop-color="{}"/></linearGradient></defs>"##,
        diverging(1.0),
        diverging(-1.0)
    );
    let _ = writeln!(s, r##"<rect x="{bx:.1}" y="{top}" width="16" height="{side:.1}" fill="url(#bar)" stroke="#888888"/>"##);
    for (frac, v) in [(0.0, lim), (0.5, 0.0), (1.0, -lim)] {
        let y = top + frac * side + 4.0;
        let _ = writeln!(s, r#"<text class="bar" x="{:.1}" y="{y:.1}" font-size="10">{v:.3}</text>"#, bx + 20.0);
    }
    s.push_str("</svg>\n");
    s
}
