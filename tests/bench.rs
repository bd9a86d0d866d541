//! `gan-bias bench`: GPU timestamps, `--all-adapters` and `bench compare`, on the tiny fixtures
//! and two handwritten bench files (tests/fixtures/bench/).

use crate::common::{fails, fixture, p, read_json, strs, succeeds_with_stderr as succeeds};
use gan_bias::backend::gpu::context::{self, TIMESTAMP_FEATURES};
use gan_bias::backend::gpu::{BackendChoice, GpuBackend, GpuContext};
use gan_bias::backend::{Backend, DeviceTimer};
use gan_bias::bench::{self, BenchSettings, TimingMethod};
use gan_bias::ops::StepParams;
use gan_bias::program::Phase;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn bench_file(name: &str) -> PathBuf {
    fixture(&format!("bench/{name}"))
}

/// `bench` on the tiny DCGAN and classifier: 1 image per direction, no warm-up, 2 runs.
fn tiny_bench(extra: &[&str]) -> Vec<String> {
    let mut a = strs(&["bench", "--images", "1", "--warmup", "0", "--repeats", "2", "--generator"]);
    a.extend([p(&fixture("tiny_dcgan_gen.safetensors")), "--classifier".into(), p(&fixture("tiny_classifier.safetensors"))]);
    a.extend(strs(extra));
    a
}

// ---------------------------------------------------------------------------------------------
// bench compare

#[test]
fn compare_merges_two_handwritten_files_into_the_expected_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, json) = (dir.path().join("cmp.csv"), dir.path().join("cmp.json"));
    let (a, b) = (bench_file("run_a.json"), bench_file("run_b.json"));
    let (stdout, _) =
        succeeds(&[strs(&["bench", "compare"]), vec![p(&a), p(&b), "--csv".into(), p(&csv), "--json".into(), p(&json)]].concat());
    // Rows: A's kernels in order, B's new one after them, the step last; '-' where a run lacks one.
    let want = "op,kernel,Test CPU (cpu) median_ms,Test CPU (cpu) gflop_per_s,Test GPU (Vulkan) median_ms,Test GPU (Vulkan) gflop_per_s\n\
                main.0 forward,conv_transpose2d,2,50,1,100\n\
                main.0 input-gradient,conv2d,4,25,,\n\
                classifier.0.0 forward,conv2d,,,3,7.5\n\
                probe step,all,10,30,5,60\n\
                image-steps per second,,800,,1600,\n";
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), want);
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("# [1] Test CPU (cpu): ") && lines[0].contains("wall-clock"), "{stdout}");
    assert!(lines[1].starts_with("# [2] Test GPU (Vulkan): ") && lines[1].contains("gpu-timestamps"), "{stdout}");
    let row = |op: &str| -> Vec<String> {
        let line = lines.iter().find(|l| l.starts_with(op)).unwrap_or_else(|| panic!("no row {op}:\n{stdout}"));
        line[op.len()..].split_whitespace().map(str::to_string).collect()
    };
    assert_eq!(row("main.0 forward"), ["2.000", "50.00", "1.000", "100.00"]);
    assert_eq!(row("main.0 input-gradient"), ["4.000", "25.00", "-", "-"]);
    assert_eq!(row("classifier.0.0 forward"), ["-", "-", "3.000", "7.50"]);
    assert_eq!(row("probe step"), ["10.000", "30.00", "5.000", "60.00"]);
    assert_eq!(row("image-steps per second"), ["800.00", "1600.00"]);
    assert_eq!(row("whole probe s"), ["-", "12.50"]);
    let j = read_json(&json);
    assert_eq!(j["format"], "gan-bias-bench-compare");
    let labels: Vec<&str> = j["columns"].as_array().unwrap().iter().map(|c| c["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["Test CPU (cpu)", "Test GPU (Vulkan)"]);
    assert_eq!(j["columns"][1]["adapter"]["vendor_id"], 4318);
    let ops: Vec<&str> = j["rows"].as_array().unwrap().iter().map(|r| r["op"].as_str().unwrap()).collect();
    assert_eq!(ops, ["main.0 forward", "main.0 input-gradient", "classifier.0.0 forward", "probe step"]);
    assert_eq!(j["rows"][1]["cells"][1], Value::Null);
    assert_eq!(j["rows"][2]["cells"][1]["gflop_per_s"], 7.5);
    assert_eq!(j["warnings"].as_array().unwrap().len(), 0);
}

#[test]
fn compare_refuses_bad_files_in_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let good = bench_file("run_a.json");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let original: Value = read_json(&good);
    let edited = |name: &str, edit: &dyn Fn(&mut Value)| {
        let mut v = original.clone();
        edit(&mut v);
        write(name, &serde_json::to_string(&v).unwrap())
    };
    let compare = |bad: &Path| [strs(&["bench", "compare"]), vec![p(&good), p(bad)]].concat();

    let not_json = write("notes.json", "median 3 ms, I think\n");
    fails(&compare(&not_json), &["notes.json", "not JSON"]);
    let no_step = edited("no_step.json", &|v| {
        v["runs"][0].as_object_mut().unwrap().remove("step");
    });
    fails(&compare(&no_step), &["no_step.json", "missing field `step`"]);
    let other = edited("other.json", &|v| v["format"] = "something-else".into());
    fails(&compare(&other), &["other.json", "format"]);
    let arch = edited("arch.json", &|v| v["runs"][0]["workload"]["generator"]["arch"] = "coursera".into());
    fails(&compare(&arch), &["arch.json", "workload.generator.arch", "coursera", "dcgan"]);
    let macs = edited("wide.json", &|v| v["runs"][0]["workload"]["classifier"]["macs"] = 999.into());
    fails(&compare(&macs), &["wide.json", "workload.classifier.macs"]);
    fails(&compare(&dir.path().join("absent.json")), &["absent.json", "cannot read"]);

    // A different size only warns, naming the field, and the table is still made.
    let bigger = edited("bigger.json", &|v| v["runs"][0]["workload"]["images"] = 8.into());
    let (stdout, stderr) = succeeds(&compare(&bigger));
    assert!(stderr.contains("bigger.json") && stderr.contains("workload.images is 8"), "{stderr}");
    assert!(stdout.contains("# warning:") && stdout.contains("probe step"), "{stdout}");
}

