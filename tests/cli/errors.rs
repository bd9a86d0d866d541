//! Bad input to `probe`: a non-zero exit, one line naming the problem, no panic, no output
//! files; and the error chain printed once.

use super::*;

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
    fails(
        &probe_args(&["--noise".into(), p(&nan), "--json".into(), p(&json)]),
        &[&p(&nan), "noise", "non-finite", "(NaN) at row 1, column 5"],
    );
    values[13] = f32::NEG_INFINITY;
    let inf = noise_file(dir.path(), "inf.safetensors", &[3, 8], &values);
    fails(&probe_args(&["--noise".into(), p(&inf)]), &[&p(&inf), "noise", "non-finite"]);
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

/// A probe too large for the host's memory is refused in one line naming the sizes, before
/// anything is allocated (it used to abort allocating the noise), as a probe, a matrix and an
/// audit; 10^9 images need terabytes on any machine.
#[test]
fn probes_too_large_for_the_host_are_refused_naming_the_sizes() {
    let out = tempfile::tempdir().unwrap();
    let csv = out.path().join("top.csv");
    let needles = ["1000000000 images x 2 steps", "of host memory (noise", "recorded changes", "available; use fewer images or steps"];
    fails(&probe_args(&strs(&["--images", "1000000000", "--csv", &p(&csv)])), &needles);
    fails(&probe_args(&strs(&["--images", "1000000000", "--feature", "all", "--matrix-csv", &p(&csv)])), &needles);
    no_files_in(out.path());
}

#[test]
fn unknown_feature_suggests_the_closest() {
    let line = fails(&probe_args(&strs(&["--feature", "Mael"])), &["Mael", "Male"]);
    assert!(line.contains("unknown feature"), "{line}");
    fails(&probe_args(&strs(&["--feature", "40"])), &["40", "out of range"]);
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

/// The error chain prints once, on one line: each error's own message, then its cause's
/// (`error: a: b: c`), the operating system's or the parser's reason last and only once.
#[test]
fn error_chain_prints_each_cause_once_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("absent.safetensors");
    let line = fails(&probe_args(&["--generator".into(), p(&absent)]), &["cannot read", &p(&absent)]);
    assert!(line.starts_with(&format!("error: cannot read {}: ", p(&absent))), "{line}");
    let cause = line.rsplit(": ").next().unwrap();
    assert!(cause.contains("os error"), "the operating system's reason ends the line: {line}");
    assert_eq!(line.matches(cause).count(), 1, "{line}");
    // A world description that is not JSON: the file, then serde's reason, once each.
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "median 3 ms").unwrap();
    let line = fails(&probe_args(&["--planted".into(), p(&broken)]), &[&format!("{} is not a world description: ", p(&broken))]);
    assert_eq!(line.matches("is not a world description").count(), 1, "{line}");
    assert_eq!(line.matches("expected value").count(), 1, "{line}");
    // A missing noise file, bench file and checkpoint.
    let cases = [
        probe_args(&["--noise".into(), p(&absent)]),
        strs(&["bench", "compare", &p(&dir.path().join("absent.json"))]),
        strs(&["import", &p(&dir.path().join("absent.pth")), "--list"]),
    ];
    for args in &cases {
        let line = fails(args, &["absent."]);
        let cause = line.rsplit(": ").next().unwrap();
        assert!(cause.contains("os error"), "{line}");
        assert_eq!(line.matches(cause).count(), 1, "{line}");
    }
}
