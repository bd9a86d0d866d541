//! `gan-bias bench compare`: bench JSON files from several runs or machines merged into
//! one table, one row per kernel and the step, one column per run.
//!
//! Owns: merging bench files. Must not touch: measuring.

use std::path::Path;

use serde::Serialize;

use super::{BenchFile, BenchRun, FORMAT, ModelInfo, TimingMethod, VERSION, one_line};
use crate::backend::{AdapterIdentity, WeightPrecision};
use crate::output::csv_field;

/// Why files could not be compared. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("{path}: cannot read")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not JSON: {detail}")]
    NotJson { path: String, detail: String },
    #[error("{path}: not a gan-bias bench file: {detail}")]
    Schema { path: String, detail: String },
    #[error("{path}: holds no runs")]
    NoRuns { path: String },
    #[error("{path}: {detail}; only runs of the same models compare")]
    Mismatch { path: String, detail: String },
    #[error("no files to compare")]
    NoFiles,
}

/// Reads one bench JSON file, checking its format and version.
pub fn read(path: &Path) -> Result<BenchFile, CompareError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CompareError::Read { path: name.clone(), source })?;
    parse(&name, &text)
}

/// Parses the text of a bench JSON file; `name` is used in errors.
pub fn parse(name: &str, text: &str) -> Result<BenchFile, CompareError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| CompareError::NotJson { path: name.into(), detail: e.to_string() })?;
    let schema = |detail: String| CompareError::Schema { path: name.into(), detail };
    match value.get("format") {
        Some(serde_json::Value::String(f)) if f == FORMAT => {}
        Some(other) => return Err(schema(format!("format is {other}, expected \"{FORMAT}\""))),
        None => return Err(schema("missing field `format`".into())),
    }
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == VERSION as u64 => {}
        Some(v) => return Err(schema(format!("version {v}; this build reads version {VERSION}"))),
        None => return Err(schema("missing or non-integer field `version`".into())),
    }
    // Field errors from the typed pass name the field; locations refer to the file's text.
    let file: BenchFile = serde_json::from_str(text).map_err(|e| schema(e.to_string()))?;
    if file.runs.is_empty() {
        return Err(CompareError::NoRuns { path: name.into() });
    }
    Ok(file)
}

/// One column of the comparison: a run of one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Column {
    /// The adapter's name and backend, `f16 weights` for such a run, and the file when two
    /// columns would share it.
    pub label: String,
    pub file: String,
    /// 1-based index of the run within its file.
    pub run: usize,
    pub adapter: AdapterIdentity,
    pub timing: TimingMethod,
    pub weight_precision: WeightPrecision,
    pub images: usize,
    pub rows: usize,
    pub image_steps_per_s: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_seconds: Option<f64>,
    /// The GEMM peak the run's fractions are taken of, where it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_gflop_per_s: Option<f64>,
}

/// One run's figures for one row.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Cell {
    pub median_ms: f64,
    pub gflop_per_s: f64,
    /// `gflop_per_s` as a fraction of the run's peak, where it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_fraction: Option<f64>,
}

/// One kernel (or the step) across every column; `None` where a run did not measure it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub op: String,
    pub kernel: String,
    pub cells: Vec<Option<Cell>>,
}

/// The merged table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub columns: Vec<Column>,
    /// Kernels in the order they first appear, then `probe step`.
    pub rows: Vec<Row>,
    /// Differences that do not stop the comparison (sizes, file names).
    pub warnings: Vec<String>,
}

/// The row name of the whole step.
const STEP: &str = "probe step";

fn run_name(file: &str, index: usize, run: &BenchRun) -> String {
    format!("{file} run {} ({})", index + 1, run.adapter.label())
}

/// Compares `model` of `run` with the first run's: a different architecture, shape or amount
/// of work is an error; a different file name only a warning.
fn check_model(
    role: &str,
    model: &ModelInfo,
    first: &ModelInfo,
    names: (&str, &str, &str),
    warnings: &mut Vec<String>,
) -> Result<(), CompareError> {
    let (path, what, first_name) = names;
    let fields: [(&str, String, String); 4] = [
        ("arch", model.arch.clone(), first.arch.clone()),
        ("input", format!("{:?}", model.input), format!("{:?}", first.input)),
        ("output", format!("{:?}", model.output), format!("{:?}", first.output)),
        ("macs", model.macs.to_string(), first.macs.to_string()),
    ];
    for (field, found, expected) in fields {
        if found != expected {
            return Err(CompareError::Mismatch {
                path: path.into(),
                detail: format!("{what}: workload.{role}.{field} is {found}, but {first_name} has {expected}"),
            });
        }
    }
    if model.file != first.file {
        warnings.push(format!(
            "{what}: workload.{role}.file is {}, {first_name} has {} (same architecture, shapes and work)",
            model.file, first.file
        ));
    }
    Ok(())
}

