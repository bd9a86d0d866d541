//! `gan-bias audit` end to end: every metric against scikit-learn's and Fairlearn's on the
//! PyTorch classifier's logits of the bundled evaluation set (CPU backend on all of it, the
//! WGSL kernels on its first 150 images), the outputs as views of one report, the leakage
//! beside the probe's row, and one clear line for each bad input with nothing written.

use std::collections::BTreeMap;

use super::*;

/// The committed CelebA-style images: five labelled files, a partition.
fn images_dir() -> PathBuf {
    fixture("audit_images")
}

/// `audit` on the committed images by Male, CPU backend, no bootstrap, no probe; `extra` appended.
fn folder_args(extra: &[&str]) -> Vec<String> {
    folder_grouped("Male", extra)
}

fn folder_grouped(group: &str, extra: &[&str]) -> Vec<String> {
    let dir = images_dir();
    let mut args = strs(&["audit", "--backend", "cpu", "--no-probe", "--bootstrap", "0", "--group", group, "--min-group", "2"]);
    args.extend(["--image-dir".into(), p(&dir), "--labels".into(), p(&dir.join("list_attr_celeba.txt"))]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// The output flags, all into `out`.
fn outputs(out: &Path) -> Vec<String> {
    let mut args = Vec::new();
    for (flag, name) in [("--csv", "a.csv"), ("--leakage-csv", "l.csv"), ("--json", "a.json"), ("--plot", "a.svg")] {
        args.extend([flag.to_string(), p(&out.join(name))]);
    }
    args
}

/// A copy of the committed images in a temporary folder, with the label file replaced by
/// `labels` (its text).
fn edited_images(labels: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(images_dir()).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), dir.path().join(e.file_name())).unwrap();
    }
    std::fs::write(dir.path().join("list_attr_celeba.txt"), labels).unwrap();
    dir
}

fn committed_labels() -> String {
    std::fs::read_to_string(images_dir().join("list_attr_celeba.txt")).unwrap()
}

