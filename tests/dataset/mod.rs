//! Labelled images for audits: the notebook's transform against torchvision's own output
//! (`golden`), CelebA's label and partition files and their errors (`labels`), sets of
//! images and labels in one safetensors file (`tensors`), labelled sheets of tiles (`sheet`),
//! the bundled evaluation set read from one (`demo_eval`), and the bundled classifier's logits
//! of the audit images against PyTorch's (`logits`).

mod demo_eval;
mod golden;
mod labels;
mod logits;
mod sheet;
mod tensors;

use std::path::{Path, PathBuf};

use crate::common::fixture;

/// A fixture of `tests/fixtures/audit_images/`.
pub fn audit_fixture(name: &str) -> PathBuf {
    fixture("audit_images").join(name)
}

/// Writes `bytes` to `name` in `dir` and returns its path.
pub fn write(dir: &Path, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// An error and its sources on one line, as the command prints them; asserted to be one line.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    assert!(!s.contains('\n'), "not one line: {s:?}");
    s
}
