//! The `gan-bias` command end to end, on the tiny fixtures, one module per command: the
//! printed table, the CSV and JSON files and their agreement, the noise options, batching,
//! pictures, import, bench, and one clear line for each bad input.
//!
//! Modules of the one integration-test binary (`tests/tests.rs`).

mod audit;
mod bench;
mod errors;
mod features;
mod files;
mod import;
mod info;
mod matrix;
mod pictures;
mod probe;
mod statistics;

pub use std::path::{Path, PathBuf};

pub use crate::common::{fails, fixture, gan, p, read_json, shared, stderr_lines, strs, succeeds, succeeds_with_stderr};
pub use files::*;
pub use gan_bias::model::presets::CELEBA_FEATURES;
pub use safetensors::SafeTensors;
pub use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Running the command

fn gen_path() -> String {
    fixture("tiny_coursera_gen.safetensors").display().to_string()
}

fn cls_path() -> String {
    fixture("tiny_classifier.safetensors").display().to_string()
}

/// `probe` on the tiny fixtures, CPU backend, 2 images x 2 steps, target Male; a flag given in
/// `extra` replaces the default one (clap refuses a flag given twice).
fn probe_args(extra: &[String]) -> Vec<String> {
    crate::common::probe_sized(2, 2, extra)
}

fn bundled(name: &str) -> PathBuf {
    gan_bias::load::project_root().join("weights").join(name)
}

// ---------------------------------------------------------------------------------------------
// Reading the outputs

/// The table lines (not the `# ` header) as (name, covariance).
fn table(stdout: &str) -> Vec<(String, f32)> {
    let lines = main_table(stdout);
    let columns = lines[0].split_whitespace().count();
    lines[1..]
        .iter()
        .map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next().unwrap().to_string();
            let cov = parts.next().unwrap_or_else(|| panic!("no covariance in {l:?}")).parse().unwrap_or_else(|e| panic!("{l:?}: {e}"));
            // Every column the header names, and at most the significance mark after them.
            let rest: Vec<&str> = parts.collect();
            let marked = rest.last() == Some(&"*");
            assert_eq!(2 + rest.len() - marked as usize, columns, "the columns of {l:?} vs the header {:?}", lines[0]);
            (name, cov)
        })
        .collect()
}

/// The printed top table: its column header (`feature ...`) and its rows, up to the next
/// `#` line (the observational section follows).
fn main_table(stdout: &str) -> Vec<&str> {
    let lines: Vec<&str> = stdout.lines().skip_while(|l| !l.starts_with("feature")).take_while(|l| !l.starts_with('#')).collect();
    assert!(!lines.is_empty(), "no table in {stdout}");
    lines
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

/// The table lines of a probe's stdout (without the header, which holds timings).
fn table_lines(stdout: &str) -> Vec<String> {
    stdout.lines().filter(|l| !l.starts_with('#')).map(String::from).collect()
}
