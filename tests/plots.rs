//! The probe's plots: the least-squares fit against nalgebra's, seaborn-style binning, the t
//! quantile, and the `--plot` / `--heatmap` SVGs end to end on the tiny fixtures (the PNGs
//! are in `plots_png.rs`).

mod common;

use common::{fails, fixture, probe_args, succeeds};
use gan_bias::backend::cpu::CpuBackend;
use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::plots::{self, regression, t_quantile, x_bins};
use gan_bias::probe::{Keep, ProbeSettings, run_probe, run_probe_with};
use gan_bias::rng::torch_randn;
use nalgebra::{DMatrix, DVector};
use std::path::Path;

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
    let (lo, hi) = f.band(2.0);
    assert!((hi - lo).abs() < 1e-9, "a perfect line has no band: {lo}..{hi}");

    let noise = torch_randn(7, 400);
    let x: Vec<f64> = noise[..200].iter().map(|&v| v as f64 * 3.0 + 1.0).collect();
    let y: Vec<f64> = x.iter().zip(&noise[200..]).map(|(a, &e)| 0.8 * a - 2.0 + e as f64).collect();
    let f = regression(&x, &y);
    let (slope, intercept) = svd_fit(&x, &y);
    close("noisy slope", f.slope, slope, 1e-10);
    close("noisy intercept", f.intercept, intercept, 1e-10);
    // The band is narrowest at the mean of x and contains the fitted value.
    let width = |x: f64| f.band(x).1 - f.band(x).0;
    assert!(width(f.x_mean) > 0.0 && width(f.x_mean) < width(f.x_mean + 3.0));
    let (lo, hi) = f.band(0.5);
    assert!(lo < f.predict(0.5) && f.predict(0.5) < hi);
}

#[test]
fn t_quantile_is_close_to_the_tables() {
    for (df, want) in [(1.0, 63.657), (2.0, 9.925), (5.0, 4.032), (10.0, 3.169), (30.0, 2.750), (1000.0, 2.581)] {
        let got = t_quantile(0.995, df);
        assert!((got - want).abs() / want < 2e-3, "t(0.995, {df}) = {got}, want {want}");
    }
    assert!((plots::normal_quantile(0.995) - 2.5758).abs() < 1e-3);
    assert!((t_quantile(0.975, 10.0) - 2.228).abs() < 5e-3);
}

#[test]
fn bins_take_every_point_once_at_seaborn_percentile_centres() {
    let noise = torch_randn(3, 600);
    let x: Vec<f64> = noise[..300].iter().map(|&v| v as f64).collect();
    let y: Vec<f64> = noise[300..].iter().map(|&v| v as f64 * 2.0).collect();
    let k = 12;
    let bins = x_bins(&x, &y, k);
    assert_eq!(bins.len(), k);
    assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), x.len());
    // Centres: numpy's percentile at linspace(0, 100, k + 2)[1:-1], linear interpolation.
    let mut sorted = x.clone();
    sorted.sort_by(f64::total_cmp);
    for (i, b) in bins.iter().enumerate() {
        let pos = (i + 1) as f64 / (k + 1) as f64 * (sorted.len() - 1) as f64;
        let (l, frac) = (pos.floor() as usize, pos - pos.floor());
        close("centre", b.x, sorted[l] + frac * (sorted[l + 1] - sorted[l]), 1e-12);
    }
    // Each point in exactly one bin: the nearest centre; means recomputed independently.
    let mut members = vec![Vec::new(); k];
    for (a, b) in x.iter().zip(&y) {
        let nearest = (0..k).min_by(|&i, &j| (a - bins[i].x).abs().total_cmp(&(a - bins[j].x).abs())).unwrap();
        members[nearest].push(*b);
    }
    for (b, m) in bins.iter().zip(&members) {
        assert_eq!(b.count, m.len());
        if !m.is_empty() {
            close("bin mean", b.mean, m.iter().sum::<f64>() / m.len() as f64, 1e-12);
            assert!(b.lo <= b.mean && b.mean <= b.hi);
        }
    }
    // Repeated values make repeated centres; the later one stays empty, nothing is lost.
    let x = vec![0.0; 10].into_iter().chain((1..=5).map(|i| i as f64)).collect::<Vec<_>>();
    let bins = x_bins(&x, &vec![1.0; x.len()], 6);
    assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), x.len());
    assert!(bins.iter().any(|b| b.count == 0));
}

