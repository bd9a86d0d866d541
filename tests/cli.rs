//! The `gan-bias` command end to end, on the tiny fixtures: the printed table, the CSV and JSON
//! files and their agreement, the noise options, batching, and one clear line for each bad input.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;
use common::{fixture, shared};
use gan_bias::model::presets::CELEBA_FEATURES;
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Running the command

fn gen_path() -> String {
    fixture("tiny_coursera_gen.safetensors").display().to_string()
}

fn cls_path() -> String {
    fixture("tiny_classifier.safetensors").display().to_string()
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

fn gan(args: &[String]) -> Output {
    Command::cargo_bin("gan-bias").expect("the gan-bias binary").args(args).output().expect("running gan-bias")
}

fn strs(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// `probe` on the tiny fixtures, CPU backend, 2 images x 2 steps, target Male; a flag given in
/// `extra` replaces the default one (clap refuses a flag given twice).
fn probe_args(extra: &[String]) -> Vec<String> {
    let defaults = [
        ("--backend", "cpu".to_string()),
        ("--images", "2".to_string()),
        ("--steps", "2".to_string()),
        ("--feature", "Male".to_string()),
        ("--generator", gen_path()),
        ("--classifier", cls_path()),
    ];
    let mut a = vec!["probe".to_string()];
    for (flag, value) in defaults {
        if !extra.iter().any(|e| e == flag) {
            a.extend([flag.to_string(), value]);
        }
    }
    a.extend_from_slice(extra);
    a
}

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `args`, which must succeed; returns stdout.
fn succeeds(args: &[String]) -> String {
    let out = gan(args);
    let err = stderr_of(&out);
    assert!(out.status.success(), "gan-bias {args:?} failed ({:?}):\n{err}", out.status);
    assert!(!err.contains("panicked"), "gan-bias {args:?} panicked:\n{err}");
    stdout_of(&out)
}

/// Runs `args`, which must fail with exactly one line on stderr (ignoring the XDG_RUNTIME_DIR
/// noise of graphics drivers), no panic, and the line containing every one of `needles`.
fn fails(args: &[String], needles: &[&str]) -> String {
    let out = gan(args);
    let err = stderr_of(&out);
    assert!(!out.status.success(), "gan-bias {args:?} succeeded but should fail; stdout:\n{}", stdout_of(&out));
    assert!(!err.contains("panicked"), "gan-bias {args:?} panicked:\n{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "gan-bias {args:?} panicked:\n{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.contains("XDG_RUNTIME_DIR") && !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "gan-bias {args:?}: expected one line on stderr, got:\n{err}");
    let line = lines[0];
    eprintln!("gan-bias {}:\n  {line}", args.join(" "));
    for n in needles {
        assert!(line.contains(n), "gan-bias {args:?}: message does not mention '{n}':\n{line}");
    }
    line.to_string()
}

// ---------------------------------------------------------------------------------------------
// Safetensors files made in the tests

type Raw = BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>;

fn read_raw(path: &Path) -> Raw {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors().into_iter().map(|(k, v)| (k, (v.dtype(), v.shape().to_vec(), v.data().to_vec()))).collect()
}

fn write_raw(path: &Path, raw: &Raw) {
    let views: Vec<(String, TensorView<'_>)> =
        raw.iter().map(|(k, (dtype, shape, data))| (k.clone(), TensorView::new(*dtype, shape.clone(), data).unwrap())).collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn f32_entry(shape: &[usize], v: &[f32]) -> (Dtype, Vec<usize>, Vec<u8>) {
    assert_eq!(shape.iter().product::<usize>(), v.len());
    (Dtype::F32, shape.to_vec(), f32_bytes(v))
}

/// Deterministic values in [-0.5, 0.5), for noise and replacement weights.
fn filler(len: usize, salt: u32) -> Vec<f32> {
    let mut s = 0x9e37_79b9u32 ^ salt.wrapping_mul(0x85eb_ca6b);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / 16_777_216.0 - 0.5
        })
        .collect()
}

/// A noise file: tensor `noise` of `shape`, plus an unrelated tensor the command must ignore.
fn noise_file(dir: &Path, name: &str, shape: &[usize], values: &[f32]) -> PathBuf {
    let mut raw = Raw::new();
    raw.insert("noise".into(), f32_entry(shape, values));
    raw.insert("extra_ignored".into(), f32_entry(&[2, 2], &[1.0, 2.0, 3.0, 4.0]));
    let path = dir.join(name);
    write_raw(&path, &raw);
    path
}

/// A copy of a fixture with `edit` applied, written to `dir/name`.
fn edited_fixture(fixture_name: &str, dir: &Path, name: &str, edit: impl FnOnce(&mut Raw)) -> PathBuf {
    let mut raw = read_raw(&fixture(fixture_name));
    edit(&mut raw);
    let path = dir.join(name);
    write_raw(&path, &raw);
    path
}

// ---------------------------------------------------------------------------------------------
// Reading the outputs

/// The table lines (not the `# ` header) as (name, covariance).
fn table(stdout: &str) -> Vec<(String, f32)> {
    stdout
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next().unwrap().to_string();
            let cov = parts.next().unwrap_or_else(|| panic!("no covariance in {l:?}")).parse().unwrap_or_else(|e| panic!("{l:?}: {e}"));
            assert!(parts.next().is_none(), "more than two fields in {l:?}");
            (name, cov)
        })
        .collect()
}

/// The cov CSV: names and the matrix.
fn read_cov_csv(path: &Path) -> (Vec<String>, Vec<Vec<f32>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(str::to_string).collect();
    assert_eq!(header[0], "feature");
    let names = header[1..].to_vec();
    let mut rows = Vec::new();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), names.len() + 1, "row {i}: {line}");
        assert_eq!(cells[0], names[i], "row {i} names its feature first");
        rows.push(cells[1..].iter().map(|c| c.parse::<f32>().unwrap_or_else(|e| panic!("row {i}: {c:?}: {e}"))).collect());
    }
    (names, rows)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// Runs the probe with `extra` and returns its covariance matrix (through `--cov-csv`).
