//! `gan-bias info`.

use super::*;

#[test]
fn info_exits_zero() {
    let out = succeeds(&strs(&["info"]));
    assert!(out.contains("auto picks:"), "{out}");
    // Every adapter's line is followed by the limits and features a device on it asks for.
    let adapters = out.lines().filter(|l| l.contains("timestamp queries:")).count();
    assert!(adapters >= 1, "{out}");
    let limits =
        out.lines().filter(|l| l.starts_with("  limits requested: workgroup storage ") && l.contains("storage buffers per stage")).count();
    assert_eq!(limits, adapters, "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("  features requested: none")).count(), adapters, "{out}");
}
