//! The statistics of the first-order (linearised) dependency matrix, built by one entry
//! function, [`first_order_statistics`], from each starting image's gradients of every logit
//! with respect to the noise z, for a list of targets t (the rows) and every feature i.
//!
//! For image j, g_i is the gradient of logit i at image j. The definitions, per cell (t, i):
//!
//! - **correlation** the mean over images of `cos(g_t, g_i) = g_t·g_i / (|g_t| |g_i|)`
//!   (clamped to [-1, 1]), InterFaceGAN's cosine measured locally; an image where |g_t| or
//!   |g_i| is 0 has no cosine and is left out of the mean;
//! - **slope** the mean over images of the per-image first-order slope
//!   `b_j = g_i·g_t / |g_t|²`, how far logit i moves per unit of logit t for a small step
//!   along g_t (the limit of the exact probe's per-image slope); images with |g_t| = 0 are
//!   left out;
//! - **dependency** `slope σ_t / σ_i`, with σ the standard deviation (ddof 1) of the starting
//!   logits over the n images, as the exact probe's (see [`metrics`](super::metrics));
//! - **covariance** undefined: there are no steps;
//! - **mean |d|** and **max |d|** of a row: over the features i ≠ t whose dependency is
//!   defined;
//! - **test** the two-sided one-sample t-test of mean 0 of the per-image slopes b_j
//!   ([`significance`](super::significance), its degenerate cases included), with
//!   Benjamini–Hochberg q-values over the F - 1 features i ≠ t of each row; significant is
//!   `q <= alpha`.
//!
//! At i = t the correlation, slope and dependency are exactly 1 when defined. A mean with no
//! image is undefined (None), as is a dependency where σ_t or σ_i is 0 or undefined (n < 2).
//! The intervals are the exact probe's cluster bootstrap over images
//! ([`bootstrap`](super::bootstrap): the same draws and percentile intervals), every
//! statistic recomputed on each resample as a weighted statistic of per-image values.
//!
//! Owns: the first-order statistics and their result types. Must not touch: the backend,
//! the probe, the report.

use serde::{Deserialize, Serialize};

use super::bootstrap::Estimates;
use super::first_order_cells::Cells;
use super::probe_stats::{check_finite, check_settings, finite};
use super::significance::t_test;
use super::{Estimate, FeatureMetrics, FeatureTest, ProbeStatsError, StatsSettings, benjamini_hochberg};

/// Everything [`first_order_statistics`] reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstOrderStatistics {
    /// n, the sample size of every interval and test.
    pub images: usize,
    /// F.
    pub features: usize,
    /// The dimension of the noise z.
    pub zdim: usize,
    pub settings: StatsSettings,
    /// σ_i, the standard deviation (ddof 1) of logit i over the n starting images, with its
    /// bootstrap interval.
    pub sigma: Vec<Estimate>,
    /// One per target, in the order given.
    pub rows: Vec<FirstOrderRow>,
}

/// Every feature's first-order metrics against one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstOrderRow {
    pub target: usize,
    /// Indexed by feature; the target's entry included (its test is None). The covariance is
    /// always undefined.
    pub features: Vec<FeatureMetrics>,
    /// Mean |d| over i ≠ t with d defined.
    pub mean_abs_dependency: Estimate,
    /// Max |d| over i ≠ t with d defined.
    pub max_abs_dependency: Estimate,
}

