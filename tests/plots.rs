//! The probe's plots: the least-squares fit of the probe's recorded changes against nalgebra's,
//! and the `--plot` / `--heatmap` SVGs end to end on the tiny fixtures (the PNGs are in
//! `plots_png.rs`; the fit, binning and quantiles alone are tested in `src/stats/`).

use crate::common::{fails, fixture, probe_args, succeeds};
use gan_bias::backend::cpu::CpuBackend;
use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::probe::{Keep, ProbeSettings, run_probe, run_probe_with};
use gan_bias::rng::torch_randn;
use gan_bias::stats::{Changes, Direction, regression};
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
fn kept_changes_change_no_number_and_fit_like_nalgebra() {
    let g = crate::common::generator(&fixture("tiny_coursera_gen.safetensors"));
    let c = crate::common::classifier(&fixture("tiny_classifier.safetensors"));
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
    let view = Changes::new(steps, n, f, &changes).unwrap();
    for d in Direction::ALL {
        assert!((0..n).all(|i| view.row(view.row_index(d, 0, i)).iter().all(|v| *v == 0.0)));
    }
    let rows = changes.len() / f;
    let x: Vec<f64> = (0..rows).map(|r| changes[r * f + target] as f64).collect();
    assert_eq!(view.column(target), x, "the view's column is the layout's");
    for other in [0, 5, 31] {
        let y: Vec<f64> = (0..rows).map(|r| changes[r * f + other] as f64).collect();
        assert_eq!(view.column(other), y);
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
    let g = crate::common::generator(&fixture("tiny_coursera_gen.safetensors"));
    let c = crate::common::classifier(&fixture("tiny_classifier.safetensors"));
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
