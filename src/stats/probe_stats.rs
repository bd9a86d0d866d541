//! The probe's statistics, built by one entry function, [`probe_statistics`]: every metric
//! of every feature against the target for the pooled, up and down rows, their
//! cluster-bootstrap intervals, a test per feature with Benjamini–Hochberg q-values, and the
//! observational block of the starting images.
//!
//! The definitions live once, each where it is computed: the metrics in
//! [`metrics`](super::metrics) (covariance, correlation, slope, dependency, mean and max |d|),
//! the bootstrap and its quantiles in [`bootstrap`](super::bootstrap), the test in
//! [`significance`](super::significance), the q-values in [`benjamini_hochberg`], the
//! prevalences and the parity gap in [`observational`](super::observational).
//!
//! The sample size is the number of images n, never the number of rows 2Sn.
//!
//! Owns: the entry point and its settings and errors. Must not touch: the backend, the probe, the report.

use serde::{Deserialize, Serialize};

use super::bootstrap::{Engine, Estimates, layout};
use super::metrics::set_len;
use super::observational::observational;
pub use super::results::{Estimate, FeatureMetrics, FeatureTest, Interval, Metric, MetricSet, ProbeStatistics, RowSet};
use super::significance::slope_test;
use super::sufficient::{ImageSums, StartSums, feature_means};
use super::{Changes, Direction, benjamini_hochberg, normal_quantile};

/// What the statistics are computed with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StatsSettings {
    /// The level of every interval, in (0, 1) (default 0.95).
    pub ci: f64,
    /// The number of cluster-bootstrap resamples B (default 1000; 0 gives no intervals of the
    /// probe metrics; the observational intervals need none).
    pub bootstrap: usize,
    /// The bootstrap's seed (default 0).
    pub seed: u64,
    /// The q-value at or below which a feature is called significant, in [0, 1] (default 0.05).
    pub alpha: f64,
}

impl Default for StatsSettings {
    fn default() -> Self {
        StatsSettings { ci: 0.95, bootstrap: 1000, seed: 0, alpha: 0.05 }
    }
}

/// Why the statistics cannot be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProbeStatsError {
    #[error("the starting logits hold {len} values, but {images} images x {features} features need {expected}")]
    StartShape { len: usize, images: usize, features: usize, expected: usize },
    #[error("target {target} is not one of the {features} features")]
    Target { target: usize, features: usize },
    #[error("the probe statistics need at least one image, step and feature ({images} images, {steps} steps, {features} features)")]
    Empty { images: usize, steps: usize, features: usize },
    #[error("the interval level must lie strictly between 0 and 1, not {0}")]
    Ci(f64),
    #[error("alpha must lie in [0, 1], not {0}")]
    Alpha(f64),
    #[error("the {what} hold a non-finite value at index {index}")]
    NonFinite { what: &'static str, index: usize },
    #[error("the first-order statistics need at least one image and feature ({images} images, {features} features)")]
    NoImagesOrFeatures { images: usize, features: usize },
    #[error("the gradients hold {len} values, which is not a positive multiple of {images} images x {features} features")]
    GradShape { len: usize, images: usize, features: usize },
}

/// None for NaN (an undefined statistic), else the value.
pub(super) fn finite(v: f64) -> Option<f64> {
    if v.is_nan() { None } else { Some(v) }
}

/// Refuses an interval level outside (0, 1) or an alpha outside [0, 1].
pub(super) fn check_settings(settings: &StatsSettings) -> Result<(), ProbeStatsError> {
    if !(settings.ci > 0.0 && settings.ci < 1.0) {
        return Err(ProbeStatsError::Ci(settings.ci));
    }
    if !(0.0..=1.0).contains(&settings.alpha) {
        return Err(ProbeStatsError::Alpha(settings.alpha));
    }
    Ok(())
}

/// Refuses the first non-finite value of `values`, naming them `what`.
pub(super) fn check_finite(values: &[f32], what: &'static str) -> Result<(), ProbeStatsError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(ProbeStatsError::NonFinite { what, index }),
        None => Ok(()),
    }
}