/// The first-order statistics (see the module's documentation) of `grads` (the gradient of
/// every logit with respect to z at every starting image, `[image][feature][zdim]`
/// row-major, zdim = `grads.len() / (images x features)`) and the `start`ing logits
/// (`images x features`, row-major), one row per entry of `targets`.
///
/// Cost: `n x targets x F x zdim` multiply-adds for the per-image values, then
/// `B x n x targets x 3F` for the bootstrap.
pub fn first_order_statistics(
    grads: &[f32],
    start: &[f32],
    images: usize,
    features: usize,
    targets: &[usize],
    settings: &StatsSettings,
) -> Result<FirstOrderStatistics, ProbeStatsError> {
    let (n, f) = (images, features);
    let nf = n.checked_mul(f).filter(|&nf| nf > 0).ok_or(ProbeStatsError::NoImagesOrFeatures { images: n, features: f })?;
    if grads.is_empty() || !grads.len().is_multiple_of(nf) {
        return Err(ProbeStatsError::GradShape { len: grads.len(), images: n, features: f });
    }
    let zdim = grads.len() / nf;
    if start.len() != nf {
        return Err(ProbeStatsError::StartShape { len: start.len(), images: n, features: f, expected: nf });
    }
    if let Some(&target) = targets.iter().find(|&&t| t >= f) {
        return Err(ProbeStatsError::Target { target, features: f });
    }
    check_settings(settings)?;
    check_finite(grads, "gradients")?;
    check_finite(start, "starting logits")?;

    let cells = Cells::new(grads, start, n, f, zdim, targets);
    let estimates = Estimates::compute(n, cells.len(), settings, |w, scratch, out| cells.evaluate(w, scratch, out));
    let estimate = |s: usize| estimates.get(s);
    let undefined = Estimate { estimate: None, interval: None };

    let rows = targets
        .iter()
        .enumerate()
        .map(|(r, &t)| {
            let at = cells.row_start(r);
            let tests: Vec<_> = (0..f).map(|i| (i != t).then(|| t_test(&cells.slopes(r, i)))).collect();
            let q = benjamini_hochberg(&tests.iter().map(|x| x.as_ref().and_then(|x| x.p)).collect::<Vec<_>>());
            let features = (0..f)
                .map(|i| FeatureMetrics {
                    index: i,
                    covariance: undefined,
                    correlation: estimate(at + i),
                    slope: estimate(at + f + i),
                    dependency: estimate(at + 2 * f + i),
                    test: tests[i].as_ref().map(|x| FeatureTest {
                        images: x.images,
                        mean_slope: finite(x.mean_slope),
                        t: finite(x.t),
                        p: x.p,
                        q: q[i],
                        significant: q[i].is_some_and(|q| q <= settings.alpha),
                    }),
                })
                .collect();
            FirstOrderRow { target: t, features, mean_abs_dependency: estimate(at + 3 * f), max_abs_dependency: estimate(at + 3 * f + 1) }
        })
        .collect();

    Ok(FirstOrderStatistics { images: n, features: f, zdim, settings: *settings, sigma: (0..f).map(estimate).collect(), rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 4 images, 3 features, zdim 3: feature 1's gradient is twice the target 0's, feature 2's
    /// is orthogonal to it; every starting logit varies.
    fn world() -> (Vec<f32>, Vec<f32>) {
        let t = [[1.0f32, 2.0, -1.0], [0.5, -1.0, 3.0], [2.0, 0.0, 1.0], [-1.0, 1.0, 1.0]];
        let mut grads = Vec::new();
        for g in t {
            // (1, 0, 1) x g is orthogonal to g, as is (0, 1, 0) x g.
            let a = if g[1] == 0.0 { [0.0, 1.0, 0.0] } else { [1.0, 0.0, 1.0] };
            let o = [a[1] * g[2] - a[2] * g[1], a[2] * g[0] - a[0] * g[2], a[0] * g[1] - a[1] * g[0]];
            grads.extend(g);
            grads.extend(g.map(|v| 2.0 * v));
            grads.extend(o);
        }
        let start = vec![0.0, 1.0, -2.0, 1.5, 0.5, 1.0, -1.0, 2.5, 0.0, 0.25, 3.0, 1.0];
        (grads, start)
    }

    fn close(got: Option<f64>, want: f64) {
        assert!(got.is_some_and(|g| (g - want).abs() < 1e-12), "got {got:?}, want {want}");
    }

    #[test]
    fn parallel_gradients_have_cosine_one_and_their_ratio_as_slope_orthogonal_ones_zero() {
        let (grads, start) = world();
        let s = StatsSettings { bootstrap: 50, ..Default::default() };
        let st = first_order_statistics(&grads, &start, 4, 3, &[0, 1], &s).unwrap();
        assert_eq!((st.images, st.features, st.zdim, st.rows.len()), (4, 3, 3, 2));
        let row = &st.rows[0];
        close(row.features[1].correlation.estimate, 1.0);
        close(row.features[1].slope.estimate, 2.0);
        close(row.features[2].correlation.estimate, 0.0);
        close(row.features[2].slope.estimate, 0.0);
        // Every image has the same slopes: p = 0 for 2, p = 1 for 0 (the t-test's limits).
        assert_eq!(row.features[1].test.unwrap().p, Some(0.0));
        assert_eq!(row.features[2].test.unwrap().p, Some(1.0));
        assert!(row.features[1].test.unwrap().significant && !row.features[2].test.unwrap().significant);
        assert_eq!(row.features[1].slope.interval.map(|i| (i.low - 2.0).abs() < 1e-12 && (i.high - 2.0).abs() < 1e-12), Some(true));
        // The reverse row: logit 0 moves half a unit per unit of logit 1.
        close(st.rows[1].features[0].slope.estimate, 0.5);
        close(st.rows[1].features[0].correlation.estimate, 1.0);
        let sd = |i: usize| {
            let x: Vec<f64> = (0..4).map(|j| start[j * 3 + i] as f64).collect();
            let m = x.iter().sum::<f64>() / 4.0;
            (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / 3.0).sqrt()
        };
        close(row.features[1].dependency.estimate, 2.0 * sd(0) / sd(1));
        close(row.mean_abs_dependency.estimate, (2.0 * sd(0) / sd(1) + 0.0) / 2.0);
        close(row.max_abs_dependency.estimate, 2.0 * sd(0) / sd(1));
        close(st.sigma[2].estimate, sd(2));
        for r in &st.rows {
            let own = &r.features[r.target];
            assert_eq!((own.correlation.estimate, own.slope.estimate, own.dependency.estimate), (Some(1.0), Some(1.0), Some(1.0)));
            assert!(own.test.is_none() && r.features.iter().all(|m| m.covariance == Estimate { estimate: None, interval: None }));
        }
    }

    #[test]
    fn zero_gradients_leave_their_images_out_and_undefined_means_are_none() {
        let (mut grads, start) = world();
        // Image 0's gradient of feature 2 and image 1's of the target vanish.
        grads[6..9].fill(0.0);
        grads[9..12].fill(0.0);
        let s = StatsSettings { bootstrap: 0, ..Default::default() };
        let st = first_order_statistics(&grads, &start, 4, 3, &[0, 2], &s).unwrap();
        let t = st.rows[0].features[2].test.unwrap();
        assert_eq!(t.images, 3, "image 1 has no slope");
        close(st.rows[0].features[2].slope.estimate, 0.0);
        close(st.rows[0].features[1].correlation.estimate, 1.0);
        assert!(st.rows[0].features[1].correlation.interval.is_none(), "bootstrap 0: no intervals");
        assert_eq!(st.rows[1].features[0].test.unwrap().images, 3, "image 0 has no g_2");

        // One image only, its target gradient zero: nothing is defined.
        let g = [0.0f32, 0.0, 1.0, 2.0];
        let st = first_order_statistics(&g, &[0.5, 1.0], 1, 2, &[0], &StatsSettings::default()).unwrap();
        let m = &st.rows[0].features[1];
        assert_eq!((m.correlation.estimate, m.slope.estimate, m.dependency.estimate), (None, None, None));
        assert_eq!(m.test.unwrap(), FeatureTest { images: 0, mean_slope: None, t: None, p: None, q: None, significant: false });
        assert_eq!((st.sigma[0].estimate, st.rows[0].mean_abs_dependency.estimate), (None, None));
        assert!(first_order_statistics(&g, &[0.5, 1.0], 1, 2, &[], &StatsSettings::default()).unwrap().rows.is_empty());
    }

    #[test]
    fn the_bootstrap_is_seeded_and_the_record_serialises() {
        let (grads, start) = world();
        let s = StatsSettings { bootstrap: 100, seed: 5, ..Default::default() };
        let a = first_order_statistics(&grads, &start, 4, 3, &[2], &s).unwrap();
        assert_eq!(a, first_order_statistics(&grads, &start, 4, 3, &[2], &s).unwrap());
        let b = first_order_statistics(&grads, &start, 4, 3, &[2], &StatsSettings { seed: 6, ..s }).unwrap();
        assert_ne!(a.sigma[0].interval, b.sigma[0].interval);
        let back: FirstOrderStatistics = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
        assert_eq!(back.rows[0].features[0].test, a.rows[0].features[0].test);
        assert_eq!((back.zdim, back.rows[0].target), (3, 2));
    }

    #[test]
    fn bad_inputs_are_refused() {
        let (grads, start) = world();
        let d = StatsSettings::default();
        let err =
            |g: &[f32], s: &[f32], targets: &[usize], set: &StatsSettings| first_order_statistics(g, s, 4, 3, targets, set).unwrap_err();
        assert_eq!(err(&grads[1..], &start, &[0], &d), ProbeStatsError::GradShape { len: 35, images: 4, features: 3 });
        assert_eq!(err(&[], &start, &[0], &d), ProbeStatsError::GradShape { len: 0, images: 4, features: 3 });
        assert!(matches!(err(&grads, &start[1..], &[0], &d), ProbeStatsError::StartShape { len: 11, expected: 12, .. }));
        assert_eq!(err(&grads, &start, &[0, 3], &d), ProbeStatsError::Target { target: 3, features: 3 });
        assert_eq!(err(&grads, &start, &[0], &StatsSettings { ci: 0.0, ..d }), ProbeStatsError::Ci(0.0));
        assert_eq!(err(&grads, &start, &[0], &StatsSettings { alpha: 1.5, ..d }), ProbeStatsError::Alpha(1.5));
        let mut bad = grads.clone();
        bad[7] = f32::NAN;
        assert_eq!(err(&bad, &start, &[0], &d), ProbeStatsError::NonFinite { what: "gradients", index: 7 });
        let mut bad = start.clone();
        bad[2] = f32::NEG_INFINITY;
        assert_eq!(err(&grads, &bad, &[0], &d), ProbeStatsError::NonFinite { what: "starting logits", index: 2 });
        let none = first_order_statistics(&grads, &start, 0, 3, &[0], &d).unwrap_err();
        assert_eq!(none, ProbeStatsError::NoImagesOrFeatures { images: 0, features: 3 });
    }
}