fn audit_in(dir: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = strs(&["audit", "--backend", "cpu", "--no-probe", "--bootstrap", "0", "--group", "Male"]);
    args.extend(["--image-dir".into(), p(dir), "--labels".into(), p(&dir.join("list_attr_celeba.txt"))]);
    args.extend(outputs(out));
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

#[test]
fn bad_labels_and_images_get_one_line_and_nothing_written() {
    let out = tempfile::tempdir().unwrap();
    let text = committed_labels();
    let lines: Vec<&str> = text.lines().collect();

    // A line with a column missing: its line number.
    let mut short = lines.clone();
    let cut = short[3].rsplit_once(' ').unwrap().0.to_string();
    short[3] = &cut;
    let dir = edited_images(&(short.join("\n") + "\n"));
    fails(&audit_in(dir.path(), out.path(), &[]), &["list_attr_celeba.txt:4", "columns"]);

    // A label outside {-1, 0, 1}.
    let bad = lines[2].replacen(" 1 ", " 2 ", 1);
    let dir = edited_images(&format!("{}\n{}\n{bad}\n{}\n", lines[0], lines[1], lines[3..].join("\n")));
    fails(&audit_in(dir.path(), out.path(), &[]), &["list_attr_celeba.txt:3", "'2'"]);

    // A count that does not agree.
    let dir = edited_images(&format!("7\n{}\n", lines[1..].join("\n")));
    fails(&audit_in(dir.path(), out.path(), &[]), &["list_attr_celeba.txt", "7 images", "5"]);

    // A missing image, and one that cannot be decoded.
    let dir = edited_images(&text);
    std::fs::remove_file(dir.path().join("000002.jpg")).unwrap();
    fails(&audit_in(dir.path(), out.path(), &[]), &["000002.jpg"]);
    let dir = edited_images(&text);
    std::fs::write(dir.path().join("000004.png"), b"not a picture at all").unwrap();
    fails(&audit_in(dir.path(), out.path(), &[]), &["000004.png", "decode"]);

    // Names that match none of the classifier's features: each named.
    let renamed = text.replacen("Goatee", "Goatie", 1).replacen("Young", "Youth", 1);
    let dir = edited_images(&renamed);
    fails(&audit_in(dir.path(), out.path(), &[]), &["Goatee", "Young"]);
    no_files_in(out.path());
}

#[test]
fn bad_flags_get_one_line_and_nothing_written() {
    let out = tempfile::tempdir().unwrap();
    let o = outputs(out.path());
    let with = |extra: &[&str]| {
        let mut a = folder_args(extra);
        a.extend(o.iter().cloned());
        a
    };
    let grouped = |group: &str| {
        let mut a = folder_grouped(group, &[]);
        a.extend(o.iter().cloned());
        a
    };
    fails(&grouped("Male,Young,Smiling"), &["--group", "one or two", "not 3"]);
    fails(&grouped("Mael"), &["unknown feature 'Mael'", "Male"]);
    fails(&with(&["--features", "Smiling,Smiling"]), &["--features", "Smiling twice"]);
    fails(&with(&["--ci", "1.5"]), &["--ci"]);
    fails(&with(&["--limit", "0"]), &["--limit"]);
    fails(&folder_args(&["--plot-features", "Smiling", "--json", &p(&out.path().join("a.json"))]), &["--plot"]);
    let mut a = folder_args(&["--plot", &p(&out.path().join("x.jpg"))]);
    a.extend(o[..6].iter().cloned());
    fails(&a, &["x.jpg", ".svg or .png"]);
    fails(&with(&["--report", &p(&out.path().join("r.txt"))]), &["--report", "r.txt", ".html"]);
    let missing = out.path().join("no/such/dir/a.csv");
    fails(&folder_args(&["--csv", &p(&missing)]), &["no/such/dir", "does not exist"]);
    let dir = images_dir();
    fails(&with(&["--partition", &p(&dir.join("list_eval_partition.txt")), "--split", "holdout"]), &["unknown split 'holdout'"]);
    // A classifier of its own with no data: the bundled set is the bundled classifier's.
    let cls = bundled("demo_classifier.safetensors");
    fails(&strs(&["audit", "--classifier", &p(&cls), "--group", "Male"]), &["--data", "--image-dir"]);
    let junk = out.path().join("junk.safetensors");
    std::fs::write(&junk, b"not safetensors").unwrap();
    fails(&strs(&["audit", "--data", &p(&junk), "--group", "Male", "--backend", "cpu"]), &[&p(&junk)]);
    std::fs::remove_file(&junk).unwrap();
    no_files_in(out.path());
}

/// A CSV's rows as maps from column to cell.
fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            assert_eq!(cells.len(), header.len(), "{}: {l}", path.display());
            header.iter().zip(cells).map(|(h, c)| (h.to_string(), c.to_string())).collect()
        })
        .collect()
}

fn num(cell: &str) -> Option<f64> {
    (!cell.is_empty()).then(|| cell.parse().unwrap_or_else(|e| panic!("{cell:?}: {e}")))
}

/// The JSON's estimate `{estimate, interval}` as (value, low, high).
fn json_estimate(v: &Value) -> (Option<f64>, Option<f64>, Option<f64>) {
    let i = &v["interval"];
    (v["estimate"].as_f64(), i["low"].as_f64(), i["high"].as_f64())
}

