//! `gan-bias probe`: the table, the output files and their agreement, the noise options,
//! the update rules, batching, the bundled defaults and the planted-world grading.

use super::*;

#[test]
fn probe_prints_header_and_ten_rows_and_feature_by_name_or_index_agree() {
    let by_name = succeeds(&probe_args(&strs(&["--feature", "male"])));
    let header: Vec<&str> = by_name.lines().take_while(|l| l.starts_with("# ")).collect();
    assert_eq!(header.len(), 5, "five header lines (the run, the adapter, means and speed, the statistics, the dependency):\n{by_name}");
    assert!(
        header[3].contains("bootstrap resamples of the 2 images") && header[3].contains("Benjamini-Hochberg over 39 features"),
        "{by_name}"
    );
    assert!(header[4].starts_with("# Male: mean |dependency|"), "{by_name}");
    assert!(header[0].starts_with("# gan-bias probe: Male (index 20), 2 images x 2 steps each way"), "{by_name}");
    assert!(header[0].contains("update notebook") && header[0].contains("noise seed 0"), "{by_name}");
    assert!(header[1].starts_with("# adapter: cpu"), "{by_name}");
    let rows = table(&by_name);
    assert_eq!(rows.len(), 10, "ten table rows:\n{by_name}");
    for (name, cov) in &rows {
        assert!(CELEBA_FEATURES.contains(&name.as_str()), "{name} is a CelebA feature");
        assert_ne!(name, "Male", "the target is not in its own table");
        assert!(cov.is_finite());
    }
    for w in rows.windows(2) {
        assert!(w[0].1.abs() >= w[1].1.abs() - 1e-6, "sorted by |covariance|: {rows:?}");
    }
    // The last header line holds timings; everything else is the same whichever way Male is named.
    let stable = |s: &str| -> Vec<String> { s.lines().filter(|l| !l.contains("GFLOP/s")).map(str::to_string).collect() };
    for feature in ["20", "MALE", "Male"] {
        let other = succeeds(&probe_args(&strs(&["--feature", feature])));
        assert_eq!(stable(&other), stable(&by_name), "--feature {feature} vs --feature male");
    }
}