fn cov_of(dir: &Path, tag: &str, extra: &[String]) -> Vec<Vec<f32>> {
    let path = dir.join(format!("{tag}.csv"));
    let mut args = extra.to_vec();
    args.extend(["--cov-csv".into(), p(&path)]);
    succeeds(&probe_args(&args));
    read_cov_csv(&path).1
}

fn assert_matrices_close(what: &str, a: &[Vec<f32>], b: &[Vec<f32>], rtol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: rows");
    let scale = a.iter().flatten().fold(0.0f32, |m, x| m.max(x.abs()));
    for (i, (ra, rb)) in a.iter().zip(b).enumerate() {
        for (j, (&x, &y)) in ra.iter().zip(rb).enumerate() {
            let tol = rtol * x.abs().max(y.abs()) + 1e-7 * scale;
            assert!((x - y).abs() <= tol, "{what}: [{i}, {j}] {x} vs {y}");
        }
    }
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter().flatten().zip(b.iter().flatten()).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
}

fn no_files_in(dir: &Path) {
    let left: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "files left in {}: {left:?}", dir.display());
}

// ---------------------------------------------------------------------------------------------
// Successful runs

#[test]
fn probe_prints_header_and_ten_rows_and_feature_by_name_or_index_agree() {
    let by_name = succeeds(&probe_args(&strs(&["--feature", "male"])));
    let header: Vec<&str> = by_name.lines().filter(|l| l.starts_with("# ")).collect();
    assert_eq!(header.len(), 3, "three header lines:\n{by_name}");
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
    assert_eq!(lines.next(), Some("rank,feature,index,covariance"));
    let top: Vec<(usize, String, usize, f32)> = lines
        .map(|l| {
            let c: Vec<&str> = l.split(',').collect();
            assert_eq!(c.len(), 4, "{l}");
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

    // JSON.
    let j = read_json(&json);
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

#[test]
fn features_lists_forty_names_with_male_at_20() {
    let out = succeeds(&strs(&["features", "--classifier", &cls_path()]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 40, "{out}");
    for (i, line) in lines.iter().enumerate() {
        let mut parts = line.split_whitespace();
        assert_eq!(parts.next().unwrap().parse::<usize>().unwrap(), i, "{line}");
        assert_eq!(parts.next().unwrap(), CELEBA_FEATURES[i], "{line}");
    }
    assert_eq!(lines[20].split_whitespace().collect::<Vec<_>>(), ["20", "Male"]);
}

#[test]
fn info_exits_zero() {
    let out = succeeds(&strs(&["info"]));
    assert!(out.contains("auto picks:"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// Bad input: a non-zero exit, one line naming the problem, no panic, no output files

#[test]
fn missing_generator_file_names_the_path_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no_such_generator.safetensors");
    fails(
        &probe_args(&[
            "--generator".into(),
            p(&missing),
            "--csv".into(),
            p(&out.path().join("top.csv")),
            "--cov-csv".into(),
            p(&out.path().join("cov.csv")),
            "--json".into(),
            p(&out.path().join("run.json")),
        ]),
        &[&p(&missing), "cannot read"],
    );
    no_files_in(out.path());
}

#[test]
fn file_that_is_not_safetensors_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"this is certainly not a safetensors file, just some text\n".repeat(20)).unwrap();
    fails(&probe_args(&["--classifier".into(), p(&junk)]), &[&p(&junk), "not a safetensors file"]);
    // A file too short for the header length, and an empty one.
    std::fs::write(&junk, b"abc").unwrap();
    fails(&probe_args(&["--generator".into(), p(&junk)]), &[&p(&junk), "not a safetensors file"]);
    std::fs::write(&junk, b"").unwrap();
    fails(&probe_args(&["--generator".into(), p(&junk)]), &[&p(&junk)]);
}

#[test]
fn missing_tensor_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cls = edited_fixture("tiny_classifier.safetensors", dir.path(), "cls.safetensors", |raw| {
        raw.remove("classifier.2.1.running_var").expect("fixture has classifier.2.1.running_var");
    });
    fails(&probe_args(&["--classifier".into(), p(&cls)]), &["missing tensor", "classifier.2.1.running_var"]);
    let gen_ = edited_fixture("tiny_coursera_gen.safetensors", dir.path(), "gen.safetensors", |raw| {
        raw.remove("gen.4.0.bias").expect("fixture has gen.4.0.bias");
    });
    fails(&probe_args(&["--generator".into(), p(&gen_)]), &["missing tensor", "gen.4.0.bias"]);
}

#[test]
fn wrong_shape_names_expected_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let cls = edited_fixture("tiny_classifier.safetensors", dir.path(), "cls.safetensors", |raw| {
        raw.insert("classifier.1.1.running_var".into(), f32_entry(&[9], &[1.0; 9]));
    });
    fails(&probe_args(&["--classifier".into(), p(&cls)]), &["classifier.1.1.running_var", "[9]", "[8]"]);
    // A conv kernel of the wrong size.
    let gen_ = edited_fixture("tiny_coursera_gen.safetensors", dir.path(), "gen.safetensors", |raw| {
        raw.insert("gen.4.0.weight".into(), f32_entry(&[4, 3, 3, 3], &filler(108, 2)));
    });
    fails(&probe_args(&["--generator".into(), p(&gen_)]), &["gen.4.0"]);
}

#[test]
fn classifier_input_channels_must_match_the_generator_output() {
    let dir = tempfile::tempdir().unwrap();
    // The first conv takes 4 channels: a classifier for RGBA images, a generator making RGB.
    let cls = edited_fixture("tiny_classifier.safetensors", dir.path(), "rgba.safetensors", |raw| {
        raw.insert("classifier.0.0.weight".into(), f32_entry(&[4, 4, 4, 4], &filler(256, 3)));
    });
    // (The same file works as a classifier on its own.)
    succeeds(&strs(&["features", "--classifier", &p(&cls)]));
    fails(&probe_args(&["--classifier".into(), p(&cls)]), &["expects 4x64x64", "makes 3x64x64", &p(&cls)]);
}

#[test]
fn non_finite_weight_names_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let gen_ = edited_fixture("tiny_coursera_gen.safetensors", dir.path(), "gen.safetensors", |raw| {
        let data = &mut raw.get_mut("gen.2.0.weight").unwrap().2;
        data[7 * 4..8 * 4].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    fails(&probe_args(&["--generator".into(), p(&gen_)]), &["gen.2.0.weight", "non-finite", "NaN", "index 7"]);
    let cls = edited_fixture("tiny_classifier.safetensors", dir.path(), "cls.safetensors", |raw| {
        let data = &mut raw.get_mut("classifier.0.1.running_var").unwrap().2;
        data[..4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    });
    fails(&probe_args(&["--classifier".into(), p(&cls)]), &["classifier.0.1.running_var", "non-finite"]);
}

#[test]
fn bad_noise_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let json = out.path().join("run.json");
    let mut values = filler(24, 4);
    values[13] = f32::NAN;
    let nan = noise_file(dir.path(), "nan.safetensors", &[3, 8], &values);
    fails(&probe_args(&["--noise".into(), p(&nan), "--json".into(), p(&json)]), &["noise", "non-finite"]);
    values[13] = f32::NEG_INFINITY;
    let inf = noise_file(dir.path(), "inf.safetensors", &[3, 8], &values);
    fails(&probe_args(&["--noise".into(), p(&inf)]), &["noise", "non-finite"]);
    let wrong = noise_file(dir.path(), "wrong.safetensors", &[3, 7], &filler(21, 5));
    fails(&probe_args(&["--noise".into(), p(&wrong), "--json".into(), p(&json)]), &["noise", "[3, 7]", "8"]);
    let flat = noise_file(dir.path(), "flat.safetensors", &[24], &filler(24, 6));
    fails(&probe_args(&["--noise".into(), p(&flat)]), &["noise", "[24]"]);
    let empty = noise_file(dir.path(), "empty.safetensors", &[0, 8], &[]);
    fails(&probe_args(&["--noise".into(), p(&empty)]), &["noise", "[0, 8]"]);
    // No tensor named `noise`.
    let mut raw = Raw::new();
    raw.insert("z".into(), f32_entry(&[3, 8], &filler(24, 7)));
    let unnamed = dir.path().join("unnamed.safetensors");
    write_raw(&unnamed, &raw);
    fails(&probe_args(&["--noise".into(), p(&unnamed)]), &["missing tensor noise"]);
    let missing = dir.path().join("absent.safetensors");
    fails(&probe_args(&["--noise".into(), p(&missing)]), &[&p(&missing)]);
    no_files_in(out.path());
}

#[test]
fn zero_counts_are_refused() {
    let out = tempfile::tempdir().unwrap();
    let csv = out.path().join("top.csv");
    fails(&probe_args(&["--steps".into(), "0".into(), "--csv".into(), p(&csv)]), &["--steps", "at least 1"]);
    fails(&probe_args(&["--images".into(), "0".into(), "--csv".into(), p(&csv)]), &["--images", "at least 1"]);
    fails(&probe_args(&strs(&["--top", "0"])), &["--top"]);
    fails(&probe_args(&strs(&["--max-batch", "0"])), &["--max-batch"]);
    no_files_in(out.path());
}

#[test]
fn unknown_feature_suggests_the_closest() {
    let line = fails(&probe_args(&strs(&["--feature", "Mael"])), &["Mael", "Male"]);
    assert!(line.contains("unknown feature"), "{line}");
    fails(&probe_args(&strs(&["--feature", "40"])), &["40", "out of range"]);
}

fn bundled(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("weights").join(name)
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
    for line in out.lines().filter(|l| !l.starts_with('#') && !l.starts_with("feature")) {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let i = names.iter().position(|&n| n == cols[0]).unwrap_or_else(|| panic!("{line}"));
        let planted: f64 = cols[3].parse().unwrap();
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

#[test]
fn models_in_the_wrong_role_are_refused() {
    fails(&probe_args(&["--generator".into(), cls_path()]), &["classifier", "generator"]);
    fails(&probe_args(&["--classifier".into(), gen_path()]), &["generator", "classifier"]);
}

#[test]
#[cfg(not(target_os = "macos"))]
fn backend_without_an_adapter_says_so() {
    fails(&probe_args(&strs(&["--backend", "metal"])), &["adapter", "metal"]);
}

/// No part of an error message is said twice (a `{source}` in an error's Display while main
/// also prints the error's source chain gives "...: No such file (os error 2): No such file (os error 2)").
#[test]
fn error_messages_do_not_repeat_their_cause() {
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("absent.safetensors");
    let cases = [
        probe_args(&["--generator".into(), p(&absent)]),
        probe_args(&["--noise".into(), p(&absent)]),
        probe_args(&["--csv".into(), p(&dir.path().join("missing").join("x.csv"))]),
    ];
    for args in &cases {
        let line = fails(args, &[]);
        let parts: Vec<&str> = line.split(": ").collect();
        for w in parts.windows(2) {
            assert_ne!(w[0], w[1], "the message repeats '{}':\n{line}", w[0]);
        }
    }
}

#[test]
fn output_in_a_missing_directory_fails_without_partial_files() {
    let out = tempfile::tempdir().unwrap();
    let nested = out.path().join("missing").join("dir").join("x.csv");
    fails(&probe_args(&["--csv".into(), p(&nested)]), &[&p(&nested)]);
    no_files_in(out.path());
    let absolute = Path::new("/nonexistent/dir/x.csv");
    assert!(!absolute.parent().unwrap().exists());
    fails(&probe_args(&["--csv".into(), p(absolute)]), &["/nonexistent/dir/x.csv"]);
    assert!(!absolute.exists() && !absolute.parent().unwrap().exists());
    // The JSON in a missing folder: nothing partial there either.
    let json = out.path().join("gone").join("run.json");
    fails(&probe_args(&["--json".into(), p(&json)]), &[&p(&json)]);
    no_files_in(out.path());
}

// ---------------------------------------------------------------------------------------------
// gan-bias import

#[test]
fn import_refuses_hostile_checkpoints_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.safetensors");
    let canary = dir.path().join("executed");
    for name in ["posix_system_zip.pth", "posix_system_legacy.pth"] {
        let input = fixture(&format!("hostile/{name}"));
        let args: Vec<String> = vec!["import".into(), input.display().to_string(), "-o".into(), out.display().to_string()];
        fails(&args, &["posix.system"]);
        assert!(!out.exists(), "{name}: an output file was left behind");
        // The probe refuses the same file as weights.
        let args: Vec<String> = ["probe", "--feature", "Male", "--backend", "cpu", "--classifier"]
            .iter()
            .map(|s| s.to_string())
            .chain([input.display().to_string(), "--generator".into(), fixture("tiny_coursera_gen.safetensors").display().to_string()])
            .collect();
        fails(&args, &["posix.system"]);
    }
    assert!(!canary.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no temporary file left behind");
}

#[test]
fn import_writes_arch_and_features_and_the_result_probes_like_the_pth() {
    let dir = tempfile::tempdir().unwrap();
    let cls_st = dir.path().join("cls.safetensors");
    let cls_pth = shared("coursera_celeba40_classifier.pth");
    succeeds(&["import".into(), cls_pth.display().to_string(), "-o".into(), cls_st.display().to_string()]);
    let bytes = std::fs::read(&cls_st).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta["gan_bias.arch"], "classifier");
    assert!(meta["gan_bias.features"].starts_with("5oClockShadow,ArchedEyebrows,"));
    let listed = succeeds(&["import".into(), cls_pth.display().to_string(), "--list".into()]);
    assert!(listed.contains("classifier.3.0.weight  F32  [40, 256, 4, 4]"), "{listed}");
    // The converted file and the .pth give the same probe.
    let run = |cls: &Path| {
        let args: Vec<String> = ["probe", "--feature", "Male", "--backend", "cpu", "--images", "2", "--steps", "2", "--generator"]
            .iter()
            .map(|s| s.to_string())
            .chain([fixture("tiny_coursera_gen.safetensors").display().to_string(), "--classifier".into(), cls.display().to_string()])
            .collect();
        let out = succeeds(&args);
        out.lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(run(&cls_st), run(&cls_pth));
}

#[test]
fn notebook_style_checkpoint_with_several_state_dicts_loads_its_generator() {
    // {"gen", "gen_opt", "disc", "disc_opt"}, as the notebook's pretrained_celeba.pth is laid out.
    let run = |generator: &Path| {
        let args: Vec<String> = ["probe", "--feature", "Male", "--backend", "cpu", "--images", "2", "--steps", "2", "--classifier"]
            .iter()
            .map(|s| s.to_string())
            .chain([fixture("tiny_classifier.safetensors").display().to_string(), "--generator".into(), generator.display().to_string()])
            .collect();
        succeeds(&args).lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(run(&fixture("notebook_style_gen.pth")), run(&fixture("tiny_coursera_gen.safetensors")));
    let args: Vec<String> = vec!["import".into(), fixture("notebook_style_gen.pth").display().to_string(), "--list".into()];
    fails(&args, &["--key"]);
    let args: Vec<String> =
        vec!["import".into(), fixture("notebook_style_gen.pth").display().to_string(), "--list".into(), "--key".into(), "gen".into()];
    assert!(succeeds(&args).contains("gen.4.0.weight"));
}

// ---------------------------------------------------------------------------------------------
// Pictures: `generate` and the probe's `--grid`

fn decode_png(path: &Path) -> gan_bias::pictures::RgbImage {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgb, png::BitDepth::Eight));
    buf.truncate(info.buffer_size());
    gan_bias::pictures::RgbImage { width: info.width as usize, height: info.height as usize, pixels: buf }
}

fn generate_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = strs(&["generate", "--backend", "cpu", "--generator", &gen_path(), "-o", &p(out)]);
    a.extend(strs(extra));
    a
}

fn tiny_zdim() -> usize {
    common::generator(&fixture("tiny_coursera_gen.safetensors")).input[0]
}

/// The tiny generator's images (NCHW) for `z`, through `evaluate` on the reference CPU backend.
fn tiny_images(z: &[f32]) -> Vec<f32> {
    use gan_bias::backend::cpu::CpuBackend;
    let g = common::generator(&fixture("tiny_coursera_gen.safetensors"));
    let c = common::classifier(&fixture("tiny_classifier.safetensors"));
    let stages = gan_bias::program::lower::chain(&g, &c).unwrap();
    gan_bias::probe::evaluate(&mut CpuBackend::new(), &stages, z, 0).unwrap().outputs.swap_remove(g.stages.len() - 1)
}

/// Asserts tile `(col, row)` of a grid of 64x64 tiles with 2 px padding shows `image` (3x64x64).
fn assert_tile(grid: &gan_bias::pictures::RgbImage, col: usize, row: usize, image: &[f32], what: &str) {
    let (x0, y0) = (2 + col * 66, 2 + row * 66);
    for (x, y) in [(0, 0), (63, 63), (17, 40), (50, 9), (32, 32)] {
        let got = grid.pixel(x0 + x, y0 + y);
        for k in 0..3 {
            let want = gan_bias::pictures::to_byte(image[k * 4096 + y * 64 + x]);
            assert!(got[k].abs_diff(want) <= 1, "{what}: tile ({col}, {row}) pixel ({x}, {y}) channel {k}: {} vs {want}", got[k]);
        }
    }
}

#[test]
fn generate_writes_a_grid_of_the_generator_images() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grid.png");
    let said = succeeds(&generate_args(&out, &["--n", "10", "--nrow", "4", "--seed", "5"]));
    assert!(said.contains("266x200"), "{said}");
    let grid = decode_png(&out);
    assert_eq!((grid.width, grid.height), (2 + 4 * 66, 2 + 3 * 66));
    let images = tiny_images(&gan_bias::rng::torch_randn(5, 10 * tiny_zdim()));
    for i in [0, 3, 4, 9] {
        assert_tile(&grid, i % 4, i / 4, &images[i * 3 * 4096..(i + 1) * 3 * 4096], "generate");
    }
    assert_eq!(grid.pixel(0, 0), gan_bias::pictures::BACKGROUND);
    assert_eq!(grid.pixel(2 + 3 * 66, 2 + 2 * 66), gan_bias::pictures::BACKGROUND, "the last row's empty tiles");
    let few = dir.path().join("few.png");
    succeeds(&generate_args(&few, &["--n", "3"]));
    let few = decode_png(&few);
    assert_eq!((few.width, few.height), (2 + 3 * 66, 2 + 66));
}

#[test]
fn generate_is_deterministic_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b, c] = ["a.png", "b.png", "c.png"].map(|f| dir.path().join(f));
    succeeds(&generate_args(&a, &["--n", "4", "--seed", "7"]));
    succeeds(&generate_args(&b, &["--n", "4", "--seed", "7"]));
    succeeds(&generate_args(&c, &["--n", "4", "--seed", "8"]));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_ne!(decode_png(&a).pixels, decode_png(&c).pixels);
}

