//! `gan-bias probe`'s statistics: the CSV's columns and their agreement with the JSON, the
//! row sets and rankings, the intervals' settings, the history export (which must reproduce
//! the covariance), the noise file's other tensors, and the bounds of `--top`.

use super::files::{Raw, f32_entry, write_raw};
use super::*;

/// Equal up to the last bit serde_json's default (not exactly round-tripping) parser may lose.
fn same(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= 1e-14 * a.abs().max(b.abs()),
        (a, b) => a == b,
    }
}

/// The numbers of one CSV field: empty is undefined.
fn field(s: &str) -> Option<f64> {
    (!s.is_empty()).then(|| s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}")))
}

#[test]
fn the_csv_has_every_metric_and_the_rank_metrics_interval_as_the_json_says() {
    let dir = tempfile::tempdir().unwrap();
    for (direction, set, rank_by) in [("both", "pooled", "covariance"), ("up", "up", "dependency"), ("down", "down", "correlation")] {
        let (csv, json) = (dir.path().join(format!("{direction}.csv")), dir.path().join(format!("{direction}.json")));
        let args =
            crate::common::probe_sized(6, 3, &strs(&["--direction", direction, "--rank-by", rank_by, "--bootstrap", "200", "--top", "39"]));
        let mut args = args;
        args.extend(["--csv".into(), p(&csv), "--json".into(), p(&json)]);
        succeeds(&args);
        let j = read_json(&json);
        assert_eq!(j["settings"]["direction"], set);
        assert_eq!(j["settings"]["rank_by"], rank_by);
        assert_eq!(j["settings"]["bootstrap"], 200);
        let st = &j["statistics"];
        for s in ["pooled", "up", "down"] {
            assert_eq!(st[s]["features"].as_array().unwrap().len(), 40, "the JSON holds every row set: {s}");
        }
        let text = std::fs::read_to_string(&csv).unwrap();
        let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split(',').collect()).collect();
        assert_eq!(rows.len(), 39, "--top 39: every feature but the target");
        let mut last = f64::INFINITY;
        for r in &rows {
            let index: usize = r[2].parse().unwrap();
            let m = &st[set]["features"][index];
            let get = |k: &str| m[k]["estimate"].as_f64();
            for (col, k) in [(4, "correlation"), (5, "slope"), (6, "dependency")] {
                assert!(same(field(r[col]), get(k)), "{direction}: {k} of {}: {} vs {:?}", r[1], r[col], get(k));
            }
            if set != "pooled" {
                assert_eq!(field(r[3]).map(|v| v as f32), get("covariance").map(|v| v as f32), "{direction}: covariance of {}", r[1]);
            }
            let interval = &m[rank_by]["interval"];
            assert!(same(field(r[7]), interval["low"].as_f64()), "{direction}: ci_low of {}", r[1]);
            assert!(same(field(r[8]), interval["high"].as_f64()), "{direction}: ci_high of {}", r[1]);
            assert!(same(field(r[9]), m["test"]["p"].as_f64()), "{direction}: p of {}", r[1]);
            assert!(same(field(r[10]), m["test"]["q"].as_f64()), "{direction}: q of {}", r[1]);
            // Ranked by |metric|, largest first.
            let size = if rank_by == "covariance" { field(r[3]).unwrap().abs() } else { get(rank_by).map_or(-1.0, f64::abs) };
            assert!(size <= last + 1e-12, "{direction}: not sorted by |{rank_by}| at {}", r[1]);
            last = size;
        }
    }
}

#[test]
fn no_bootstrap_gives_no_intervals_and_bad_levels_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("top.csv");
    let mut args = crate::common::probe_sized(4, 2, &strs(&["--bootstrap", "0"]));
    args.extend(["--csv".into(), p(&csv)]);
    let out = succeeds(&args);
    assert!(out.contains("no intervals (--bootstrap 0)"), "{out}");
    for line in std::fs::read_to_string(&csv).unwrap().lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        assert_eq!((c[7], c[8]), ("", ""), "{line}");
        assert!(field(c[9]).is_some(), "the test needs no bootstrap: {line}");
    }
    fails(&probe_args(&strs(&["--ci", "1.5"])), &["--ci must be between 0 and 1"]);
    fails(&probe_args(&strs(&["--alpha", "1.5"])), &["--alpha must be between 0 and 1"]);
    fails(&probe_args(&strs(&["--top", "40"])), &["--top 40 is more than the 39 features other than the target"]);
}