#[test]
fn output_files_have_the_documented_layouts_and_agree() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, cov_csv, json) = (dir.path().join("top.csv"), dir.path().join("cov.csv"), dir.path().join("run.json"));
    let stdout = succeeds(&probe_args(&["--csv".into(), p(&csv), "--cov-csv".into(), p(&cov_csv), "--json".into(), p(&json)]));

    // Top CSV.
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("rank,feature,index,covariance,correlation,slope,dependency,ci_low,ci_high,p,q"));
    let top: Vec<(usize, String, usize, f32)> = lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            assert_eq!(c.len(), 11, "{l}");
            (c[0].parse().unwrap(), c[1].to_string(), c[2].parse().unwrap(), c[3].parse().unwrap())
        })
        .collect();
    assert_eq!(top.len(), 10);
    for (k, (rank, name, index, _)) in top.iter().enumerate() {
        assert_eq!(*rank, k + 1);
        assert_eq!(name, CELEBA_FEATURES[*index]);
        assert_ne!(*index, 20);
    }

    // Covariance CSV.
    let (names, m) = read_cov_csv(&cov_csv);
    assert_eq!(names, CELEBA_FEATURES.to_vec());
    assert_eq!(m.len(), 40);
    let scale = m.iter().flatten().fold(0.0f32, |a, x| a.max(x.abs()));
    assert!(scale > 0.0, "the covariance is not all zero");
    for (i, row) in m.iter().enumerate() {
        assert_eq!(row.len(), 40);
        assert!(row[i] >= 0.0, "variance of {} is negative: {}", names[i], row[i]);
        for (j, &x) in row.iter().enumerate() {
            let y = m[j][i];
            let tol = 1e-6 * x.abs().max(y.abs()) + 1e-7 * scale;
            assert!((x - y).abs() <= tol, "not symmetric at [{i}, {j}]: {x} vs {y}");
        }
    }
    // The top rows are the matrix's target row, largest |cov| first, the target left out.
    for (_, _, index, cov) in &top {
        assert_eq!(*cov, m[20][*index], "top CSV vs cov CSV at [20, {index}]");
    }
    let mut others: Vec<f32> = (0..40).filter(|&j| j != 20).map(|j| m[20][j].abs()).collect();
    others.sort_by(|a, b| b.total_cmp(a));
    let listed: Vec<f32> = top.iter().map(|t| t.3.abs()).collect();
    assert_eq!(listed, others[..10].to_vec(), "the ten largest |cov[Male, j]|");

    // The printed table: the same rows, rounded to 6 decimals.
    let printed = table(&stdout);
    assert_eq!(printed.len(), 10);
    for ((name, cov), (_, tname, _, tcov)) in printed.iter().zip(&top) {
        assert_eq!(name, tname);
        assert!((cov - tcov).abs() <= 1e-6, "{name}: printed {cov} vs CSV {tcov}");
    }

    // JSON: the probe report serialised, its layout versioned.
    let j = read_json(&json);
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["covariance", "features", "settings", "statistics", "target_logit_mean", "timings", "top", "version"]);
    assert_eq!(j["version"], gan_bias::report::probe::VERSION);
    let s = &j["settings"];
    assert_eq!(s["feature"], "Male");
    assert_eq!(s["target_index"], 20);
    assert_eq!(s["images"], 2);
    assert_eq!(s["steps"], 2);
    assert_eq!(s["update"], "notebook");
    assert_eq!(s["noise"], "seed 0");
    assert_eq!(s["top"], 10);
    assert_eq!(s["backend"], "cpu");
    assert_eq!(s["generator"]["arch"], "coursera");
    assert_eq!(s["generator"]["z_dim"], 8);
    assert_eq!(s["classifier"]["arch"], "classifier");
    assert_eq!(s["classifier"]["features"], 40);
    assert_eq!(s["batches"], 1);
    assert!(s["adapter"].as_str().unwrap().starts_with("cpu"));
    let t = &j["timings"];
    for k in ["probe_seconds", "gflop", "gflop_per_second"] {
        assert!(t[k].as_f64().is_some_and(|v| v.is_finite() && v >= 0.0), "timings.{k}: {}", t[k]);
    }
    let means = &j["target_logit_mean"];
    let mean = |k: &str| means[k].as_f64().unwrap_or_else(|| panic!("target_logit_mean.{k}: {}", means[k]));
    let (start, up, down) = (mean("start"), mean("last_step_up"), mean("last_step_down"));
    assert!(up > start && down < start, "moving up raises the target's logit, down lowers it: {start} -> {up} / {down}");
    let header = stdout.lines().nth(2).unwrap();
    assert!(header.contains(&format!("{start:.4} -> {up:.4} (up) / {down:.4} (down)")), "{header}");
    let features: Vec<&str> = j["features"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(features, CELEBA_FEATURES.to_vec());
    let jm: Vec<Vec<f32>> = j["covariance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect())
        .collect();
    assert_eq!(jm.len(), 40);
    assert!(jm.iter().all(|r| r.len() == 40));
    assert_eq!(jm, m, "JSON matrix vs cov CSV");
    let jtop = j["top"].as_array().unwrap();
    assert_eq!(jtop.len(), 10);
    for (e, (rank, name, index, cov)) in jtop.iter().zip(&top) {
        assert_eq!(e["rank"].as_u64().unwrap() as usize, *rank);
        assert_eq!(e["feature"].as_str().unwrap(), name);
        assert_eq!(e["index"].as_u64().unwrap() as usize, *index);
        assert_eq!(e["covariance"].as_f64().unwrap() as f32, *cov);
    }
    // Nothing else (no temporary files) beside the three outputs.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn noise_file_sets_the_image_count_and_overrides_images_and_seed() {
    let dir = tempfile::tempdir().unwrap();
    let noise = noise_file(dir.path(), "noise.safetensors", &[3, 8], &filler(24, 1));
    let json = dir.path().join("run.json");
    let cov_a = dir.path().join("a.csv");
    succeeds(&probe_args(&[
        "--noise".into(),
        p(&noise),
        "--images".into(),
        "2".into(),
        "--seed".into(),
        "9".into(),
        "--json".into(),
        p(&json),
        "--cov-csv".into(),
        p(&cov_a),
    ]));
    let j = read_json(&json);
    assert_eq!(j["settings"]["images"], 3);
    assert!(j["settings"]["noise"].as_str().unwrap().starts_with("file "), "{}", j["settings"]["noise"]);
    // Other --images (even 0) and --seed: the same result, since the file decides.
    let zero = cov_of(dir.path(), "zero", &["--noise".into(), p(&noise), "--images".into(), "0".into()]);
    assert_eq!(read_cov_csv(&cov_a).1, zero);
    let b = cov_of(dir.path(), "b", &["--noise".into(), p(&noise), "--images".into(), "5".into(), "--seed".into(), "1".into()]);
    assert_eq!(read_cov_csv(&cov_a).1, b);
    // And not the same as the seeded noise.
    let seeded = cov_of(dir.path(), "seeded", &strs(&["--images", "3", "--seed", "9"]));
    assert!(max_diff(&seeded, &b) > 0.0, "the noise file was ignored");
}

#[test]
fn seed_zero_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let default = cov_of(dir.path(), "default", &[]);
    let zero = cov_of(dir.path(), "zero", &strs(&["--seed", "0"]));
    assert_eq!(default, zero);
    let one = cov_of(dir.path(), "one", &strs(&["--seed", "1"]));
    assert!(max_diff(&default, &one) > 0.0, "--seed changes the noise");
}