#[test]
fn generate_refuses_bad_arguments_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.png");
    fails(&generate_args(&out, &["--n", "0"]), &["--n"]);
    fails(&generate_args(&out, &["--nrow", "0"]), &["--nrow"]);
    fails(&generate_args(&dir.path().join("missing/g.png"), &[]), &["missing", "does not exist"]);
    let mut bad_gen = strs(&["generate", "--backend", "cpu", "-o", &p(&out), "--generator"]);
    bad_gen.push(p(&dir.path().join("nope.safetensors")));
    fails(&bad_gen, &["nope.safetensors"]);
    let mut classifier_as_gen = strs(&["generate", "--backend", "cpu", "-o", &p(&out), "--generator"]);
    classifier_as_gen.push(cls_path());
    fails(&classifier_as_gen, &[]);
    assert!(!out.exists(), "no file is written on failure");
}

/// The table lines of a probe's stdout (without the header, which holds timings).
fn table_lines(stdout: &str) -> Vec<String> {
    stdout.lines().filter(|l| !l.starts_with('#')).map(String::from).collect()
}

#[test]
fn probe_grid_shows_each_image_from_least_to_most_of_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("probe.png");
    let plain = succeeds(&probe_args(&strs(&["--images", "3", "--steps", "5"])));
    let extra = strs(&["--images", "3", "--steps", "5", "--grid", &p(&out), "--grid-images", "2", "--skip", "2"]);
    let with_grid = succeeds(&probe_args(&extra));
    assert_eq!(table_lines(&with_grid), table_lines(&plain), "--grid changes no number");
    let grid = decode_png(&out);
    let columns = gan_bias::pictures::probe_columns(5, 2);
    assert_eq!(columns.len(), 5); // steps 4, 2 down; start; 2, 4 up
    assert_eq!((grid.width, grid.height), (2 + columns.len() * 66, 2 + 2 * 66));
    let start = tiny_images(&gan_bias::rng::torch_randn(0, 3 * tiny_zdim()));
    for row in 0..2 {
        assert_tile(&grid, 2, row, &start[row * 3 * 4096..(row + 1) * 3 * 4096], "the middle column is G(z0)");
    }
    // The outer columns moved away from the start.
    let tile = |col: usize| (0..64).map(|x| grid.pixel(2 + col * 66 + x, 2 + 30)).collect::<Vec<_>>();
    assert_ne!(tile(0), tile(2));
    assert_ne!(tile(4), tile(2));
    // More grid images than images: one row per image.
    let all = dir.path().join("all.png");
    succeeds(&probe_args(&strs(&["--images", "2", "--steps", "1", "--grid", &p(&all), "--grid-images", "9"])));
    let all = decode_png(&all);
    assert_eq!((all.width, all.height), (2 + 66, 2 + 2 * 66));
}