// ---------------------------------------------------------------------------------------------
// --all-adapters

#[test]
fn all_adapters_measures_the_cpu_backend_and_every_wgpu_adapter() {
    // CI has lavapipe: a missing adapter fails here rather than skipping.
    let auto = crate::common::gpu();
    let dir = tempfile::tempdir().unwrap();
    let (json, csv) = (dir.path().join("all.json"), dir.path().join("all.csv"));
    let (stdout, _) = succeeds(&tiny_bench(&["--all-adapters", "--json", &p(&json), "--csv", &p(&csv)]));
    let report = read_json(&json);
    let runs = report["runs"].as_array().unwrap();
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(runs[0]["adapter"]["backend"], "cpu", "the CPU backend comes first");
    let adapters = context::list_adapters(wgpu::Backends::all());
    assert_eq!(runs.len() + failures.len(), 1 + adapters.len(), "every adapter is reported, run or failed");
    for a in &adapters {
        let name = a.get_info().name;
        let backend = format!("{:?}", a.get_info().backend);
        let found =
            runs.iter().chain(failures).any(|r| r["adapter"]["name"] == name.as_str() && r["adapter"]["backend"] == backend.as_str());
        assert!(found, "{name} ({backend}) missing from the report");
    }
    let auto_backend = format!("{:?}", auto.ctx.info.backend);
    assert!(
        runs.iter().any(|r| r["adapter"]["backend"] == auto_backend.as_str() && r["adapter"]["name"] == auto.ctx.info.name.as_str()),
        "the adapter `auto` finds ({}) did not run: {failures:?}",
        auto.ctx.info.name
    );
    for r in runs {
        assert_eq!(r["kernels"].as_array().unwrap().len(), 2 * 9 + 4, "{}", r["adapter"]);
        assert!(r["step"]["median_ms"].as_f64().unwrap() > 0.0);
        assert!(r["buffer_bytes"].as_u64().unwrap() > 0);
    }
    // One table section per run (and per failure), each naming its adapter.
    assert_eq!(stdout.matches("# adapter: ").count(), runs.len() + failures.len(), "{stdout}");
    assert_eq!(stdout.matches("image-steps per second").count(), runs.len(), "{stdout}");
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv_text.lines().count(), 1 + runs.len() * (2 * 9 + 5) + failures.len());
}