#[test]
fn noise_file_of_torch_randn_equals_the_seed() {
    let dir = tempfile::tempdir().unwrap();
    let noise = noise_file(dir.path(), "randn5.safetensors", &[3, 8], &gan_bias::rng::torch_randn(5, 3 * 8));
    let from_file = cov_of(dir.path(), "file", &["--noise".into(), p(&noise)]);
    let from_seed = cov_of(dir.path(), "seed", &strs(&["--seed", "5", "--images", "3"]));
    assert_matrices_close("--noise randn(5) vs --seed 5", &from_file, &from_seed, 1e-6);
}

#[test]
fn sgd_update_differs_from_the_notebook_update() {
    let dir = tempfile::tempdir().unwrap();
    // With two steps both rules take the same first step and record the same logits; the
    // notebook's accumulated gradient first shows in the third step's logits.
    let notebook = cov_of(dir.path(), "notebook", &strs(&["--steps", "3"]));
    let explicit = cov_of(dir.path(), "explicit", &strs(&["--steps", "3", "--update", "notebook"]));
    assert_eq!(notebook, explicit, "notebook is the default");
    let sgd = cov_of(dir.path(), "sgd", &strs(&["--steps", "3", "--update", "sgd"]));
    let scale = notebook.iter().flatten().fold(0.0f32, |m, x| m.max(x.abs()));
    assert!(max_diff(&notebook, &sgd) > 1e-4 * scale, "sgd and notebook updates give the same covariance");
}

#[test]
fn max_batch_splits_the_rows_without_changing_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let whole = cov_of(dir.path(), "whole", &[]);
    for (max, batches) in [("3", 2), ("1", 4)] {
        let json = dir.path().join(format!("max{max}.json"));
        let split = cov_of(dir.path(), &format!("max{max}"), &["--max-batch".into(), max.into(), "--json".into(), p(&json)]);
        let j = read_json(&json);
        assert_eq!(j["settings"]["batches"], batches, "--max-batch {max}");
        assert!(j["settings"]["batch_rows"].as_u64().unwrap() <= max.parse().unwrap());
        assert_matrices_close(&format!("--max-batch {max}"), &split, &whole, 1e-6);
    }
}

