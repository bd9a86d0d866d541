//! `gan-bias probe --feature all / --features` and `gan-bias merge`: rows of the matrix equal
//! single-target runs on both backends, the CSV's q-values are Benjamini–Hochberg over every
//! cell, shards run as separate processes merge into the unsharded matrix, and bad merges
//! are refused in one line naming the file.

use super::*;

/// `probe` on the tiny fixtures, 3 images x 2 steps, 60 bootstrap resamples, with `extra`.
fn matrix_args(backend: &str, extra: &[&str]) -> Vec<String> {
    let mut a = strs(&["probe", "--backend", backend, "--images", "3", "--steps", "2", "--bootstrap", "60"]);
    a.extend(["--generator".into(), gen_path(), "--classifier".into(), cls_path()]);
    a.extend(strs(extra));
    a
}

/// A CSV's header and rows of fields.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(str::to_string).collect();
    (header, lines.map(|l| l.split(',').map(str::to_string).collect()).collect())
}

fn num(s: &str) -> Option<f64> {
    (!s.is_empty()).then(|| s.parse().unwrap_or_else(|e| panic!("{s:?}: {e}")))
}

/// Benjamini–Hochberg step-up q-values, written out here as the reference.
fn bh(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![0.0; m];
    let mut running = 1.0f64;
    for (k, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (k + 1) as f64);
        q[i] = running;
    }
    q
}

#[test]
fn rows_of_a_target_list_equal_single_target_runs_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let names = &CELEBA_FEATURES;
    for backend in ["cpu", "vulkan"] {
        let csv = dir.path().join(format!("{backend}-matrix.csv"));
        // Batches of 5 rows cut across the targets' slots of 6.
        let (out, err) =
            succeeds_with_stderr(&matrix_args(backend, &["--features", "Male,3,young", "--max-batch", "5", "--matrix-csv", &p(&csv)]));
        assert!(err.contains("estimated time:") && err.contains("measured from the first step"), "{err}");
        assert!(out.starts_with("# gan-bias matrix (exact): 3 target(s) x 40 features"), "{out}");
        let (header, cells) = read_csv(&csv);
        assert_eq!(header.join(","), "target,feature,covariance,correlation,slope,dependency,ci_low,ci_high,p,q");
        assert_eq!(cells.len(), 3 * 39, "{backend}: one row per target and other feature");
        for target in ["Male", "BagsUnderEyes", "Young"] {
            let single = dir.path().join(format!("{backend}-{target}.csv"));
            succeeds(&matrix_args(backend, &["--feature", target, "--top", "39", "--csv", &p(&single)]));
            let (_, rows) = read_csv(&single);
            let mine: Vec<&Vec<String>> = cells.iter().filter(|c| c[0] == target).collect();
            assert_eq!(mine.len(), 39, "{backend}: {target}'s row");
            for r in &rows {
                // rank,feature,index,covariance,correlation,slope,dependency,ci_low,ci_high,p,q
                let c = mine.iter().find(|c| c[1] == r[1]).unwrap_or_else(|| panic!("{backend}: no cell {target} -> {}", r[1]));
                assert!(names.contains(&c[1].as_str()));
                // The same numbers: every row is computed on its own, whatever rows share its
                // batch (to the bit on both backends today). The bound allowed is f32
                // reduction order, 1e-4 relative plus 1e-7 absolute.
                for (k, what) in
                    [(3, "covariance"), (4, "correlation"), (5, "slope"), (6, "dependency"), (7, "ci_low"), (8, "ci_high"), (9, "p")]
                {
                    let (a, b) = (num(&c[k - 1]), num(&r[k]));
                    match (a, b) {
                        (Some(a), Some(b)) => {
                            assert!(
                                (a - b).abs() <= 1e-4 * a.abs().max(b.abs()) + 1e-7,
                                "{backend}: {target} -> {}: {what} {a} vs {b}",
                                r[1]
                            )
                        }
                        _ => assert_eq!(a.is_some(), b.is_some(), "{backend}: {target} -> {}: {what}", r[1]),
                    }
                }
            }
        }
        // q: Benjamini-Hochberg over every off-diagonal cell of the matrix, not row by row.
        let ps: Vec<f64> = cells.iter().map(|c| num(&c[8]).expect("every cell has a p")).collect();
        for (c, want) in cells.iter().zip(bh(&ps)) {
            let q = num(&c[9]).unwrap();
            assert!((q - want).abs() <= 1e-12 + 1e-9 * want, "{backend}: {} -> {}: q {q} vs {want}", c[0], c[1]);
        }
    }
}