// ---------------------------------------------------------------------------------------------
// GPU timestamps

/// The probe's device never pays for timestamps; bench's has them where the adapter does.
#[test]
fn timestamps_only_for_bench_and_only_where_the_adapter_has_them() {
    let adapter = context::pick_adapter(BackendChoice::Vulkan, None).unwrap_or_else(|e| panic!("no Vulkan adapter ({e})"));
    let has = adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY);
    assert_eq!(crate::common::gpu().device_timer(), None, "the probe's backend must not request timestamps");
    let timed = GpuBackend::open_timed(BackendChoice::Vulkan, None).unwrap();
    assert_eq!(timed.device_timer().is_some(), has);
    assert_eq!(timed.ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY), has);
}

/// Both ways of timing on the device, where the adapter offers them: timestamps inside the
/// pass, and one pass per op with pass timestamps. Every time positive and finite, and the
/// step's span at least as long as each of its ops.
#[test]
fn device_times_are_positive_and_finite_in_both_timer_modes() {
    let adapter = || context::pick_adapter(BackendChoice::Vulkan, None).unwrap_or_else(|e| panic!("no Vulkan adapter ({e})"));
    let features = adapter().features();
    if !features.contains(wgpu::Features::TIMESTAMP_QUERY) {
        let mut plain = GpuBackend::new(GpuContext::with_features(adapter(), TIMESTAMP_FEATURES).unwrap());
        assert!(plain.run_timed(Phase::Step, 0..1, StepParams::default()).is_err());
        return;
    }
    let generator = crate::common::generator(&fixture("tiny_dcgan_gen.safetensors"));
    let classifier = crate::common::classifier(&fixture("tiny_classifier.safetensors"));
    let mut modes = vec![(wgpu::Features::TIMESTAMP_QUERY, DeviceTimer::PerPass)];
    if features.contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES) {
        modes.push((TIMESTAMP_FEATURES, DeviceTimer::InsidePasses));
    }
    for (wanted, mode) in modes {
        let mut gpu = GpuBackend::new(GpuContext::with_features(adapter(), wanted).unwrap());
        assert_eq!(gpu.device_timer(), Some(mode));
        let run = bench::bench(&mut gpu, &generator, &classifier, BenchSettings { images: 1, warmup: 0, repeats: 2 }).unwrap();
        assert_eq!(run.timing, TimingMethod::GpuTimestamps, "{mode:?}");
        assert!(run.timing_detail.contains("timestamps"), "{}", run.timing_detail);
        for t in run.kernels.iter().chain([&run.step]) {
            assert_eq!(t.timing, TimingMethod::GpuTimestamps, "{mode:?} {}", t.name);
            for v in [t.median_ms, t.min_ms, t.max_ms, t.gflop_per_s] {
                assert!(v.is_finite() && v > 0.0, "{mode:?} {}: {t:?}", t.name);
            }
            let wall = t.wall_median_ms.expect("wall clock beside the timestamps");
            assert!(wall.is_finite() && wall > 0.0, "{mode:?} {}: {t:?}", t.name);
        }
        // The ops of one step, timed together: each op inside the step's span.
        let times = gpu.run_timed(Phase::Step, 0..run.kernels.len() - 2, StepParams { rows: 2, steps: 1, ..Default::default() }).unwrap();
        assert_eq!(times.ops.len(), run.kernels.len() - 2);
        for (i, &t) in times.ops.iter().enumerate() {
            assert!(t.is_finite() && t >= 0.0 && t <= times.total, "{mode:?} op {i}: {t} of {}", times.total);
        }
        assert!(times.total > 0.0 && times.ops.iter().sum::<f64>() <= times.total * 1.000001, "{mode:?}: {times:?}");
    }
}