/// A small `--memory-budget` plans smaller batches (the rows' bytes come from the lowered
/// program) with the same result; one too small for a single row is refused in one line
/// naming the sizes; a size that is not one is refused by the parser.
#[test]
fn memory_budget_sizes_the_batches_without_changing_the_result() {
    let dir = tempfile::tempdir().unwrap();
    let whole = cov_of(dir.path(), "whole", &[]);
    let json = dir.path().join("budget.json");
    let split = cov_of(dir.path(), "budget", &strs(&["--memory-budget", "0.6MB", "--json", &p(&json)]));
    let batches = read_json(&json)["settings"]["batches"].as_u64().unwrap();
    assert!(batches > 1, "a 0.6 MB budget still ran one batch");
    assert_matrices_close("--memory-budget 0.6MB", &split, &whole, 1e-6);
    fails(&probe_args(&strs(&["--memory-budget", "100kB"])), &["not even one image fits", "--memory-budget", "each row"]);
    // A usage error: clap's message, with its pointer to --help.
    let out = gan(&probe_args(&strs(&["--memory-budget", "lots"])));
    assert!(
        !out.status.success() && crate::common::run::stderr_of(&out).contains("\"lots\" is not a size"),
        "{}",
        crate::common::run::stderr_of(&out)
    );
}

/// With no weights named, every command uses the bundled demo weights, and `probe` grades
/// itself against the bundled world's planted correlations.
#[test]
fn bundled_weights_are_the_default() {
    let world: Value = serde_json::from_str(&std::fs::read_to_string(bundled("demo-world.json")).unwrap()).unwrap();
    let names: Vec<&str> = world["features"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let listed = succeeds(&strs(&["features"]));
    let got: Vec<&str> = listed.lines().map(|l| l.split_whitespace().nth(1).unwrap()).collect();
    assert_eq!(got, names);

    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let args = strs(&["probe", "--backend", "cpu", "--images", "3", "--steps", "2", "--feature", "Smiling", "--json", &p(&json)]);
    let out = succeeds(&args);
    let report = read_json(&json);
    for (role, file) in [("generator", "demo_generator.safetensors"), ("classifier", "demo_classifier.safetensors")] {
        let path = report["settings"][role]["path"].as_str().unwrap();
        assert!(path.ends_with(file), "{role} path {path}");
    }
    assert!(out.contains("planted world") && out.contains("demo-world.json"), "{out}");
    // The table gains the measured and planted correlation of each top feature.
    let header = out.lines().find(|l| l.starts_with("feature")).expect("a table header");
    assert!(header.contains("corr") && header.contains("planted"), "{header}");
    let smiling = names.iter().position(|&n| n == "Smiling").unwrap();
    let planted_row = &world["planted_correlation"][smiling];
    let rows = main_table(&out);
    let planted_column = rows[0].split_whitespace().position(|c| c == "planted").expect("a planted column");
    for line in &rows[1..] {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let i = names.iter().position(|&n| n == cols[0]).unwrap_or_else(|| panic!("{line}"));
        let planted: f64 = cols[planted_column].parse().unwrap();
        assert!((planted - planted_row[i].as_f64().unwrap()).abs() <= 5e-4, "{line}");
    }

    // Generating from the bundled generator needs no weights either.
    let png = dir.path().join("g.png");
    succeeds(&strs(&["generate", "--n", "2", "--backend", "cpu", "-o", &p(&png)]));
    assert!(png.exists());
}

#[test]
fn planted_worlds_that_do_not_fit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    // A world of other features than the classifier's (the tiny classifier has the CelebA 40).
    let mut world: Value = serde_json::from_str(&std::fs::read_to_string(bundled("demo-world.json")).unwrap()).unwrap();
    world["features"] = Value::Array((0..40).map(|i| Value::String(format!("attr{i}"))).collect());
    let other = dir.path().join("other-world.json");
    std::fs::write(&other, world.to_string()).unwrap();
    fails(&probe_args(&["--planted".into(), p(&other)]), &["other-world.json", "features"]);
    // The bundled world grades a run of classifiers with its features.
    let out = succeeds(&probe_args(&["--planted".into(), p(&bundled("demo-world.json"))]));
    assert!(out.contains("planted world"), "{out}");
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"features\": [\"a\"]}").unwrap();
    fails(&probe_args(&["--planted".into(), p(&broken)]), &["broken.json"]);
    fails(&probe_args(&["--planted".into(), p(&dir.path().join("absent.json"))]), &["absent.json"]);
}