#[test]
fn shards_merge_into_the_unsharded_matrix_and_bad_merges_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| p(&dir.path().join(name));
    let targets = "Male,Young,Bald,Smiling,Eyeglasses";
    succeeds(&matrix_args("cpu", &["--features", targets, "--json", &path("whole.json"), "--matrix-csv", &path("whole.csv")]));
    for k in 0..3 {
        let shard = format!("{k}/3");
        let out = succeeds(&matrix_args("cpu", &["--features", targets, "--shard", &shard, "--json", &path(&format!("part{k}.json"))]));
        assert!(out.contains(&format!("# shard {k}/3 of 5 targets")), "{out}");
    }
    let part = |k: usize| path(&format!("part{k}.json"));
    let out = succeeds(&strs(&[
        "merge",
        &part(2),
        &part(0),
        &part(1),
        "-o",
        &path("merged.json"),
        "--matrix-csv",
        &path("merged.csv"),
        "--heatmap",
        &path("merged.svg"),
    ]));
    assert!(out.starts_with("# gan-bias matrix (exact): 5 target(s) x 40 features"), "{out}");
    // The same cells, q-values recomputed over the whole, in the same order.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("merged.csv")).unwrap(),
        std::fs::read_to_string(dir.path().join("whole.csv")).unwrap()
    );
    let (whole, merged) = (read_json(&dir.path().join("whole.json")), read_json(&dir.path().join("merged.json")));
    assert_eq!(merged["rows"], whole["rows"]);
    assert_eq!(merged["cells"], whole["cells"]);
    assert_eq!(merged["settings"], whole["settings"]);
    assert_eq!(merged["shard"], Value::Null);
    assert_eq!(merged["runs"].as_array().unwrap().len(), 3);
    let svg = std::fs::read_to_string(dir.path().join("merged.svg")).unwrap();
    assert_eq!(svg.matches("data-row=\"Male\"").count(), 40, "a row of 40 cells per target");

    // Overlap, missing targets, other settings, noise and models: one line naming the file.
    let merge = |parts: &[String]| {
        let mut a = strs(&["merge"]);
        a.extend_from_slice(parts);
        a.extend(["-o".into(), path("bad.json")]);
        a
    };
    fails(&merge(&[part(0), part(1), part(2), part(0)]), &[&part(0), "also in", "overlap"]);
    fails(&merge(&[part(0), part(2)]), &[&part(0), "miss targets Young, Eyeglasses", "shard 1 of 3 missing"]);
    for (file, flags) in
        [("seed.json", vec!["--bootstrap-seed", "1"]), ("noise.json", vec!["--seed", "1"]), ("update.json", vec!["--update", "sgd"])]
    {
        let mut a = vec!["--features", targets, "--shard", "1/3", "--json"];
        let out = path(file);
        a.push(&out);
        a.extend(flags);
        succeeds(&matrix_args("cpu", &a));
        let words: &[&str] = match file {
            "seed.json" => &["bootstrap-seed 1, not 0"],
            "noise.json" => &["other starting noise"],
            _ => &["update sgd, not notebook"],
        };
        let mut needles = vec![out.as_str()];
        needles.extend(words);
        fails(&merge(&[part(0), out.clone(), part(2)]), &needles);
    }
    let other = dir.path().join("other_cls.json");
    let mut a = strs(&["probe", "--backend", "cpu", "--images", "3", "--steps", "2", "--bootstrap", "60", "--generator", &gen_path()]);
    a.extend(strs(&[
        "--classifier",
        &p(&fixture("tiny_classifier_f16.safetensors")),
        "--features",
        targets,
        "--shard",
        "1/3",
        "--json",
        &p(&other),
    ]));
    succeeds(&a);
    fails(&merge(&[part(0), p(&other), part(2)]), &[&p(&other), "another classifier"]);
    // Not a matrix at all: a single probe's JSON.
    let single = path("single.json");
    succeeds(&matrix_args("cpu", &["--feature", "Male", "--json", &single]));
    fails(&merge(&[part(0), single.clone()]), &[&single, "not a \"gan-bias dependency matrix\""]);
    // A hand-edited part whose indices or lengths do not fit its 40 features: refused by name,
    // never a crash.
    type Edit = fn(&mut Value);
    let edits: [(&str, Edit, &str); 5] = [
        ("targets", |v| v["settings"]["targets"][0] = 99.into(), "target 99"),
        ("covariance", |v| v["rows"][0]["covariance"].as_array_mut().unwrap().truncate(3), "one value per feature"),
        ("index", |v| v["rows"][0]["statistics"]["pooled"]["features"][5]["index"] = 99.into(), "one value per feature"),
        ("sigma", |v| v["rows"][0]["statistics"]["sigma"].as_array_mut().unwrap().pop().map(drop).unwrap(), "another shape"),
        ("shard", |v| v["shard"]["index"] = 7.into(), "shard 7/3"),
    ];
    for (what, edit, needle) in edits {
        let mut v = read_json(&dir.path().join("part1.json"));
        edit(&mut v);
        let edited = path(&format!("edited_{what}.json"));
        std::fs::write(&edited, serde_json::to_string(&v).unwrap()).unwrap();
        fails(&merge(&[part(0), edited.clone(), part(2)]), &[&edited, needle]);
    }
    assert!(!dir.path().join("bad.json").exists(), "a refused merge writes nothing");
    // A shard without --json has nowhere to go.
    fails(&matrix_args("cpu", &["--feature", "all", "--shard", "0/4"]), &["--shard", "--json"]);
    fails(&matrix_args("cpu", &["--feature", "all", "--shard", "4/4", "--json", &path("x.json")]), &["--shard 4/4", "0 <= K < N"]);
    fails(&matrix_args("cpu", &["--feature", "all", "--csv", &path("x.csv")]), &["--csv is for one target", "--matrix-csv"]);
    fails(&matrix_args("cpu", &["--feature", "Male", "--matrix-csv", &path("x.csv")]), &["--matrix-csv is for a matrix run"]);
    fails(&matrix_args("cpu", &["--features", "Male,male"]), &["--features names Male twice"]);
}