#[test]
fn every_output_is_a_view_of_the_json_on_a_folder_of_images() {
    let out = tempfile::tempdir().unwrap();
    let mut args = folder_grouped("Male,Young", &[]);
    args.retain(|a| a != "--bootstrap" && a != "0");
    args.extend(strs(&["--bootstrap", "50"]));
    args.extend(outputs(out.path()));
    let stdout = succeeds(&args);
    let json = read_json(&out.path().join("a.json"));
    assert_eq!(json["kind"], "gan-bias classifier audit");
    assert_eq!(json["version"], 1);
    assert_eq!(json["settings"]["images"], 5);
    let groups: Vec<&str> = json["groups"].as_array().unwrap().iter().map(|g| g.as_str().unwrap()).collect();
    assert_eq!(groups, ["all", "Male=1&Young=1", "Male=1&Young=0", "Male=0&Young=1", "Male=0&Young=0"]);
    let names: Vec<String> = json["features"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
    let st = &json["statistics"];

    // The long CSV: one row per feature, group and metric, then the disparities.
    let rows = csv_rows(&out.path().join("a.csv"));
    let per_feature = 5 * 9 + 2 * 9 + 3;
    assert_eq!(rows.len(), 40 * per_feature);
    for (k, feature) in st["features"].as_array().unwrap().iter().enumerate() {
        let name = &names[feature["index"].as_u64().unwrap() as usize];
        let block = &rows[k * per_feature..(k + 1) * per_feature];
        for (g, by_group) in feature["by_group"].as_array().unwrap().iter().enumerate() {
            for (m, metric) in ["base_rate", "selection_rate", "accuracy", "tpr", "fpr", "fnr", "tnr", "ppv", "auc"].iter().enumerate() {
                let row = &block[g * 9 + m];
                assert_eq!((&row["feature"], &row["group"], &row["metric"]), (name, &groups[g].to_string(), &metric.to_string()));
                assert_eq!(row["n"], st["groups"][g]["n"].to_string());
                let (v, low, high) = json_estimate(&by_group[*metric]);
                assert_eq!((num(&row["value"]), num(&row["ci_low"]), num(&row["ci_high"])), (v, low, high), "{name} {metric}");
            }
        }
        let named = &block[per_feature - 3..];
        for (row, key) in named.iter().zip(["demographic_parity_difference", "equal_opportunity_difference", "equalized_odds_difference"]) {
            assert_eq!((&row["group"], &row["metric"]), (&"difference".to_string(), &key.to_string()));
            assert_eq!(num(&row["value"]), feature[key]["estimate"].as_f64(), "{name} {key}");
        }
    }
    let leakage = csv_rows(&out.path().join("l.csv"));
    assert_eq!(leakage.len(), 80, "each feature with each group attribute");
    for (row, l) in leakage.iter().zip(st["leakage"].as_array().unwrap()) {
        assert_eq!(row["group_attribute"], names[l["group_attribute"].as_u64().unwrap() as usize]);
        assert_eq!(num(&row["fp_gap"]), l["fp_gap"]["estimate"].as_f64());
        assert_eq!(num(&row["fn_ci_high"]), l["fn_gap"]["interval"]["high"].as_f64());
    }
    // The plot holds the ten largest equalized-odds differences' TPR and FPR per group.
    let svg = std::fs::read_to_string(out.path().join("a.svg")).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "an SVG");
    let rates = svg.matches("class=\"rate\"").count();
    assert!(rates > 0 && rates <= 10 * 4 * 2, "{rates} rate points");
    assert!(stdout.contains("# groups: Male=1&Young=1 n="), "{stdout}");
    assert!(stdout.contains("# leakage of Young"), "{stdout}");
}

#[test]
fn a_partition_selects_its_split() {
    let dir = images_dir();
    let out = tempfile::tempdir().unwrap();
    let mut args = folder_args(&["--partition", &p(&dir.join("list_eval_partition.txt")), "--split", "test"]);
    args.extend(["--json".into(), p(&out.path().join("t.json"))]);
    succeeds(&args);
    // 000001, 000003 and 000005 are the test split.
    assert_eq!(read_json(&out.path().join("t.json"))["settings"]["images"], 3);
}

/// The golden set `key` of `tests/fixtures/audit_cli_golden.json` (scikit-learn and Fairlearn
/// on PyTorch's logits of the bundled evaluation set, `tools/audit_cli_golden.py`).
fn golden_set(key: &str) -> Value {
    let all = read_json(&fixture("audit_cli_golden.json"));
    assert_eq!(all["threshold"], 0.0);
    all["sets"][key].clone()
}

