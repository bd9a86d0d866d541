//! Pearson correlation of two samples, and the correlation matrix of a covariance matrix.
//!
//! Owns only the arithmetic, in f64; the samples and matrices come from the caller.

use super::FeatureMatrix;

/// Pearson correlation of two equal-length samples; 0 when either is constant.
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 { 0.0 } else { sxy / (sxx * syy).sqrt() }
}

/// The correlation matrix of a covariance matrix, `cov[i, j] / sqrt(cov[i, i] cov[j, j])`, in
/// f64; 0 where either variance is 0 (or the product of the deviations is not positive).
pub fn correlation_matrix<T: Copy + Into<f64>>(cov: &FeatureMatrix<T>) -> FeatureMatrix<f64> {
    let values = correlation_values(cov.values(), cov.len());
    FeatureMatrix::new(cov.names().to_vec(), values).expect("the same shape as the covariance")
}

/// [`correlation_matrix`] of a row-major `f x f` slice.
pub(super) fn correlation_values<T: Copy + Into<f64>>(cov: &[T], f: usize) -> Vec<f64> {
    let sd: Vec<f64> = (0..f).map(|i| cov[i * f + i].into().sqrt()).collect();
    (0..f * f)
        .map(|k| {
            let d = sd[k / f] * sd[k % f];
            if d > 0.0 { cov[k].into() / d } else { 0.0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pearson_of_known_samples() {
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-12);
        assert!((pearson(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        // x = (-1, 0, 1), y = (1, -1, 1) -> cov 0
        assert_eq!(pearson(&[-1.0, 0.0, 1.0], &[1.0, -1.0, 1.0]), 0.0);
        assert_eq!(pearson(&[1.0, 1.0], &[0.0, 1.0]), 0.0);
    }

    #[test]
    fn correlation_has_unit_diagonal_and_zero_for_constant_features() {
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        #[rustfmt::skip]
        let cov = FeatureMatrix::new(names, vec![
            4.0f32, 2.0, 0.0,
            2.0, 9.0, 0.0,
            0.0, 0.0, 0.0,
        ]).unwrap();
        let r = correlation_matrix(&cov);
        assert_eq!(r.names(), cov.names());
        assert_eq!((r.get(0, 0), r.get(1, 1)), (1.0, 1.0));
        assert_eq!(r.get(0, 1), 2.0 / 6.0);
        assert_eq!(r.get(1, 0), r.get(0, 1));
        assert_eq!((r.get(2, 2), r.get(0, 2)), (0.0, 0.0), "a constant feature correlates with nothing");
    }

    #[test]
    fn the_f32_slice_form_rounds_the_f64_matrix() {
        let cov: Vec<f32> = vec![0.3, -0.1, 0.07, -0.1, 0.2, 0.01, 0.07, 0.01, 0.5];
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let wide = correlation_matrix(&FeatureMatrix::new(names, cov.clone()).unwrap());
        let narrow = super::super::correlation(&cov, 3);
        assert_eq!(narrow, wide.values().iter().map(|&v| v as f32).collect::<Vec<_>>());
    }
}