/// Merges the runs of `files` (name, contents) into one table. Different models are an error
/// naming the field; different sizes (images, rows) a warning.
pub fn compare(files: &[(String, BenchFile)]) -> Result<Comparison, CompareError> {
    let (first_file, first_run) = files.first().and_then(|(n, f)| Some((n, f.runs.first()?))).ok_or(CompareError::NoFiles)?;
    let first_name = run_name(first_file, 0, first_run);
    let mut warnings = Vec::new();
    let mut columns = Vec::new();
    let mut rows: Vec<Row> = Vec::new();
    let runs: Vec<(&String, usize, &BenchRun)> =
        files.iter().flat_map(|(n, f)| f.runs.iter().enumerate().map(move |(i, r)| (n, i, r))).collect();
    for (col, &(path, index, run)) in runs.iter().enumerate() {
        let what = run_name(path, index, run);
        let (w, w0) = (&run.workload, &first_run.workload);
        check_model("generator", &w.generator, &w0.generator, (path, &what, &first_name), &mut warnings)?;
        check_model("classifier", &w.classifier, &w0.classifier, (path, &what, &first_name), &mut warnings)?;
        for (field, found, expected) in [("images", w.images, w0.images), ("rows", w.rows, w0.rows)] {
            if found != expected {
                warnings.push(format!(
                    "{what}: workload.{field} is {found}, {first_name} has {expected}; times are per batch, compare image-steps/s and GFLOP/s"
                ));
            }
        }
        for t in run.kernels.iter().chain([&run.step]) {
            let cell = Cell { median_ms: t.median_ms, gflop_per_s: t.gflop_per_s, peak_fraction: run.peak_fraction(t) };
            let row = match rows.iter_mut().find(|r| r.op == t.name) {
                Some(r) => r,
                None => {
                    rows.push(Row { op: t.name.clone(), kernel: t.kernel.clone(), cells: vec![None; runs.len()] });
                    rows.last_mut().expect("just pushed")
                }
            };
            row.cells[col] = Some(cell);
        }
        columns.push(Column {
            label: match run.weight_precision {
                WeightPrecision::F32 => run.adapter.label(),
                WeightPrecision::F16 => format!("{} f16 weights", run.adapter.label()),
            },
            file: path.clone(),
            run: index + 1,
            adapter: run.adapter.clone(),
            timing: run.step.timing,
            weight_precision: run.weight_precision,
            images: w.images,
            rows: w.rows,
            image_steps_per_s: run.image_steps_per_s,
            probe_seconds: run.probe_seconds,
            peak_gflop_per_s: run.peak.as_ref().map(|p| p.gflop_per_s),
        });
    }
    // Two columns with one label: add the file and run.
    let labels: Vec<String> = columns.iter().map(|c| c.label.clone()).collect();
    for c in &mut columns {
        if labels.iter().filter(|l| **l == c.label).count() > 1 {
            c.label = format!("{} [{} run {}]", c.label, c.file, c.run);
        }
    }
    // The step last, wherever a run put it.
    if let Some(i) = rows.iter().position(|r| r.op == STEP) {
        let step = rows.remove(i);
        rows.push(step);
    }
    Ok(Comparison { columns, rows, warnings })
}

/// Reads every file and compares them.
pub fn compare_files(paths: &[&Path]) -> Result<Comparison, CompareError> {
    let files = paths.iter().map(|p| Ok((p.display().to_string(), read(p)?))).collect::<Result<Vec<_>, CompareError>>()?;
    compare(&files)
}

