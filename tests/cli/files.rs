//! Safetensors files made in the tests: noise files and fixtures with one tensor edited.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use super::fixture;

pub type Raw = BTreeMap<String, (Dtype, Vec<usize>, Vec<u8>)>;

pub fn read_raw(path: &Path) -> Raw {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors().into_iter().map(|(k, v)| (k, (v.dtype(), v.shape().to_vec(), v.data().to_vec()))).collect()
}

pub fn write_raw(path: &Path, raw: &Raw) {
    let views: Vec<(String, TensorView<'_>)> =
        raw.iter().map(|(k, (dtype, shape, data))| (k.clone(), TensorView::new(*dtype, shape.clone(), data).unwrap())).collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

pub use crate::common::pth::f32_bytes;

pub fn f32_entry(shape: &[usize], v: &[f32]) -> (Dtype, Vec<usize>, Vec<u8>) {
    assert_eq!(shape.iter().product::<usize>(), v.len());
    (Dtype::F32, shape.to_vec(), f32_bytes(v))
}

/// Deterministic values in [-0.5, 0.5), for noise and replacement weights.
pub fn filler(len: usize, salt: u32) -> Vec<f32> {
    let mut s = 0x9e37_79b9u32 ^ salt.wrapping_mul(0x85eb_ca6b);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / 16_777_216.0 - 0.5
        })
        .collect()
}

/// A noise file: tensor `noise` of `shape`, plus an unrelated tensor the command must ignore.
pub fn noise_file(dir: &Path, name: &str, shape: &[usize], values: &[f32]) -> PathBuf {
    let mut raw = Raw::new();
    raw.insert("noise".into(), f32_entry(shape, values));
    raw.insert("extra_ignored".into(), f32_entry(&[2, 2], &[1.0, 2.0, 3.0, 4.0]));
    let path = dir.join(name);
    write_raw(&path, &raw);
    path
}

/// A copy of a fixture with `edit` applied, written to `dir/name`.
pub fn edited_fixture(fixture_name: &str, dir: &Path, name: &str, edit: impl FnOnce(&mut Raw)) -> PathBuf {
    let mut raw = read_raw(&fixture(fixture_name));
    edit(&mut raw);
    let path = dir.join(name);
    write_raw(&path, &raw);
    path
}
