//! `gan-bias info`.

use super::*;

#[test]
fn info_exits_zero() {
    let out = succeeds(&strs(&["info"]));
    assert!(out.contains("auto picks:"), "{out}");
}
