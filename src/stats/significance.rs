//! The test, per feature i ≠ t, of "feature i does not move with the target".
//!
//! **Statistic.** For each image j, its own least-squares slope of x_i on x_t over its rows
//! in the set, `b_ij = c_ti / c_tt` with c the covariance of the image's rows; then a
//! two-sided one-sample Student's t-test of mean 0 across the images that have one:
//! `T = mean(b) / (sd(b) / sqrt(m))`, sd with ddof 1, df `m - 1`, `p = 2 P(t_{m-1} > |T|)`
//! (statrs' `StudentsT`).
//!
//! **Why.** The images are the independent units: their noise is drawn independently, while an
//! image's rows are S steps along one path and move together, so a test that counts rows as
//! observations claims far more evidence than there is. Reducing each image to one number
//! gives m independent, identically distributed values, and each image's slope is the
//! interventional quantity itself (how far i moves per unit of t along that image's path).
//! The slopes are averages over an image's rows, hence close to normal, so the t-test is
//! well calibrated at the notebook's sizes (shown under the null in the calibration tests);
//! a sign-flip permutation test would need symmetric slopes and cost B passes, with no gain.
//! The null is that the mean over images of the per-image slope is 0.
//!
//! **Degenerate cases.** An image with fewer than 2 rows in the set or `c_tt <= 0` has no
//! slope and is left out (`images` counts those kept). With fewer than 2 slopes, p is None.
//! When every slope is equal: p = 1 if they are all 0, else p = 0 (the limits of T).
//!
//! The same test of any list of per-image slopes is `t_test` (the first-order statistics
//! test their per-image gradient slopes with it).
//!
//! Owns: the per-feature test. Must not touch: q-values, intervals.

use statrs::distribution::{ContinuousCDF, StudentsT};

use super::sufficient::ImageSums;

/// One feature's test in one row set.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SlopeTest {
    pub images: usize,
    pub mean_slope: f64,
    pub t: f64,
    pub p: Option<f64>,
}

/// The per-image slopes of feature `i` on the target in `sums` (None for an image without one).
pub(crate) fn image_slopes(sums: &ImageSums, i: usize) -> Vec<Option<f64>> {
    let (f, t) = (sums.features, sums.target);
    (0..sums.images)
        .map(|j| {
            let b = sums.image(j);
            let m = b[0];
            if m < 2.0 {
                return None;
            }
            let st = b[1 + t];
            let ctt = b[1 + f + t] - st * st / m;
            let cti = b[1 + f + i] - st * b[1 + i] / m;
            if ctt > 0.0 { Some(cti / ctt) } else { None }
        })
        .collect()
}

/// The t-test of feature `i` (see the module's documentation).
pub(crate) fn slope_test(sums: &ImageSums, i: usize) -> SlopeTest {
    let slopes: Vec<f64> = image_slopes(sums, i).into_iter().flatten().collect();
    t_test(&slopes)
}

/// The two-sided one-sample t-test of mean 0 of the per-image `slopes` (the images that have
/// one), with the degenerate cases of the module's documentation.
pub(crate) fn t_test(slopes: &[f64]) -> SlopeTest {
    let m = slopes.len();
    if m == 0 {
        return SlopeTest { images: 0, mean_slope: f64::NAN, t: f64::NAN, p: None };
    }
    let mean = slopes.iter().sum::<f64>() / m as f64;
    if m < 2 {
        return SlopeTest { images: m, mean_slope: mean, t: f64::NAN, p: None };
    }
    let var = slopes.iter().map(|b| (b - mean).powi(2)).sum::<f64>() / (m - 1) as f64;
    if var <= 0.0 {
        let (t, p) = if mean == 0.0 { (0.0, 1.0) } else { (mean.signum() * f64::INFINITY, 0.0) };
        return SlopeTest { images: m, mean_slope: mean, t, p: Some(p) };
    }
    let t = mean / (var / m as f64).sqrt();
    let dist = StudentsT::new(0.0, 1.0, (m - 1) as f64).expect("df >= 1");
    let p = (2.0 * dist.sf(t.abs())).min(1.0);
    SlopeTest { images: m, mean_slope: mean, t, p: Some(p) }
}
