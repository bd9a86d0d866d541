//! Helpers shared by the integration tests: fixtures, backends, and an all-close check.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use gan_bias::backend::gpu::{BackendChoice, GpuBackend};
use gan_bias::model::Network;
use gan_bias::model::presets::{self, ArchKind, Role};
use gan_bias::weights::TensorFile;
use safetensors::SafeTensors;

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The real checkpoints beside the project (`../shared/fixtures`, or `$GAN_BIAS_SHARED`).
/// Panics with a clear message when the folder is missing: these tests never pass silently.
pub fn shared(name: &str) -> PathBuf {
    let dir = std::env::var_os("GAN_BIAS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"));
    let p = dir.join(name);
    assert!(p.exists(), "{} is missing: the real checkpoints must be in ../shared/fixtures (or set GAN_BIAS_SHARED)", p.display());
    p
}

/// Tensors by name: (shape, values as f32).
pub type Tensors = BTreeMap<String, (Vec<usize>, Vec<f32>)>;

/// Every tensor of a safetensors file as f32 (ints converted), with the metadata.
pub fn golden(name: &str) -> (Tensors, BTreeMap<String, String>) {
    let bytes = std::fs::read(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut out = BTreeMap::new();
    for (k, v) in st.tensors() {
        let data: Vec<f32> = match v.dtype() {
            safetensors::Dtype::F32 => bytemuck::pod_collect_to_vec::<u8, f32>(v.data()),
            safetensors::Dtype::F64 => bytemuck::pod_collect_to_vec::<u8, f64>(v.data()).iter().map(|&x| x as f32).collect(),
            safetensors::Dtype::I64 => bytemuck::pod_collect_to_vec::<u8, i64>(v.data()).iter().map(|&x| x as f32).collect(),
            d => panic!("{name}: {k} has dtype {d:?}"),
        };
        out.insert(k, (v.shape().to_vec(), data));
    }
    (out, meta.metadata().clone().unwrap_or_default().into_iter().collect())
}

pub fn generator(path: &Path) -> Network {
    let file = TensorFile::load(path).unwrap();
    let arch = ArchKind::resolve(&file, None, Role::Generator).unwrap();
    let z = presets::z_dim(arch, &file).unwrap();
    Network::build(arch, &file, [z, 1, 1]).unwrap()
}

pub fn classifier(path: &Path) -> Network {
    let file = TensorFile::load(path).unwrap();
    let arch = ArchKind::resolve(&file, None, Role::Classifier).unwrap();
    let mut net = Network::build(arch, &file, [3, 64, 64]).unwrap();
    net.features = presets::feature_names(&file, net.output[0]).unwrap();
    net
}

/// The GPU backend on the adapter `auto` picks. A missing adapter fails the test: on CI the
/// software Vulkan driver (Debian: mesa-vulkan-drivers) must be installed.
pub fn gpu() -> GpuBackend {
    GpuBackend::open(BackendChoice::Auto, None)
        .unwrap_or_else(|e| panic!("no wgpu adapter ({e}); install a Vulkan driver, e.g. apt-get install mesa-vulkan-drivers"))
}

/// Asserts `|got - want| <= atol + rtol * |want|` everywhere, reporting the worst element.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], rtol: f32, atol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length {} vs {}", got.len(), want.len());
    let mut worst = (0usize, 0.0f32);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(g.is_finite(), "{what}: non-finite {g} at {i}");
        let excess = (g - w).abs() - (atol + rtol * w.abs());
        if excess > worst.1 {
            worst = (i, excess);
        }
    }
    let i = worst.0;
    assert!(
        worst.1 <= 0.0,
        "{what}: worst at index {i}: got {}, want {} (|diff| {:e}, rtol {rtol:e}, atol {atol:e})",
        got[i],
        want[i],
        (got[i] - want[i]).abs()
    );
}

/// Largest absolute value, to scale absolute tolerances.
pub fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// `probe` on the tiny fixture models (CPU backend, 3 images x 4 steps, target Male), then `extra`.
pub fn probe_args(extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = ["probe", "--backend", "cpu", "--images", "3", "--steps", "4", "--feature", "Male", "--generator"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.push(fixture("tiny_coursera_gen.safetensors").display().to_string());
    a.push("--classifier".into());
    a.push(fixture("tiny_classifier.safetensors").display().to_string());
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}
