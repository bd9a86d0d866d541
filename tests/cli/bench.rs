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
