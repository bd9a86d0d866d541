//! The probe statistics held to an independent computation: `tools/probe_stats_golden.py`
//! computes every metric from the rows themselves with numpy, the tests with scipy, the
//! observational intervals with statsmodels, and the cluster bootstrap by stacking the
//! resampled images' rows, on a small synthetic probe it writes to
//! `tests/fixtures/probe_stats_golden.json`.

use gan_bias::stats::{Changes, Estimate, MetricSet, ProbeStatistics, RowSet, StatsSettings, probe_statistics};
use serde_json::Value;

const GOLDEN: &str = include_str!("fixtures/probe_stats_golden.json");

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol * want.abs().max(1.0), "{what}: got {got:e}, want {want:e}");
}

struct Golden {
    g: Value,
    stats: ProbeStatistics,
}

fn golden() -> Golden {
    let g: Value = serde_json::from_str(GOLDEN).unwrap();
    let n = |k: &str| g[k].as_u64().unwrap() as usize;
    let changes: Vec<f32> = numbers(&g["changes"]).into_iter().map(|v| v as f32).collect();
    let start: Vec<f32> = numbers(&g["start"]).into_iter().map(|v| v as f32).collect();
    let view = Changes::new(n("steps"), n("images"), n("features"), &changes).unwrap();
    let settings = StatsSettings {
        ci: g["ci"].as_f64().unwrap(),
        bootstrap: n("bootstrap"),
        seed: g["seed"].as_u64().unwrap(),
        alpha: g["alpha"].as_f64().unwrap(),
    };
    let stats = probe_statistics(&view, &start, n("target"), &settings).unwrap();
    Golden { g, stats }
}

/// The flat order of the script: σ (F), then per set (pooled, up, down) cov, corr, slope,
/// dependency (F each), mean |d|, max |d|.
fn flat(stats: &ProbeStatistics) -> Vec<(String, Estimate)> {
    let f = stats.features;
    let mut out: Vec<(String, Estimate)> = stats.sigma.iter().enumerate().map(|(i, e)| (format!("sigma {i}"), *e)).collect();
    for set in RowSet::ALL {
        let m: &MetricSet = stats.set(set);
        for (name, pick) in [("covariance", 0), ("correlation", 1), ("slope", 2), ("dependency", 3)] {
            for i in 0..f {
                let fm = &m.features[i];
                let e = [fm.covariance, fm.correlation, fm.slope, fm.dependency][pick];
                out.push((format!("{set:?} {name} {i}"), e));
            }
        }
        out.push((format!("{set:?} mean |d|"), m.mean_abs_dependency));
        out.push((format!("{set:?} max |d|"), m.max_abs_dependency));
    }
    out
}

#[test]
fn every_metric_and_sigma_matches_numpy() {
    let Golden { g, stats } = golden();
    let flat = flat(&stats);
    let want = numbers(&g["point"]);
    assert_eq!(flat.len(), want.len());
    for ((name, e), w) in flat.iter().zip(&want) {
        close(name, e.estimate.unwrap(), *w, 1e-12);
    }
    assert_eq!((stats.images, stats.steps, stats.features, stats.target), (7, 3, 5, 1));
    assert_eq!((stats.pooled.rows, stats.up.rows, stats.down.rows), (42, 21, 21));
}

#[test]
fn the_pooled_covariance_is_np_cov_of_the_whole_history_to_f64_precision() {
    let Golden { g, stats } = golden();
    let want = numbers(&g["point"]);
    for i in 0..5 {
        close(&format!("cov[t][{i}]"), stats.pooled.features[i].covariance.estimate.unwrap(), want[5 + i], 1e-14);
    }
}

#[test]
fn cluster_bootstrap_intervals_match_the_resampled_rows() {
    let Golden { g, stats } = golden();
    let (low, high) = (numbers(&g["low"]), numbers(&g["high"]));
    for (k, (name, e)) in flat(&stats).iter().enumerate() {
        let i = e.interval.unwrap_or_else(|| panic!("{name} has no interval"));
        close(&format!("{name} low"), i.low, low[k], 1e-11);
        close(&format!("{name} high"), i.high, high[k], 1e-11);
    }
}

#[test]
fn per_image_slope_tests_and_q_values_match_scipy() {
    let Golden { g, stats } = golden();
    let alpha = g["alpha"].as_f64().unwrap();
    for (set, key) in [(RowSet::Pooled, "pooled"), (RowSet::Up, "up"), (RowSet::Down, "down")] {
        let want = &g["tests"][key];
        let (p, q, t, mean) = (numbers(&want["p"]), numbers(&want["q"]), numbers(&want["t"]), numbers(&want["mean_slope"]));
        let m = stats.set(set);
        assert!(m.features[1].test.is_none(), "the target has no test");
        let tests: Vec<_> = m.features.iter().filter_map(|f| f.test).collect();
        assert_eq!(tests.len(), 4);
        for (k, test) in tests.iter().enumerate() {
            let what = format!("{key} feature {k}");
            assert_eq!(test.images, 7, "{what}");
            close(&format!("{what} p"), test.p.unwrap(), p[k], 1e-10);
            close(&format!("{what} q"), test.q.unwrap(), q[k], 1e-10);
            close(&format!("{what} t"), test.t.unwrap(), t[k], 1e-10);
            close(&format!("{what} mean slope"), test.mean_slope.unwrap(), mean[k], 1e-12);
            assert_eq!(test.significant, q[k] <= alpha, "{what}");
        }
    }
    // The data plant a partner (0) and an opponent (2) of the target, both found pooled.
    assert!(stats.pooled.features[0].test.unwrap().significant && stats.pooled.features[2].test.unwrap().significant);
}

#[test]
fn prevalence_and_parity_gap_match_statsmodels() {
    let Golden { g, stats } = golden();
    let o = &stats.observational;
    assert_eq!(o.target_predicted, g["target_predicted"].as_u64().unwrap() as usize);
    assert_eq!(o.target_predicted + o.target_not_predicted, 7);
    for (a, (got, want)) in o.prevalence.iter().zip(g["prevalence"].as_array().unwrap()).enumerate() {
        assert_eq!(got.count, want["count"].as_u64().unwrap() as usize, "prevalence {a}");
        close(&format!("prevalence {a}"), got.estimate.unwrap(), want["estimate"].as_f64().unwrap(), 1e-15);
        let i = got.interval.unwrap();
        close(&format!("wilson {a} low"), i.low, want["low"].as_f64().unwrap(), 1e-12);
        close(&format!("wilson {a} high"), i.high, want["high"].as_f64().unwrap(), 1e-12);
    }
    for (a, (got, want)) in o.parity_gap.iter().zip(g["gaps"].as_array().unwrap()).enumerate() {
        close(&format!("gap {a}"), got.gap.unwrap(), want["gap"].as_f64().unwrap(), 1e-15);
        let i = got.interval.unwrap();
        close(&format!("newcombe {a} low"), i.low, want["low"].as_f64().unwrap(), 1e-12);
        close(&format!("newcombe {a} high"), i.high, want["high"].as_f64().unwrap(), 1e-12);
    }
}
