//! `gan-bias bench` (measuring) and `gan-bias bench compare` (merging bench files), with the
//! deprecated `bench --compare`.

use super::*;

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

fn bench_file(name: &str) -> PathBuf {
    fixture(&format!("bench/{name}"))
}

const DEPRECATION: &str = "note: `bench --compare` is deprecated; use `gan-bias bench compare JSON...`";

#[test]
fn bench_compare_is_a_subcommand_and_the_old_flag_still_works_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (p(&bench_file("run_a.json")), p(&bench_file("run_b.json")));
    let outputs = |tag: &str| (dir.path().join(format!("{tag}.csv")), dir.path().join(format!("{tag}.json")));
    let ((new_csv, new_json), (old_csv, old_json)) = (outputs("new"), outputs("old"));
    let (new_out, new_err) = succeeds_with_stderr(
        &[strs(&["bench", "compare", &a, &b]), vec!["--csv".into(), p(&new_csv), "--json".into(), p(&new_json)]].concat(),
    );
    assert!(new_out.starts_with("# [1] Test CPU (cpu): ") && new_out.contains("probe step"), "{new_out}");
    assert!(!new_err.contains("deprecated"), "{new_err}");
    let old = gan(&[strs(&["bench", "--compare", &a, &b]), vec!["--csv".into(), p(&old_csv), "--json".into(), p(&old_json)]].concat());
    assert!(old.status.success(), "{}", String::from_utf8_lossy(&old.stderr));
    // The same table and files; one note on stderr.
    assert_eq!(String::from_utf8_lossy(&old.stdout), new_out);
    assert_eq!(std::fs::read(&old_csv).unwrap(), std::fs::read(&new_csv).unwrap());
    assert_eq!(std::fs::read(&old_json).unwrap(), std::fs::read(&new_json).unwrap());
    assert_eq!(stderr_lines(&old), [DEPRECATION]);
    // --quiet drops the note.
    let quiet = gan(&strs(&["-q", "bench", "--compare", &a, &b]));
    assert!(quiet.status.success() && stderr_lines(&quiet).is_empty(), "{}", String::from_utf8_lossy(&quiet.stderr));
}

