//! The first-order statistics held to an independent computation: `tools/first_order_golden.py`
//! computes every cosine and slope from the gradients with numpy, the tests with scipy, and the
//! cluster bootstrap by recomputing everything on the resampled list of images, on small
//! synthetic gradients it writes to `tests/fixtures/first_order_golden.json` (one image's
//! gradient of feature 4 is zero, so it has no cosine with 4 and no slope in 4's row).

use gan_bias::stats::{Estimate, FirstOrderStatistics, StatsSettings, first_order_statistics};
use serde_json::Value;

const GOLDEN: &str = include_str!("fixtures/first_order_golden.json");

fn numbers(v: &Value) -> Vec<Option<f64>> {
    v.as_array().unwrap().iter().map(Value::as_f64).collect()
}

fn golden() -> (Value, FirstOrderStatistics) {
    let g: Value = serde_json::from_str(GOLDEN).unwrap();
    let n = |k: &str| g[k].as_u64().unwrap() as usize;
    let f32s = |k: &str| numbers(&g[k]).into_iter().map(|v| v.unwrap() as f32).collect::<Vec<_>>();
    let targets: Vec<usize> = g["targets"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap() as usize).collect();
    let settings = StatsSettings {
        ci: g["ci"].as_f64().unwrap(),
        bootstrap: n("bootstrap"),
        seed: g["seed"].as_u64().unwrap(),
        alpha: g["alpha"].as_f64().unwrap(),
    };
    let stats = first_order_statistics(&f32s("grads"), &f32s("start"), n("images"), n("features"), &targets, &settings).unwrap();
    (g, stats)
}

/// The flat order of the script: σ (F), then per row correlation, slope, dependency (F each),
/// mean |d|, max |d|.
fn flat(stats: &FirstOrderStatistics) -> Vec<(String, Estimate)> {
    let mut out: Vec<(String, Estimate)> = stats.sigma.iter().enumerate().map(|(i, e)| (format!("sigma {i}"), *e)).collect();
    for row in &stats.rows {
        let t = row.target;
        for (name, pick) in [("correlation", 0), ("slope", 1), ("dependency", 2)] {
            for m in &row.features {
                out.push((format!("row {t} {name} {}", m.index), [m.correlation, m.slope, m.dependency][pick]));
            }
        }
        out.push((format!("row {t} mean |d|"), row.mean_abs_dependency));
        out.push((format!("row {t} max |d|"), row.max_abs_dependency));
    }
    out
}

/// Compares every pair, both defined or both not; panics naming the worst relative error when
/// it passes `tol` (relative to |want|, or to 1e-6 for smaller values).
fn compare(pairs: &[(String, Option<f64>, Option<f64>)], tol: f64) {
    let mut worst: Option<(f64, &str, f64, f64)> = None;
    for (name, got, want) in pairs {
        match (got, want) {
            (Some(g), Some(w)) => {
                let err = (g - w).abs() / w.abs().max(1e-6);
                if worst.is_none_or(|(e, ..)| err > e) {
                    worst = Some((err, name, *g, *w));
                }
            }
            (None, None) => {}
            _ => panic!("{name}: got {got:?}, want {want:?}"),
        }
    }
    if let Some((err, name, g, w)) = worst {
        assert!(err <= tol, "worst is {name}: got {g:e}, want {w:e} (relative error {err:e})");
    }
}

#[test]
fn every_estimate_and_sigma_matches_numpy() {
    let (g, stats) = golden();
    let flat = flat(&stats);
    let want = numbers(&g["point"]);
    assert_eq!(flat.len(), want.len());
    let pairs: Vec<_> = flat.iter().zip(&want).map(|((name, e), w)| (name.clone(), e.estimate, *w)).collect();
    compare(&pairs, 1e-9);
    assert_eq!((stats.images, stats.features, stats.zdim), (7, 5, 3));
    assert_eq!(stats.rows.iter().map(|r| r.target).collect::<Vec<_>>(), vec![4, 1]);
    assert!(stats.rows.iter().all(|r| r.features.iter().all(|m| m.covariance.estimate.is_none())));
}

#[test]
fn every_bootstrap_interval_matches_the_resampled_numpy_computation() {
    let (g, stats) = golden();
    let flat = flat(&stats);
    let (low, high) = (numbers(&g["low"]), numbers(&g["high"]));
    let mut pairs = Vec::new();
    for (((name, e), lo), hi) in flat.iter().zip(&low).zip(&high) {
        pairs.push((format!("{name} low"), e.interval.map(|i| i.low), *lo));
        pairs.push((format!("{name} high"), e.interval.map(|i| i.high), *hi));
    }
    assert_eq!(pairs.len(), 2 * low.len());
    compare(&pairs, 1e-9);
}

#[test]
fn per_image_slope_tests_and_q_values_match_scipy() {
    let (g, stats) = golden();
    let mut pairs = Vec::new();
    for (row, want) in stats.rows.iter().zip(g["tests"].as_array().unwrap()) {
        let tests: Vec<_> = row.features.iter().filter(|m| m.index != row.target).map(|m| (m.index, m.test.unwrap())).collect();
        assert!(row.features[row.target].test.is_none());
        let images: Vec<u64> = want["images"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!(tests.iter().map(|(_, t)| t.images as u64).collect::<Vec<_>>(), images, "row {}", row.target);
        for key in ["mean_slope", "t", "p", "q"] {
            for ((i, t), w) in tests.iter().zip(numbers(&want[key])) {
                let got = match key {
                    "mean_slope" => t.mean_slope,
                    "t" => t.t,
                    "p" => t.p,
                    _ => t.q,
                };
                pairs.push((format!("row {} {key} {i}", row.target), got, w));
            }
        }
        for (_, t) in &tests {
            assert_eq!(t.significant, t.q.unwrap() <= stats.settings.alpha);
        }
    }
    compare(&pairs, 1e-9);
    // The fixture has one significant feature and one row with an image left out.
    assert!(stats.rows.iter().any(|r| r.features.iter().any(|m| m.test.is_some_and(|t| t.significant))));
    assert!(stats.rows[0].features.iter().any(|m| m.test.is_some_and(|t| t.images == 6)));
}
