//! Running the `gan-bias` binary: what it printed, and the checks every command test makes
//! (success without a panic; failure with one line naming the problem).

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// Runs `gan-bias` with `args`.
pub fn gan(args: &[String]) -> Output {
    Command::cargo_bin("gan-bias").expect("the gan-bias binary").args(args).output().expect("running gan-bias")
}

pub fn strs(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

pub fn p(path: &Path) -> String {
    path.display().to_string()
}

pub fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The lines of stderr that are not blank nor the XDG_RUNTIME_DIR noise of graphics drivers.
pub fn stderr_lines(out: &Output) -> Vec<String> {
    stderr_of(out).lines().filter(|l| !l.contains("XDG_RUNTIME_DIR") && !l.trim().is_empty()).map(str::to_string).collect()
}

/// Runs `args`, which must succeed without a panic; returns stdout and stderr.
pub fn succeeds_with_stderr(args: &[String]) -> (String, String) {
    let out = gan(args);
    let err = stderr_of(&out);
    assert!(out.status.success(), "gan-bias {args:?} failed ({:?}):\n{err}", out.status);
    assert!(!err.contains("panicked"), "gan-bias {args:?} panicked:\n{err}");
    (stdout_of(&out), err)
}

/// Runs `args`, which must succeed without a panic; returns stdout.
pub fn succeeds(args: &[String]) -> String {
    succeeds_with_stderr(args).0
}

/// Runs `args`, which must fail with exactly one line on stderr (ignoring the XDG_RUNTIME_DIR
/// noise of graphics drivers), no panic, and the line containing every one of `needles`.
pub fn fails(args: &[String], needles: &[&str]) -> String {
    let out = gan(args);
    let err = stderr_of(&out);
    assert!(!out.status.success(), "gan-bias {args:?} succeeded but should fail; stdout:\n{}", stdout_of(&out));
    assert!(!err.contains("panicked"), "gan-bias {args:?} panicked:\n{err}");
    assert!(!err.contains("RUST_BACKTRACE"), "gan-bias {args:?} panicked:\n{err}");
    let lines = stderr_lines(&out);
    assert_eq!(lines.len(), 1, "gan-bias {args:?}: expected one line on stderr, got:\n{err}");
    let line = &lines[0];
    eprintln!("gan-bias {}:\n  {line}", args.join(" "));
    for n in needles {
        assert!(line.contains(n), "gan-bias {args:?}: message does not mention '{n}':\n{line}");
    }
    line.to_string()
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