/// Runs `audit` on the bundled evaluation set with `extra` and checks every CSV row and
/// leakage gap against golden set `key`: the same rows in the same order, n equal, every value
/// within 1e-10 (the golden file keeps 12 significant digits) or undefined on both sides; a
/// group's AUC within three near-tied pairs, and its disparities accordingly.
fn matches_golden(key: &str, extra: &[&str]) {
    let golden = golden_set(key);
    let out = tempfile::tempdir().unwrap();
    let group: Vec<&str> = golden["group_attributes"].as_array().unwrap().iter().map(|g| g.as_str().unwrap()).collect();
    let mut args = strs(&["audit", "--no-probe", "--bootstrap", "0", "--group", &group.join(",")]);
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend(["--csv".into(), p(&out.path().join("a.csv")), "--leakage-csv".into(), p(&out.path().join("l.csv"))]);
    args.extend(["--json".into(), p(&out.path().join("a.json"))]);
    succeeds(&args);
    assert_eq!(read_json(&out.path().join("a.json"))["settings"]["images"], golden["images"]);

    let close = |what: &str, got: Option<f64>, want: Option<f64>| match (got, want) {
        (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-10 * w.abs().max(1.0), "{what}: {g} vs golden {w}"),
        (g, w) => assert_eq!(g, w, "{what}: defined on one side only"),
    };
    let rows = csv_rows(&out.path().join("a.csv"));
    let want = golden["rows"].as_array().unwrap();
    assert_eq!(rows.len(), want.len(), "rows");
    let mut worst = (0.0f64, String::new());
    let (mut base_rate, mut auc_tolerance) = (None, 0.0f64);
    for (row, w) in rows.iter().zip(want) {
        if row["group"] == "all" && row["metric"] == "base_rate" {
            auc_tolerance = 0.0;
        }
        let w = w.as_array().unwrap();
        let what = format!("{} {} {}", row["feature"], row["group"], row["metric"]);
        assert_eq!(
            (row["feature"].as_str(), row["group"].as_str(), row["metric"].as_str()),
            (w[0].as_str().unwrap(), w[1].as_str().unwrap(), w[3].as_str().unwrap())
        );
        assert_eq!(row["n"], w[2].to_string(), "{what}: n");
        let (got, want) = (num(&row["value"]), w[4].as_f64());
        if row["metric"] == "base_rate" {
            base_rate = want;
        }
        match (row["metric"].as_str(), got, want, base_rate) {
            // A positive and a negative whose logits lie within the backends' rounding of each
            // other (about 1e-5) may order either way: each such pair moves the AUC by
            // 1 / (n1 n0). Allow three in a group (the undrawn labels' logits nearly tie).
            ("auc", Some(g), Some(v), Some(rate)) if row["group"] != "difference" && row["group"] != "ratio" => {
                let n = w[2].as_f64().unwrap();
                let tolerance = 3.0 / ((rate * n).round() * ((1.0 - rate) * n).round());
                if row["group"] != "all" {
                    auc_tolerance = auc_tolerance.max(tolerance);
                }
                assert!((g - v).abs() <= tolerance + 1e-10, "{what}: {g} vs golden {v} (more than 3 near-tied pairs)");
            }
            // So the AUC's difference moves by at most twice a group's, its ratio (of AUCs
            // above 0.4) by at most five times.
            ("auc", Some(g), Some(v), _) => {
                let tolerance = if row["group"] == "difference" { 2.0 } else { 5.0 } * auc_tolerance;
                assert!((g - v).abs() <= tolerance + 1e-10, "{what}: {g} vs golden {v}");
            }
            _ => close(&what, got, want),
        }
        if let (Some(g), Some(v)) = (got, want)
            && (g - v).abs() > worst.0
        {
            worst = ((g - v).abs(), what);
        }
    }
    eprintln!("set {key}: {} rows, worst |difference| {:e} at {}", rows.len(), worst.0, worst.1);
    let leakage = csv_rows(&out.path().join("l.csv"));
    let want = golden["leakage"].as_array().unwrap();
    assert_eq!(leakage.len(), want.len(), "leakage rows");
    for (row, w) in leakage.iter().zip(want) {
        assert_eq!(
            (row["group_attribute"].as_str(), row["feature"].as_str()),
            (w["group_attribute"].as_str().unwrap(), w["feature"].as_str().unwrap())
        );
        let what = format!("leakage of {} into {}", row["group_attribute"], row["feature"]);
        close(&format!("{what}: fp"), num(&row["fp_gap"]), w["fp_gap"].as_f64());
        close(&format!("{what}: fn"), num(&row["fn_gap"]), w["fn_gap"].as_f64());
    }
}