/// The comparison as an aligned table: a legend numbering the columns, then per column the
/// median ms and GFLOP/s of each row (and its percentage of the run's peak, for a run with
/// one), then image-steps per second (and the whole probe's time where a run measured it).
pub fn table(c: &Comparison) -> String {
    let mut s = String::new();
    for (i, col) in c.columns.iter().enumerate() {
        s.push_str(&format!(
            "# [{}] {}: {} run {}, {}, {} weights, {} images per direction, {} rows{}\n",
            i + 1,
            col.adapter.label(),
            col.file,
            col.run,
            col.timing.name(),
            col.weight_precision.name(),
            col.images,
            col.rows,
            col.peak_gflop_per_s.map_or(String::new(), |p| format!(", peak {p:.1} GFLOP/s"))
        ));
    }
    // A column's blank cells under the first two sub-columns, and under its peak's where it has one.
    let blank =
        |col: &Column| format!(" {:>12}{}", "", if col.peak_gflop_per_s.is_some() { format!(" {:>12}", "") } else { String::new() });
    let width = c.rows.iter().map(|r| r.op.len()).max().unwrap_or(0).max("image-steps per second".len());
    s.push_str(&format!("{:<width$}", "op"));
    for (i, col) in c.columns.iter().enumerate().map(|(i, col)| (i + 1, col)) {
        s.push_str(&format!(" {:>12} {:>12}", format!("[{i}] ms"), format!("[{i}] GFLOP/s")));
        if col.peak_gflop_per_s.is_some() {
            s.push_str(&format!(" {:>12}", format!("[{i}] {}", super::PEAK_COLUMN)));
        }
    }
    s.push('\n');
    for r in &c.rows {
        s.push_str(&format!("{:<width$}", r.op));
        for (cell, col) in r.cells.iter().zip(&c.columns) {
            match cell {
                Some(x) => s.push_str(&format!(" {:>12.3} {:>12.2}", x.median_ms, x.gflop_per_s)),
                None => s.push_str(&format!(" {:>12} {:>12}", "-", "-")),
            }
            if col.peak_gflop_per_s.is_some() {
                match cell.and_then(|x| x.peak_fraction) {
                    Some(f) => s.push_str(&format!(" {:>12.1}", f * 100.0)),
                    None => s.push_str(&format!(" {:>12}", "-")),
                }
            }
        }
        s.push('\n');
    }
    s.push_str(&format!("{:<width$}", "image-steps per second"));
    for col in &c.columns {
        s.push_str(&format!(" {:>12.2}{}", col.image_steps_per_s, blank(col)));
    }
    s.push('\n');
    if c.columns.iter().any(|col| col.probe_seconds.is_some()) {
        s.push_str(&format!("{:<width$}", "whole probe s"));
        for col in &c.columns {
            match col.probe_seconds {
                Some(p) => s.push_str(&format!(" {p:>12.2}{}", blank(col))),
                None => s.push_str(&format!(" {:>12}{}", "-", blank(col))),
            }
        }
        s.push('\n');
    }
    for w in &c.warnings {
        s.push_str(&format!("# warning: {}\n", one_line(w)));
    }
    s.lines().map(|l| format!("{}\n", l.trim_end())).collect()
}

/// The comparison as CSV: `op,kernel`, then `<label> median_ms,<label> gflop_per_s` per
/// column (and `<label> peak_fraction` for a run with a peak); a last row `image-steps per
/// second` holds each run's rate in its median column.
pub fn csv(c: &Comparison) -> String {
    let mut s = String::from("op,kernel");
    for col in &c.columns {
        s.push_str(&format!(",{},{}", csv_field(&format!("{} median_ms", col.label)), csv_field(&format!("{} gflop_per_s", col.label))));
        if col.peak_gflop_per_s.is_some() {
            s.push_str(&format!(",{}", csv_field(&format!("{} peak_fraction", col.label))));
        }
    }
    s.push('\n');
    for r in &c.rows {
        s.push_str(&format!("{},{}", csv_field(&r.op), csv_field(&r.kernel)));
        for (cell, col) in r.cells.iter().zip(&c.columns) {
            match cell {
                Some(x) => s.push_str(&format!(",{},{}", x.median_ms, x.gflop_per_s)),
                None => s.push_str(",,"),
            }
            if col.peak_gflop_per_s.is_some() {
                s.push_str(&format!(",{}", cell.and_then(|x| x.peak_fraction).map_or(String::new(), |f| f.to_string())));
            }
        }
        s.push('\n');
    }
    s.push_str("image-steps per second,");
    for col in &c.columns {
        s.push_str(&format!(",{},{}", col.image_steps_per_s, if col.peak_gflop_per_s.is_some() { "," } else { "" }));
    }
    s.push('\n');
    s
}

/// The comparison as JSON.
pub fn json(c: &Comparison) -> String {
    let mut s = serde_json::to_string_pretty(&serde_json::json!({
        "format": "gan-bias-bench-compare",
        "version": VERSION,
        "columns": c.columns,
        "rows": c.rows,
        "warnings": c.warnings,
    }))
    .expect("a comparison always serialises");
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_problem() {
        let e = parse("x.json", "{not json").unwrap_err().to_string();
        assert!(e.starts_with("x.json: not JSON"), "{e}");
        let e = parse("x.json", "{\"format\": \"other\"}").unwrap_err().to_string();
        assert!(e.contains("format is \"other\""), "{e}");
        let e = parse("x.json", "{\"format\": \"gan-bias-bench\", \"version\": 9, \"runs\": []}").unwrap_err().to_string();
        assert!(e.contains("version 9"), "{e}");
        let e = parse("x.json", "{\"format\": \"gan-bias-bench\", \"version\": 1}").unwrap_err().to_string();
        assert!(e.contains("missing field `runs`"), "{e}");
        let e = parse("x.json", "{\"format\": \"gan-bias-bench\", \"version\": 1, \"runs\": []}").unwrap_err().to_string();
        assert_eq!(e, "x.json: holds no runs");
    }
}