#[test]
fn kept_changes_change_no_number_and_fit_like_nalgebra() {
    let g = common::generator(&fixture("tiny_coursera_gen.safetensors"));
    let c = common::classifier(&fixture("tiny_classifier.safetensors"));
    let (n, steps, target, f) = (3, 4, 20, c.output[0]);
    let z0 = torch_randn(0, n * g.input[0]);
    let settings = ProbeSettings { target, steps, update: UpdateRule::Notebook, max_batch: Some(4) };
    let plain = run_probe(&mut CpuBackend::new(), &g, &c, &z0, &settings).unwrap();
    assert!(plain.changes.is_none());
    let kept = run_probe_with(&mut CpuBackend::new(), &g, &c, &z0, &settings, Keep { noise: 0, changes: true }, None).unwrap();
    assert_eq!(kept.cov, plain.cov);
    let changes = kept.changes.expect("changes kept");
    assert_eq!(changes.len(), 2 * steps * n * f);
    // Step 0 of both directions is the start itself: no change.
    for dir in 0..2 {
        let base = dir * steps * n * f;
        assert!(changes[base..base + n * f].iter().all(|v| *v == 0.0));
    }
    let rows = changes.len() / f;
    let x: Vec<f64> = (0..rows).map(|r| changes[r * f + target] as f64).collect();
    for other in [0, 5, 31] {
        let y: Vec<f64> = (0..rows).map(|r| changes[r * f + other] as f64).collect();
        let fit = regression(&x, &y);
        let (slope, intercept) = svd_fit(&x, &y);
        close("slope of the probe's changes", fit.slope, slope, 1e-8);
        close("intercept of the probe's changes", fit.intercept, intercept, 1e-8);
    }
}

// ---------------------------------------------------------------------------------------------
// The command

/// The values of attribute `name` in `svg`, in order.
fn attrs(svg: &str, name: &str) -> Vec<String> {
    let key = format!(" {name}=\"");
    svg.match_indices(&key).map(|(i, _)| svg[i + key.len()..].split('"').next().unwrap().to_string()).collect()
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn plot_writes_an_svg_whose_slopes_fit_the_probe_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plot.svg");
    let p = s(&path);
    succeeds(&probe_args(&["--plot", &p, "--plot-features", "smiling,Bald,Young"]));
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("Generator Biases: Features vs Male-ness"));
    assert!(svg.contains("Other Feature"));
    assert_eq!(svg.matches("class=\"fit\"").count(), 3);
    assert_eq!(attrs(&svg, "data-feature"), ["Smiling", "Bald", "Young"]);

    // The same probe in the library, fitted independently.
    let g = common::generator(&fixture("tiny_coursera_gen.safetensors"));
    let c = common::classifier(&fixture("tiny_classifier.safetensors"));
    let names = &c.features;
    let target = gan_bias::features::resolve("Male", names).unwrap();
    let z0 = torch_randn(0, 3 * g.input[0]);
    let settings = ProbeSettings { target, steps: 4, update: UpdateRule::Notebook, max_batch: None };
    let out = run_probe_with(&mut CpuBackend::new(), &g, &c, &z0, &settings, Keep { noise: 0, changes: true }, None).unwrap();
    let (changes, f) = (out.changes.unwrap(), out.features);
    let rows = changes.len() / f;
    let x: Vec<f64> = (0..rows).map(|r| changes[r * f + target] as f64).collect();
    for (name, slope) in ["Smiling", "Bald", "Young"].iter().zip(attrs(&svg, "data-slope")) {
        let j = gan_bias::features::resolve(name, names).unwrap();
        let y: Vec<f64> = (0..rows).map(|r| changes[r * f + j] as f64).collect();
        let (want, _) = svd_fit(&x, &y);
        close(&format!("{name}'s slope in the SVG"), slope.parse().unwrap(), want, 1e-6);
    }

    // By default: the top 5 of the printed table.
    succeeds(&probe_args(&["--plot", &p]));
    let svg = std::fs::read_to_string(&path).unwrap();
    assert_eq!(svg.matches("class=\"fit\"").count(), 5);
}

#[test]
fn heatmap_has_a_cell_per_entry_and_names_on_both_axes() {
    let dir = tempfile::tempdir().unwrap();
    for metric in ["cov", "corr"] {
        let path = dir.path().join(format!("{metric}.svg"));
        succeeds(&probe_args(&["--heatmap", &s(&path), "--heatmap-metric", metric]));
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert_eq!(svg.matches("class=\"cell\"").count(), 40 * 40);
        assert_eq!(svg.matches("class=\"xlabel\"").count(), 40);
        assert_eq!(svg.matches("class=\"ylabel\"").count(), 40);
        for name in ["Male", "Smiling", "Young", "5oClockShadow"] {
            assert!(svg.matches(&format!(">{name}<")).count() >= 2, "{name} on both axes");
        }
        if metric == "corr" {
            let v: Vec<f64> = attrs(&svg, "data-value").iter().map(|v| v.parse().unwrap()).collect();
            assert!(v.iter().all(|v| v.abs() <= 1.0 + 1e-5));
        }
    }
}

#[test]
fn plots_fail_early_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let jpg = s(&dir.path().join("x.jpg"));
    fails(&probe_args(&["--plot", &jpg]), &["--plot", &jpg, ".svg or .png"]);
    fails(&probe_args(&["--heatmap", &jpg]), &["--heatmap", &jpg, ".svg or .png"]);
    assert!(!dir.path().join("x.jpg").exists());
    fails(&probe_args(&["--plot", "/no/such/folder/p.svg"]), &["does not exist"]);
    let ok = s(&dir.path().join("p.svg"));
    fails(&probe_args(&["--plot", &ok, "--plot-features", "Smilng"]), &["--plot-features", "Smilng", "Smiling"]);
    fails(&probe_args(&["--plot-features", "Smiling"]), &["--plot"]);
}