/// The probe's statistics of the recorded `changes` (layout `(2, S, n, F)`), the `start`ing
/// logits (`n x F`, row-major) and the `target` feature t.
///
/// The pooled covariance is `np.cov` of all 2Sn rows (what the probe's kernel computes), to
/// f64 precision. Cost: one pass over the rows to build the per-image sums, then `B x n x 5F`
/// multiply-adds for the bootstrap.
pub fn probe_statistics(
    changes: &Changes,
    start: &[f32],
    target: usize,
    settings: &StatsSettings,
) -> Result<ProbeStatistics, ProbeStatsError> {
    let (steps, n, f) = (changes.steps(), changes.images(), changes.features());
    if n == 0 || steps == 0 || f == 0 {
        return Err(ProbeStatsError::Empty { images: n, steps, features: f });
    }
    if start.len() != n * f {
        return Err(ProbeStatsError::StartShape { len: start.len(), images: n, features: f, expected: n * f });
    }
    if target >= f {
        return Err(ProbeStatsError::Target { target, features: f });
    }
    check_settings(settings)?;
    check_finite(changes.values(), "recorded changes")?;
    check_finite(start, "starting logits")?;

    let shift = feature_means(changes);
    let up = ImageSums::of_direction(changes, Direction::Up, target, &shift);
    let down = ImageSums::of_direction(changes, Direction::Down, target, &shift);
    let engine = Engine::new(up, down, StartSums::new(start, n, f));

    let estimates = Estimates::compute(n, engine.len(), settings, |w, scratch, out| engine.evaluate(w, scratch, out));
    let estimate = |s: usize| estimates.get(s);

    let sigma = (0..f).map(estimate).collect();
    let metric_set = |set: RowSet| {
        let (index, sums, rows) = match set {
            RowSet::Pooled => (layout::POOLED, &engine.pooled, 2 * steps * n),
            RowSet::Up => (layout::UP, &engine.up, steps * n),
            RowSet::Down => (layout::DOWN, &engine.down, steps * n),
        };
        let at = layout::set_start(f, index);
        let tests: Vec<_> = (0..f).map(|i| (i != target).then(|| slope_test(sums, i))).collect();
        let q = benjamini_hochberg(&tests.iter().map(|t| t.as_ref().and_then(|t| t.p)).collect::<Vec<_>>());
        let features = (0..f)
            .map(|i| FeatureMetrics {
                index: i,
                covariance: estimate(at + i),
                correlation: estimate(at + f + i),
                slope: estimate(at + 2 * f + i),
                dependency: estimate(at + 3 * f + i),
                test: tests[i].as_ref().map(|t| FeatureTest {
                    images: t.images,
                    mean_slope: finite(t.mean_slope),
                    t: finite(t.t),
                    p: t.p,
                    q: q[i],
                    significant: q[i].is_some_and(|q| q <= settings.alpha),
                }),
            })
            .collect();
        debug_assert_eq!(set_len(f), 4 * f + 2);
        MetricSet { set, rows, features, mean_abs_dependency: estimate(at + 4 * f), max_abs_dependency: estimate(at + 4 * f + 1) }
    };

    Ok(ProbeStatistics {
        target,
        images: n,
        steps,
        features: f,
        settings: *settings,
        sigma,
        pooled: metric_set(RowSet::Pooled),
        up: metric_set(RowSet::Up),
        down: metric_set(RowSet::Down),
        observational: observational(start, n, f, target, normal_quantile(0.5 + settings.ci / 2.0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe of `n` images, `s` steps, 4 features, target 0: the target moves by k (k = ±1..s)
    /// plus a per-image term, feature 1 follows it, 2 never changes, 3 drifts with the image.
    fn probe(n: usize, s: usize) -> (Vec<f32>, Vec<f32>) {
        let f = 4;
        let mut v = vec![0.0f32; 2 * s * n * f];
        for d in 0..2 {
            for step in 0..s {
                for j in 0..n {
                    let k = if d == 0 { (step + 1) as f32 } else { -((step + 1) as f32) };
                    let r = ((d * s + step) * n + j) * f;
                    let wiggle = ((j * 7 + step * 3 + d) % 5) as f32 * 0.1;
                    v[r] = k * (1.0 + 0.1 * j as f32) + wiggle;
                    v[r + 1] = 0.5 * v[r] - wiggle;
                    v[r + 3] = k * (j as f32 - 1.5) * 0.2 + wiggle * wiggle;
                }
            }
        }
        let start = (0..n * f).map(|k| ((k * 37 % 11) as f32 - 5.0) * 0.3).collect();
        (v, start)
    }

    #[test]
    fn a_constant_feature_has_no_correlation_a_zero_slope_and_p_one() {
        let (v, start) = probe(6, 3);
        let c = Changes::new(3, 6, 4, &v).unwrap();
        let st = probe_statistics(&c, &start, 0, &StatsSettings { bootstrap: 50, ..Default::default() }).unwrap();
        for set in RowSet::ALL {
            let m = &st.set(set).features[2];
            assert_eq!(m.covariance.estimate, Some(0.0), "{set:?}");
            assert_eq!(m.correlation.estimate, None, "{set:?}");
            assert_eq!(m.correlation.interval, None, "{set:?}");
            assert_eq!(m.slope.estimate, Some(0.0), "{set:?}");
            assert_eq!(m.test.unwrap().p, Some(1.0), "{set:?}");
            assert!(!m.test.unwrap().significant);
            let t = &st.set(set).features[0];
            assert_eq!((t.correlation.estimate, t.slope.estimate, t.dependency.estimate), (Some(1.0), Some(1.0), Some(1.0)));
            assert!(t.test.is_none());
        }
    }

    #[test]
    fn a_constant_target_or_sigma_leaves_the_metrics_undefined_without_panicking() {
        let (mut v, mut start) = probe(5, 2);
        for r in v.chunks_exact_mut(4) {
            r[0] = 0.0;
        }
        let c = Changes::new(2, 5, 4, &v).unwrap();
        let st = probe_statistics(&c, &start, 0, &StatsSettings { bootstrap: 20, ..Default::default() }).unwrap();
        for m in &st.pooled.features {
            assert_eq!((m.correlation.estimate, m.slope.estimate, m.dependency.estimate), (None, None, None));
            if let Some(t) = m.test {
                assert_eq!((t.images, t.p, t.q, t.significant), (0, None, None, false));
            }
        }
        assert_eq!(st.pooled.mean_abs_dependency.estimate, None);

        // A logit that is the same on every starting image: σ = 0, so no dependency for it.
        let (v, _) = probe(5, 2);
        for j in 0..5 {
            start[j * 4 + 3] = 1.25;
        }
        let c = Changes::new(2, 5, 4, &v).unwrap();
        let st = probe_statistics(&c, &start, 0, &StatsSettings { bootstrap: 20, ..Default::default() }).unwrap();
        assert_eq!(st.sigma[3].estimate, Some(0.0));
        assert_eq!(st.pooled.features[3].dependency.estimate, None);
        assert!(st.pooled.features[3].slope.estimate.is_some());
        let d1 = st.pooled.features[1].dependency.estimate.unwrap().abs();
        let d2 = st.pooled.features[2].dependency.estimate.unwrap().abs();
        assert!((st.pooled.mean_abs_dependency.estimate.unwrap() - (d1 + d2) / 2.0).abs() < 1e-12);
        assert_eq!(st.pooled.max_abs_dependency.estimate, Some(d1.max(d2)));
    }

    #[test]
    fn one_image_or_one_step_defines_what_it_can() {
        let (v, start) = probe(1, 3);
        let c = Changes::new(3, 1, 4, &v).unwrap();
        let st = probe_statistics(&c, &start, 0, &StatsSettings::default()).unwrap();
        assert!(st.sigma.iter().all(|s| s.estimate.is_none() && s.interval.is_none()));
        let m = &st.pooled.features[1];
        assert!(m.slope.estimate.is_some() && m.dependency.estimate.is_none());
        assert_eq!(m.test.unwrap().p, None, "one image is no test");

        let (v, start) = probe(6, 1);
        let c = Changes::new(1, 6, 4, &v).unwrap();
        let st = probe_statistics(&c, &start, 0, &StatsSettings { bootstrap: 30, ..Default::default() }).unwrap();
        assert_eq!(st.up.features[1].test.unwrap().images, 0, "one row per image has no slope");
        assert_eq!(st.pooled.features[1].test.unwrap().images, 6);
        assert!(st.up.features[1].slope.estimate.is_some(), "the set's slope pools its images");
    }

    #[test]
    fn the_bootstrap_is_seeded_and_off_at_zero() {
        let (v, start) = probe(8, 3);
        let c = Changes::new(3, 8, 4, &v).unwrap();
        let s = StatsSettings { bootstrap: 100, seed: 3, ..Default::default() };
        let a = probe_statistics(&c, &start, 0, &s).unwrap();
        assert_eq!(a, probe_statistics(&c, &start, 0, &s).unwrap());
        let b = probe_statistics(&c, &start, 0, &StatsSettings { seed: 4, ..s }).unwrap();
        assert_ne!(a.pooled.features[3].slope.interval, b.pooled.features[3].slope.interval);
        assert_eq!(a.pooled.features[3].slope.estimate, b.pooled.features[3].slope.estimate);
        let off = probe_statistics(&c, &start, 0, &StatsSettings { bootstrap: 0, ..s }).unwrap();
        assert!(off.pooled.features.iter().all(|m| m.slope.interval.is_none() && m.slope.estimate.is_some()));
        assert_eq!(off.pooled.features[3].test, a.pooled.features[3].test, "the test needs no bootstrap");
        let i = a.pooled.features[3].slope.interval.unwrap();
        assert!(i.low <= i.high);
    }

    #[test]
    fn bad_inputs_are_refused() {
        let (v, start) = probe(4, 2);
        let c = Changes::new(2, 4, 4, &v).unwrap();
        let d = StatsSettings::default();
        let err = |s: &StatsSettings, start: &[f32], t| probe_statistics(&c, start, t, s).unwrap_err();
        assert!(matches!(err(&d, &start[1..], 0), ProbeStatsError::StartShape { len: 15, expected: 16, .. }));
        assert_eq!(err(&d, &start, 4), ProbeStatsError::Target { target: 4, features: 4 });
        assert_eq!(err(&StatsSettings { ci: 1.0, ..d }, &start, 0), ProbeStatsError::Ci(1.0));
        assert_eq!(err(&StatsSettings { alpha: -0.1, ..d }, &start, 0), ProbeStatsError::Alpha(-0.1));
        let mut bad = start.clone();
        bad[5] = f32::NAN;
        assert_eq!(err(&d, &bad, 0), ProbeStatsError::NonFinite { what: "starting logits", index: 5 });
        let mut w = v.clone();
        w[9] = f32::INFINITY;
        let c2 = Changes::new(2, 4, 4, &w).unwrap();
        assert!(matches!(probe_statistics(&c2, &start, 0, &d), Err(ProbeStatsError::NonFinite { index: 9, .. })));
        let empty = Changes::new(0, 4, 4, &[]).unwrap();
        assert!(matches!(probe_statistics(&empty, &start, 0, &d), Err(ProbeStatsError::Empty { .. })));
    }

    #[test]
    fn an_empty_target_group_has_no_gap_and_the_report_serialises() {
        let (v, mut start) = probe(5, 2);
        for j in 0..5 {
            start[j * 4] = 2.0;
        }
        let c = Changes::new(2, 5, 4, &v).unwrap();
        let st = probe_statistics(&c, &start, 0, &StatsSettings { bootstrap: 10, ..Default::default() }).unwrap();
        assert_eq!((st.observational.target_predicted, st.observational.target_not_predicted), (5, 0));
        assert!(st.observational.parity_gap.iter().all(|g| g.gap.is_none() && g.interval.is_none()));
        assert_eq!(st.observational.prevalence[0].estimate, Some(1.0));
        let json = serde_json::to_string(&st).unwrap();
        assert!(json.contains("\"gap\":null") && json.contains("\"set\":\"pooled\""), "{json}");
        for m in Metric::ALL {
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{}\"", m.name()));
        }
        for r in RowSet::ALL {
            assert_eq!(serde_json::to_string(&r).unwrap(), format!("\"{}\"", r.name()));
            assert_eq!(st.set(r).set, r);
        }
        assert_eq!(st.pooled.features[1].metric(Metric::Slope), &st.pooled.features[1].slope);
        // It reads back (to serde_json's float parsing, which both sides share).
        let back: ProbeStatistics = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::from_str::<serde_json::Value>(&json).unwrap());
        assert_eq!(back.pooled.features[2].test, st.pooled.features[2].test);
    }
}