#[test]
fn bench_names_its_timing_method_in_table_json_and_csv() {
    let adapter = context::pick_adapter(BackendChoice::Vulkan, None).unwrap_or_else(|e| panic!("no Vulkan adapter ({e})"));
    let gpu_method = if adapter.features().contains(wgpu::Features::TIMESTAMP_QUERY) { "gpu-timestamps" } else { "wall-clock" };
    let dir = tempfile::tempdir().unwrap();
    for (backend, extra, want) in
        [("vulkan", None, gpu_method), ("vulkan", Some("--wall-clock"), "wall-clock"), ("cpu", None, "wall-clock")]
    {
        let (json, csv) = (dir.path().join("b.json"), dir.path().join("b.csv"));
        let mut a = tiny_bench(&["--backend", backend, "--json", &p(&json), "--csv", &p(&csv)]);
        a.extend(extra.map(String::from));
        let (stdout, _) = succeeds(&a);
        assert!(stdout.contains(&format!("# timing: {want} (")), "{backend} {extra:?}:\n{stdout}");
        let run = &read_json(&json)["runs"][0];
        assert_eq!(run["timing"], want, "{backend} {extra:?}");
        for k in run["kernels"].as_array().unwrap().iter().chain([&run["step"]]) {
            assert_eq!(k["timing"], want, "{backend} {extra:?}: {k}");
            assert_eq!(k.get("wall_median_ms").is_some(), want == "gpu-timestamps", "{backend} {extra:?}: {k}");
        }
        let text = std::fs::read_to_string(&csv).unwrap();
        let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
        let col = header.iter().position(|h| *h == "timing").unwrap();
        for line in text.lines().skip(1) {
            let fields = split_csv(line);
            assert_eq!(fields.len(), header.len(), "{line}");
            assert_eq!(fields[col], want, "{line}");
        }
    }
}

/// Splits one CSV line, honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let (mut fields, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            ',' if !quoted => fields.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

#[test]
fn bench_reports_adapter_identity_and_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (json, csv) = (dir.path().join("b.json"), dir.path().join("b.csv"));
    let (stdout, _) = succeeds(&tiny_bench(&["--backend", "vulkan", "--json", &p(&json), "--csv", &p(&csv)]));
    let run = &read_json(&json)["runs"][0];
    let info = context::pick_adapter(BackendChoice::Vulkan, None).unwrap().get_info();
    let a = &run["adapter"];
    assert_eq!(a["name"], info.name.as_str());
    assert_eq!(a["backend"], "Vulkan");
    assert_eq!(a["device_type"], format!("{:?}", info.device_type).as_str());
    assert_eq!(a["vendor_id"], info.vendor);
    assert_eq!(a["vendor_name"], context::vendor_name(info.vendor));
    assert_eq!(a["device_id"], info.device);
    assert_eq!(a["driver"], info.driver.as_str());
    assert_eq!(a["driver_info"], info.driver_info.as_str());
    assert!(stdout.contains(&format!("# adapter: {}: Vulkan, ", info.name)), "{stdout}");
    assert!(
        stdout.contains(&format!("vendor {:#06x} ", info.vendor)) && stdout.contains(&format!("device {:#06x}", info.device)),
        "{stdout}"
    );
    // Buffers: at least the program's own (weights, activations, history), counted once.
    let buffers = run["buffer_bytes"].as_u64().unwrap();
    assert!(buffers > 4 * 10_000, "{buffers}");
    assert!(stdout.contains("# memory: buffers "), "{stdout}");
    if cfg!(target_os = "linux") {
        let rss = run["peak_rss_bytes"].as_u64().expect("peak RSS on Linux");
        assert!(rss > 1 << 20, "{rss}");
        assert!(stdout.contains("peak RSS "), "{stdout}");
    }
    let text = std::fs::read_to_string(&csv).unwrap();
    let header = split_csv(text.lines().next().unwrap());
    let first = split_csv(text.lines().nth(1).unwrap());
    let field = |name: &str| first[header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}"))].clone();
    assert_eq!(field("adapter"), info.name);
    assert_eq!(field("vendor_id"), format!("{:#06x}", info.vendor));
    assert_eq!(field("buffer_bytes"), buffers.to_string());
    assert_eq!(field("driver_info"), info.driver_info);
}