#[test]
fn probe_grid_refuses_bad_arguments_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.png");
    fails(&probe_args(&strs(&["--grid", &p(&out), "--skip", "0"])), &["--skip"]);
    fails(&probe_args(&strs(&["--grid", &p(&out), "--grid-images", "0"])), &["--grid-images"]);
    fails(&probe_args(&strs(&["--grid", &p(&dir.path().join("missing/g.png"))])), &["missing", "does not exist"]);
    assert!(!out.exists());
}

#[test]
fn bench_times_every_kernel_on_cpu_and_gpu() {
    let dir = tempfile::tempdir().unwrap();
    for backend in ["cpu", "vulkan"] {
        let json = dir.path().join(format!("{backend}.json"));
        let csv = dir.path().join(format!("{backend}.csv"));
        let args: Vec<String> = ["bench", "--images", "2", "--warmup", "1", "--repeats", "2", "--backend", backend, "--generator"]
            .iter()
            .map(|s| s.to_string())
            .chain([
                fixture("tiny_dcgan_gen.safetensors").display().to_string(),
                "--classifier".into(),
                fixture("tiny_classifier.safetensors").display().to_string(),
                "--json".into(),
                json.display().to_string(),
                "--csv".into(),
                csv.display().to_string(),
            ])
            .collect();
        let out = succeeds(&args);
        assert!(out.contains("image-steps per second"), "{out}");
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        assert_eq!(file["format"], "gan-bias-bench");
        assert_eq!(file["runs"].as_array().unwrap().len(), 1);
        let report = &file["runs"][0];
        let kernels = report["kernels"].as_array().unwrap();
        // 5 generator + 4 classifier stages, forward and input-gradient, record, update, mean, covariance.
        assert_eq!(kernels.len(), 2 * 9 + 4, "{backend}");
        for k in kernels.iter().chain([&report["step"]]) {
            let (lo, med, hi) = (k["min_ms"].as_f64().unwrap(), k["median_ms"].as_f64().unwrap(), k["max_ms"].as_f64().unwrap());
            assert!(lo > 0.0 && lo <= med && med <= hi, "{backend}: {k}");
        }
        assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 1 + kernels.len() + 1);
        assert_eq!(report["workload"]["rows"], 4);
        assert_eq!(report["workload"]["images"], 2);
    }
}