#[test]
fn every_metric_equals_sklearn_and_fairlearn_on_the_cpu_backend() {
    matches_golden("A", &["--backend", "cpu"]);
    matches_golden("B", &["--backend", "cpu"]);
}

#[test]
fn every_metric_equals_sklearn_and_fairlearn_on_the_wgsl_kernels() {
    matches_golden("C", &["--backend", "vulkan", "--limit", "150"]);
}

#[test]
fn the_leakage_sits_beside_the_probes_own_dependency_row() {
    let out = tempfile::tempdir().unwrap();
    let (audit_json, probe_json) = (out.path().join("a.json"), out.path().join("p.json"));
    let stdout = succeeds(&strs(&[
        "audit",
        "--backend",
        "cpu",
        "--group",
        "Male",
        "--limit",
        "200",
        "--bootstrap",
        "20",
        "--probe-images",
        "6",
        "--probe-steps",
        "2",
        "--json",
        &p(&audit_json),
    ]));
    assert!(stdout.contains("# beside the probe's dependency row for Male (6 images x 2 steps, seed 0"), "{stdout}");
    let header = stdout.lines().find(|l| l.starts_with("feature") && l.contains("fp gap")).expect("the leakage table");
    assert!(header.contains("probe dependency") && header.ends_with("leak"), "{header}");
    succeeds(&strs(&[
        "probe",
        "--backend",
        "cpu",
        "--feature",
        "Male",
        "--images",
        "6",
        "--steps",
        "2",
        "--bootstrap",
        "20",
        "--json",
        &p(&probe_json),
    ]));
    let (audit, probe) = (read_json(&audit_json), read_json(&probe_json));
    let row = &audit["probe"][0];
    assert_eq!(row["target"], 20);
    let pooled = probe["statistics"]["pooled"]["features"].as_array().unwrap();
    for (i, f) in pooled.iter().enumerate() {
        assert_eq!(row["dependency"][i], f["dependency"], "feature {i}: the audit's probe row is the probe's");
    }
}

#[test]
fn the_plot_is_a_png_of_the_svgs_size_too() {
    let out = tempfile::tempdir().unwrap();
    let (svg, png) = (out.path().join("r.svg"), out.path().join("r.png"));
    for path in [&svg, &png] {
        succeeds(&folder_args(&["--plot", &p(path), "--plot-features", "Smiling,Young"]));
    }
    let text = std::fs::read_to_string(&svg).unwrap();
    let size = |attr: &str| -> f64 {
        let at = text.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
        text[at..at + text[at..].find('"').unwrap()].parse().unwrap()
    };
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let info = decoder.read_info().unwrap().info().clone();
    assert_eq!((info.width as f64, info.height as f64), ((size("width") * 2.0).ceil(), (size("height") * 2.0).ceil()));
    // Two features, each with its two groups' TPR and FPR (where defined), named in order.
    let features: Vec<&str> = text.split("data-feature=\"").skip(1).map(|s| &s[..s.find('"').unwrap()]).collect();
    assert!(!features.is_empty() && features.iter().all(|f| *f == "Smiling" || *f == "Young"), "{features:?}");
    assert!(text.find("data-feature=\"Smiling\"").unwrap() < text.find("data-feature=\"Young\"").unwrap());
}
