//! The one harness of the integration tests (and the benches): fixtures and the shared
//! real checkpoints, the tiny models (built by the library's `load`, as the command builds
//! them), backends, an all-close check, the `gan-bias` binary runner ([`run`]), the op
//! tests' GPU-against-CPU helpers ([`ops`]) and a writer of hand-built `.pth` files ([`pth`]).
//!
//! Owns: helpers only; no test lives here. Must not touch: what a test asserts.
// The tests and the benches each use part of it.
#![allow(dead_code, unused_imports)]

pub mod fuzz;
pub mod ops;
pub mod pth;
pub mod run;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use gan_bias::backend::gpu::{BackendChoice, GpuBackend};
use gan_bias::load;
use gan_bias::model::Network;
use safetensors::SafeTensors;

pub use run::*;

/// A file of `tests/fixtures/` under the project's folder (`$GAN_BIAS_ROOT` where set, as the
/// library's `load::project_root` reads it, else this checkout).
pub fn fixture(name: &str) -> PathBuf {
    load::project_root().join("tests/fixtures").join(name)
}

/// The folder of the real checkpoints: `$GAN_BIAS_SHARED` (when set and not empty), else
/// `../shared/fixtures` beside the crate. Looked up once; it may not exist (see [`shared`]).
pub fn shared_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| match std::env::var_os("GAN_BIAS_SHARED").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"),
    })
}

/// A real checkpoint of [`shared_dir`]. Panics with a clear message when it is missing:
/// these tests never pass silently.
pub fn shared(name: &str) -> PathBuf {
    let p = shared_dir().join(name);
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

/// Whether a fused convolution node is a correlation or its adjoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvKind {
    Conv,
    Transpose,
}

/// A fused convolution node of a lowered graph, with its sizes and weights, for the tests'
/// own f64 references.
#[derive(Debug, Clone)]
pub struct ConvView {
    pub kind: ConvKind,
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub hin: usize,
    pub win: usize,
    pub hout: usize,
    pub wout: usize,
    pub weight: Vec<f32>,
    pub bias: Option<Vec<f32>>,
    pub act: gan_bias::ops::act::Act,
}

impl ConvView {
    pub fn in_len(&self) -> usize {
        self.cin * self.hin * self.win
    }
    pub fn out_len(&self) -> usize {
        self.cout * self.hout * self.wout
    }
}

/// Every node of `graph`, each a square convolution (what the passes make of the presets).
pub fn conv_nodes(graph: &gan_bias::graph::Graph) -> Vec<ConvView> {
    use gan_bias::graph::NodeOp;
    graph
        .nodes
        .iter()
        .map(|n| {
            let (kind, a) = match &n.op {
                NodeOp::Conv(a) => (ConvKind::Conv, a),
                NodeOp::ConvTranspose(a) => (ConvKind::Transpose, a),
                other => panic!("node {} is {other:?}, not a convolution", n.name),
            };
            assert!(a.kernel[0] == a.kernel[1] && a.pads.iter().all(|&p| p == a.pads[0]) && a.strides[0] == a.strides[1]);
            let (x, y) = (&graph.value(n.inputs[0]).shape, &graph.value(n.outputs[0]).shape);
            ConvView {
                kind,
                cin: x[0],
                cout: y[0],
                k: a.kernel[0],
                stride: a.strides[0],
                pad: a.pads[0],
                hin: x[1],
                win: x[2],
                hout: y[1],
                wout: y[2],
                weight: graph.data(n.inputs[1]).unwrap().to_vec(),
                bias: n.inputs.get(2).map(|&b| graph.data(b).unwrap().to_vec()),
                act: a.act,
            }
        })
        .collect()
}

/// `net` with every convolution weight replaced by `f` of it (BatchNorm already folded in).
pub fn map_weights(net: &Network, f: impl Fn(&[f32]) -> Vec<f32>) -> Network {
    let mut net = net.clone();
    let weights: Vec<_> = net.graph.nodes.iter().map(|n| n.inputs[1]).collect();
    for w in weights {
        let v = &mut net.graph.values[w.0];
        v.data = Some(std::sync::Arc::new(f(v.data.as_ref().unwrap())));
    }
    net
}

/// The generator at `path`, as the command loads it.
pub fn generator(path: &Path) -> Network {
    load::generator(Some(path), None).unwrap_or_else(|e| panic!("{e}"))
}

/// The classifier at `path`, as the command loads it (for 64x64 images of its channels).
pub fn classifier(path: &Path) -> Network {
    load::classifier(Some(path), None, None, None).unwrap_or_else(|e| panic!("{e}"))
}

/// The GPU backend on the adapter `auto` picks. A missing adapter fails the test: on CI the
/// software Vulkan driver (Debian: mesa-vulkan-drivers) must be installed.
pub fn gpu() -> GpuBackend {
    GpuBackend::open(BackendChoice::Auto, None)
        .unwrap_or_else(|e| panic!("no wgpu adapter ({e}); install a Vulkan driver, e.g. apt-get install mesa-vulkan-drivers"))
}

/// The wgpu backends the op and limits tests run on: `$GAN_BIAS_TEST_ADAPTERS` (comma-separated
/// `--backend` names, e.g. `metal` on a Mac), else Vulkan and GL, the two translation paths
/// (SPIR-V, GLSL) of this machine's adapters, lavapipe and llvmpipe.
pub fn test_backends() -> Vec<BackendChoice> {
    let names = std::env::var("GAN_BIAS_TEST_ADAPTERS").ok().filter(|v| !v.trim().is_empty()).unwrap_or_else(|| "vulkan,gl".into());
    names
        .split(',')
        .map(|n| match n.trim() {
            "vulkan" => BackendChoice::Vulkan,
            "gl" => BackendChoice::Gl,
            "metal" => BackendChoice::Metal,
            "dx12" => BackendChoice::Dx12,
            other => panic!("GAN_BIAS_TEST_ADAPTERS: {other:?} is not one of vulkan, gl, metal, dx12"),
        })
        .collect()
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
    probe_sized(3, 4, &strs(extra))
}

/// `probe` on the tiny fixture models (CPU backend, `images` x `steps`, target Male), then
/// `extra`; a flag given in `extra` replaces the default one (clap refuses a flag given twice).
pub fn probe_sized(images: usize, steps: usize, extra: &[String]) -> Vec<String> {
    let defaults = [
        ("--backend", "cpu".to_string()),
        ("--images", images.to_string()),
        ("--steps", steps.to_string()),
        ("--feature", "Male".to_string()),
        ("--generator", p(&fixture("tiny_coursera_gen.safetensors"))),
        ("--classifier", p(&fixture("tiny_classifier.safetensors"))),
    ];
    let mut a = vec!["probe".to_string()];
    for (flag, value) in defaults {
        if !extra.iter().any(|e| e == flag) {
            a.extend([flag.to_string(), value]);
        }
    }
    a.extend_from_slice(extra);
    a
}

/// SplitMix64 with Box–Muller normals, for simulated data with known truth.
pub struct SimRng(pub u64);

impl SimRng {
    pub fn u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1).
    pub fn uniform(&mut self) -> f64 {
        ((self.u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f64 {
        (-2.0 * self.uniform().ln()).sqrt() * (2.0 * std::f64::consts::PI * self.uniform()).cos()
    }

    /// An index in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.u64() as u128 * n as u128) >> 64) as usize
    }
}
