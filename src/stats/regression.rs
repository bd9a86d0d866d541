//! Ordinary least squares of y on x, and the confidence band of its fitted mean.
//!
//! Owns only the arithmetic, in f64; the confidence asked for comes from the caller.

use super::t_quantile;

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

    /// The two-sided `confidence` band (0.99 for 99%) of the fitted mean at `x`: `yhat -+ t *
    /// s * sqrt(1/n + (x - xbar)^2 / Sxx)`, t the `0.5 + confidence / 2` quantile of Student's
    /// t with n - 2 degrees of freedom. Zero width when n <= 2 (no residual degrees of
    /// freedom) or x has no spread.
    pub fn band(&self, x: f64, confidence: f64) -> (f64, f64) {
        let y = self.predict(x);
        if self.n <= 2 || self.sxx <= 0.0 {
            return (y, y);
        }
        let se = self.s * (1.0 / self.n as f64 + (x - self.x_mean).powi(2) / self.sxx).sqrt();
        let h = t_quantile(0.5 + confidence / 2.0, (self.n - 2) as f64) * se;
        (y - h, y + h)
    }
}

/// Least squares of `y` on `x` (same length). With no spread in x the slope is 0 and the
/// intercept the mean of y.
///
/// # Panics
/// When `x` and `y` differ in length.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::torch_randn;
    use nalgebra::{DMatrix, DVector};

    /// Least squares by nalgebra's SVD of the design matrix [1, x].
    fn svd_fit(x: &[f64], y: &[f64]) -> (f64, f64) {
        let a = DMatrix::from_fn(x.len(), 2, |r, c| if c == 0 { 1.0 } else { x[r] });
        let b = DVector::from_column_slice(y);
        let beta = a.svd(true, true).solve(&b, 1e-14).expect("svd solve");
        (beta[1], beta[0])
    }

    fn close(what: &str, got: f64, want: f64, tol: f64) {
        assert!((got - want).abs() <= tol * (1.0 + want.abs()), "{what}: got {got}, want {want}");
    }

    #[test]
    fn regression_is_exact_on_a_line_and_matches_svd_on_noisy_data() {
        let x: Vec<f64> = (0..50).map(|i| i as f64 * 0.3 - 4.0).collect();
        let y: Vec<f64> = x.iter().map(|v| 1.75 - 0.5 * v).collect();
        let f = regression(&x, &y);
        close("slope", f.slope, -0.5, 1e-12);
        close("intercept", f.intercept, 1.75, 1e-12);
        let (lo, hi) = f.band(2.0, 0.99);
        assert!((hi - lo).abs() < 1e-9, "a perfect line has no band: {lo}..{hi}");

        let noise = torch_randn(7, 400);
        let x: Vec<f64> = noise[..200].iter().map(|&v| v as f64 * 3.0 + 1.0).collect();
        let y: Vec<f64> = x.iter().zip(&noise[200..]).map(|(a, &e)| 0.8 * a - 2.0 + e as f64).collect();
        let f = regression(&x, &y);
        let (slope, intercept) = svd_fit(&x, &y);
        close("noisy slope", f.slope, slope, 1e-10);
        close("noisy intercept", f.intercept, intercept, 1e-10);
        // The band is narrowest at the mean of x and contains the fitted value.
        let width = |x: f64| f.band(x, 0.99).1 - f.band(x, 0.99).0;
        assert!(width(f.x_mean) > 0.0 && width(f.x_mean) < width(f.x_mean + 3.0));
        let (lo, hi) = f.band(0.5, 0.99);
        assert!(lo < f.predict(0.5) && f.predict(0.5) < hi);
        // A higher confidence widens it.
        assert!(f.band(0.5, 0.999).1 > hi && f.band(0.5, 0.9).1 < hi);
    }

    #[test]
    fn degenerate_fits_have_no_band() {
        let f = regression(&[1.0, 2.0], &[3.0, 5.0]);
        assert_eq!((f.slope, f.intercept, f.s), (2.0, 1.0, 0.0));
        assert_eq!(f.band(7.0, 0.99), (15.0, 15.0));
        let flat = regression(&[2.0; 5], &[1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!((flat.slope, flat.intercept), (0.0, 3.0));
        assert_eq!(flat.band(2.0, 0.99), (3.0, 3.0));
    }
}