#[test]
fn the_history_file_reproduces_the_covariance_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (history, cov_csv) = (dir.path().join("h.safetensors"), dir.path().join("cov.csv"));
    let (n, steps) = (5, 3);
    let mut args = crate::common::probe_sized(n, steps, &[]);
    args.extend(["--history".into(), p(&history), "--cov-csv".into(), p(&cov_csv)]);
    succeeds(&args);
    let bytes = std::fs::read(&history).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta["target"], "Male");
    assert_eq!(meta["target_index"], "20");
    assert_eq!(meta["steps"], steps.to_string());
    assert_eq!(meta["images"], n.to_string());
    assert_eq!(meta["update"], "notebook");
    let names: Vec<String> = serde_json::from_str(&meta["features"]).unwrap();
    assert_eq!(names, CELEBA_FEATURES.to_vec());
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let tensor = |name: &str| {
        let t = st.tensor(name).unwrap();
        assert_eq!(t.dtype(), safetensors::Dtype::F32, "{name}");
        (t.shape().to_vec(), bytemuck::pod_collect_to_vec::<u8, f32>(t.data()))
    };
    let (start_shape, start) = tensor("start");
    let (history_shape, hist) = tensor("history");
    let f = 40;
    assert_eq!(start_shape, [n, f]);
    assert_eq!(history_shape, [2 * steps, n, f]);
    // np.cov((history - start).reshape(-1, F).T), in f64.
    let rows = 2 * steps * n;
    let x: Vec<f64> = hist.iter().enumerate().map(|(k, &h)| h as f64 - start[k % (n * f)] as f64).collect();
    let mean: Vec<f64> = (0..f).map(|j| (0..rows).map(|r| x[r * f + j]).sum::<f64>() / rows as f64).collect();
    let (_, m) = read_cov_csv(&cov_csv);
    let scale = m.iter().flatten().fold(0.0f32, |a, v| a.max(v.abs())) as f64;
    for i in 0..f {
        for j in 0..f {
            let c = (0..rows).map(|r| (x[r * f + i] - mean[i]) * (x[r * f + j] - mean[j])).sum::<f64>() / (rows - 1) as f64;
            let got = m[i][j] as f64;
            assert!((c - got).abs() <= 1e-5 * c.abs() + 1e-6 * scale, "cov[{i}][{j}]: history gives {c}, --cov-csv {got}");
        }
    }
    // Step 0 of each direction is the starting logits themselves.
    for d in 0..2 {
        assert_eq!(hist[d * steps * n * f..(d * steps + 1) * n * f], start[..], "direction {d}, step 0");
    }
}

#[test]
fn a_noise_file_may_hold_tensors_of_any_other_dtype() {
    let dir = tempfile::tempdir().unwrap();
    let values = gan_bias::rng::torch_randn(5, 3 * 8);
    let mut raw = Raw::new();
    raw.insert("noise".into(), f32_entry(&[3, 8], &values));
    let f64s: Vec<u8> = [1.5f64, f64::NAN, 3.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    raw.insert("cov".into(), (safetensors::Dtype::F64, vec![3], f64s));
    raw.insert("labels".into(), (safetensors::Dtype::I64, vec![2], [7i64, -1].iter().flat_map(|v| v.to_le_bytes()).collect()));
    raw.insert("flags".into(), (safetensors::Dtype::BOOL, vec![2], vec![1, 0]));
    let path = dir.path().join("numpy.safetensors");
    write_raw(&path, &raw);
    let from_file = cov_of(dir.path(), "file", &["--noise".into(), p(&path)]);
    let from_seed = cov_of(dir.path(), "seed", &strs(&["--seed", "5", "--images", "3"]));
    assert_matrices_close("--noise beside f64, i64 and bool tensors vs --seed 5", &from_file, &from_seed, 1e-6);
    // The noise itself must still be a float tensor.
    let mut raw = Raw::new();
    raw.insert("noise".into(), (safetensors::Dtype::I64, vec![1, 8], vec![0; 64]));
    let bad = dir.path().join("int_noise.safetensors");
    write_raw(&bad, &raw);
    fails(&probe_args(&["--noise".into(), p(&bad)]), &["int_noise.safetensors", "tensor noise has dtype I64"]);
}