#[test]
fn bench_compare_refuses_measuring_flags_and_names_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = p(&bench_file("run_a.json"));
    let absent = p(&dir.path().join("absent.json"));
    // The subcommand merges only: the measuring flags belong to `bench` itself.
    let out = gan(&strs(&["bench", "--images", "2", "compare", &a]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("compare") && err.contains("--images"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // It needs at least one file.
    let out = gan(&strs(&["bench", "compare"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("<JSON>"), "{err}");
    // A missing file: one line naming it, with the subcommand; after the note with the old flag.
    fails(&strs(&["bench", "compare", &a, &absent]), &["absent.json", "cannot read"]);
    let out = gan(&strs(&["bench", "--compare", &a, &absent]));
    let lines = stderr_lines(&out);
    assert!(!out.status.success(), "{lines:?}");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0], DEPRECATION);
    assert!(lines[1].starts_with("error: ") && lines[1].contains("absent.json") && lines[1].contains("cannot read"), "{lines:?}");
    // The old flag keeps refusing the measuring flags too.
    let out = gan(&strs(&["bench", "--compare", &a, "--images", "2"]));
    assert!(!out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "no file written");
}

/// `bench` on the tiny fixtures, one image, one timed run of each kernel, then `extra`.
fn tiny_peak_bench(backend: &str, extra: &[&str]) -> Vec<String> {
    let mut a = strs(&["bench", "--backend", backend, "--images", "1", "--warmup", "0", "--repeats", "1", "--generator"]);
    a.extend([p(&fixture("tiny_dcgan_gen.safetensors")), "--classifier".into(), p(&fixture("tiny_classifier.safetensors"))]);
    a.extend(strs(extra));
    a
}

/// Checks that the table in `stdout` ends every row with its GFLOP/s as a percentage of the
/// run's peak, as the JSON `run` gives them, and that the CSV at `csv` holds the same fractions.
fn check_peak_column(stdout: &str, run: &Value, csv: &Path) {
    let peak = run["peak"]["gflop_per_s"].as_f64().unwrap();
    assert!(peak > 0.0, "{run}");
    let lines: Vec<&str> = stdout.lines().skip_while(|l| !l.starts_with("op ")).take_while(|l| !l.starts_with('#')).collect();
    assert!(lines[0].ends_with(" % peak"), "{stdout}");
    let timings: Vec<&Value> = run["kernels"].as_array().unwrap().iter().chain([&run["step"]]).collect();
    assert_eq!(lines.len(), 1 + timings.len(), "{stdout}");
    let text = std::fs::read_to_string(csv).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    assert_eq!(header[header.len() - 2..], ["peak_gflop_per_s", "peak_fraction"]);
    for ((line, t), row) in lines[1..].iter().zip(&timings).zip(text.lines().skip(1)) {
        assert!(line.starts_with(t["name"].as_str().unwrap()), "{line} vs {t}");
        let fraction = t["gflop_per_s"].as_f64().unwrap() / peak;
        assert_eq!(line.split_whitespace().last().unwrap(), format!("{:.1}", fraction * 100.0), "{line}: {t}");
        let fields: Vec<&str> = row.rsplitn(3, ',').collect();
        assert_eq!(fields[0].parse::<f64>().unwrap(), fraction, "{row}");
        assert_eq!(fields[1].parse::<f64>().unwrap(), peak, "{row}");
    }
}

#[test]
fn bench_peak_measures_the_cpu_gemm_peak_and_shows_each_kernels_fraction_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let (json, csv) = (dir.path().join("cpu.json"), dir.path().join("cpu.csv"));
    let stdout = succeeds(&tiny_peak_bench("cpu", &["--peak", "--peak-size", "16,32", "--json", &p(&json), "--csv", &p(&csv)]));
    let run = &read_json(&json)["runs"][0];
    let peak = &run["peak"];
    assert_eq!(peak["source"], "measured", "{peak}");
    let shapes = peak["shapes"].as_array().unwrap();
    assert_eq!(shapes.iter().map(|s| s["size"].as_u64().unwrap()).collect::<Vec<_>>(), [16, 32], "{peak}");
    let best = shapes.iter().map(|s| s["gflop_per_s"].as_f64().unwrap()).fold(0.0, f64::max);
    assert_eq!(peak["gflop_per_s"].as_f64().unwrap(), best, "{peak}");
    let line = stdout.lines().find(|l| l.starts_with("# peak: ")).unwrap_or_else(|| panic!("no peak line in {stdout}"));
    assert!(line.starts_with(&format!("# peak: {best:.1} GFLOP/s single-precision GEMM, measured: gemm crate sgemm")), "{line}");
    check_peak_column(&stdout, run, &csv);
}

#[test]
fn bench_peak_on_an_adapter_takes_the_given_figure_or_shows_none() {
    let dir = tempfile::tempdir().unwrap();
    // --peak alone on an adapter: a note on stderr, no peak, no column.
    let (stdout, stderr) = succeeds_with_stderr(&tiny_peak_bench("vulkan", &["--peak", "--json", &p(&dir.path().join("none.json"))]));
    assert!(stderr.contains("no GEMM kernel of gan-bias's own") && stderr.contains("--peak-gflops"), "{stderr}");
    assert!(!stdout.contains("# peak") && !stdout.contains("% peak"), "{stdout}");
    assert!(read_json(&dir.path().join("none.json"))["runs"][0].get("peak").is_none());
    // A given figure: its fractions, and no note.
    let (gpu_json, gpu_csv) = (dir.path().join("gpu.json"), dir.path().join("gpu.csv"));
    let (stdout, stderr) = succeeds_with_stderr(&tiny_peak_bench(
        "vulkan",
        &["--peak", "--peak-gflops", "2.5", "--json", &p(&gpu_json), "--csv", &p(&gpu_csv)],
    ));
    assert!(!stderr.contains("no GEMM kernel"), "{stderr}");
    let run = &read_json(&gpu_json)["runs"][0];
    assert_eq!(run["peak"]["source"], "given");
    assert_eq!(run["peak"]["gflop_per_s"], 2.5);
    assert!(stdout.contains("# peak: 2.5 GFLOP/s single-precision GEMM, given"), "{stdout}");
    check_peak_column(&stdout, run, &gpu_csv);
    // Merged with a run without a peak: a percentage column for the run with one only.
    let cpu_json = dir.path().join("cpu.json");
    succeeds(&tiny_peak_bench("cpu", &["--json", &p(&cpu_json)]));
    let cmp_json = dir.path().join("cmp.json");
    let table = succeeds(&strs(&["bench", "compare", &p(&cpu_json), &p(&gpu_json), "--json", &p(&cmp_json)]));
    let header = table.lines().find(|l| l.starts_with("op ")).unwrap();
    assert!(header.ends_with("[2] GFLOP/s   [2] % peak") && !header.contains("[1] % peak"), "{table}");
    assert!(table.contains(", peak 2.5 GFLOP/s\n"), "{table}");
    let cmp = read_json(&cmp_json);
    assert_eq!(cmp["columns"][1]["peak_gflop_per_s"], 2.5);
    assert!(cmp["columns"][0].get("peak_gflop_per_s").is_none());
    for row in cmp["rows"].as_array().unwrap() {
        let cell = &row["cells"][1];
        assert_eq!(cell["peak_fraction"].as_f64().unwrap(), cell["gflop_per_s"].as_f64().unwrap() / 2.5, "{row}");
        assert!(row["cells"][0].get("peak_fraction").is_none(), "{row}");
    }
}

#[test]
fn bench_peak_flags_refuse_bad_values() {
    fails(&tiny_peak_bench("cpu", &["--peak-gflops", "0"]), &["--peak-gflops", "positive"]);
    fails(&tiny_peak_bench("cpu", &["--peak", "--peak-size", "0"]), &["--peak-size", "at least 1"]);
    // --peak-size measures nothing without --peak.
    let out = gan(&tiny_peak_bench("cpu", &["--peak-size", "16"]));
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--peak"), "{}", String::from_utf8_lossy(&out.stderr));
}
