//! The ops of the probe. Each module holds one kernel: its shape checks, the description of
//! its WGSL dispatch (the shader itself is `shaders/<name>.wgsl`), and its CPU twin.

pub mod act;
pub mod conv2d;
mod conv_gemm;
pub mod conv_transpose2d;
pub mod covariance;
pub mod noise_update;
pub mod record;
pub mod seed_grad;
pub mod tiling;

use crate::backend::{BufId, StepParams};

/// A shape or size that does not fit an op; found before anything is recorded.
#[derive(Debug, thiserror::Error)]
#[error("{op} ({label}): {detail}")]
pub struct OpError {
    pub op: &'static str,
    pub label: String,
    pub detail: String,
}

/// A WGSL source with a name (the pipeline cache key).
#[derive(Debug)]
pub struct Shader {
    pub name: &'static str,
    pub source: &'static str,
    /// The same kernel reading its [`Bind::Weights`] buffer as packed f16, where it has one.
    pub f16_weights: Option<&'static Shader>,
}

impl Shader {
    /// A shader with no f16-weight twin.
    pub const fn new(name: &'static str, source: &'static str) -> Shader {
        Shader { name, source, f16_weights: None }
    }
}

/// One binding of a kernel, in binding order from 0.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    /// The op's constant parameters (little-endian 32-bit words).
    Params(Vec<u32>),
    /// The per-run [`StepParams`].
    Step,
    /// A storage buffer read by the kernel; `None` binds a placeholder (unused input).
    Read(Option<BufId>),
    /// A read-only storage buffer of convolution weights: f32 for the dispatch's shader, or
    /// packed f16 for its [`Shader::f16_weights`] twin (the GPU backend decides, per buffer;
    /// see `src/backend/gpu/weights.rs`).
    Weights(BufId),
    /// A storage buffer written by the kernel.
    Write(BufId),
}

/// How the GPU runs an op: one dispatch of `entry`, its size given by `work`.
#[derive(Debug)]
pub struct Dispatch {
    pub shader: &'static Shader,
    pub entry: &'static str,
    pub binds: Vec<Bind>,
    pub work: Work,
}

/// The size of a dispatch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// One invocation per item, in workgroups of 64 (`@workgroup_size(64)`).
    Items(u64),
    /// A tiled implicit GEMM (`shaders/conv_common.wgsl`): the backend picks the tile that
    /// suits the shape and fits the adapter ([`tiling::choose`]), which sets the shader's
    /// `override` constants and the number of workgroups.
    Tiled(tiling::GemmShape),
}

/// The f32 buffers the CPU backend works on.
pub struct CpuMemory {
    pub bufs: Vec<Vec<f32>>,
}

impl CpuMemory {
    pub fn get(&self, id: BufId) -> &[f32] {
        &self.bufs[id.0]
    }

    /// Lends buffer `out` mutably while the others stay readable (an op never reads what it writes,
    /// except through this slice).
    pub fn with_output<R>(&mut self, out: BufId, f: impl FnOnce(&CpuMemory, &mut [f32]) -> R) -> R {
        let mut buf = std::mem::take(&mut self.bufs[out.0]);
        let r = f(self, &mut buf);
        self.bufs[out.0] = buf;
        r
    }
}

/// What every op provides.
pub trait Kernel {
    /// Checks the op's buffers have the sizes its shape needs.
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError>;
    /// The CPU twin: plain loops in the shader's order, the reference.
    fn run_cpu(&self, mem: &mut CpuMemory, step: StepParams);
    /// The fast CPU path, where an op has one (same result up to summation order).
    fn run_cpu_fast(&self, mem: &mut CpuMemory, step: StepParams) {
        self.run_cpu(mem, step)
    }
    /// The GPU dispatch.
    fn dispatch(&self) -> Dispatch;
    /// Work of one run, counted from the shapes (for benchmarks). By default an elementwise
    /// op: one FLOP per item, three floats moved.
    fn cost(&self) -> Cost {
        let t = match self.dispatch().work {
            Work::Items(n) => n as f64,
            Work::Tiled(g) => (g.phases * g.m * g.n) as f64,
        };
        Cost { flop: t, bytes: 12.0 * t }
    }
}

/// Floating-point operations (a multiply-add counts 2) and bytes read and written by one run.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cost {
    pub flop: f64,
    pub bytes: f64,
}

/// Every op of a program.
#[derive(Debug, Clone)]
pub enum Op {
    Conv2d(conv2d::Conv),
    ConvTranspose2d(conv_transpose2d::ConvTranspose),
    SeedGrad(seed_grad::SeedGrad),
    Record(record::Record),
    NoiseUpdate(noise_update::NoiseUpdate),
    ColumnMean(covariance::ColumnMean),
    Covariance(covariance::Covariance),
}

impl Op {
    pub fn kernel(&self) -> &dyn Kernel {
        match self {
            Op::Conv2d(k) => k,
            Op::ConvTranspose2d(k) => k,
            Op::SeedGrad(k) => k,
            Op::Record(k) => k,
            Op::NoiseUpdate(k) => k,
            Op::ColumnMean(k) => k,
            Op::Covariance(k) => k,
        }
    }
}

/// Every shader, for validation and pipeline warm-up: the f16-weight twins last.
pub fn all_shaders() -> [&'static Shader; 8] {
    [
        &conv2d::SHADER,
        &conv_transpose2d::SHADER,
        &seed_grad::SHADER,
        &record::SHADER,
        &noise_update::SHADER,
        &covariance::SHADER,
        &conv2d::SHADER_F16,
        &conv_transpose2d::SHADER_F16,
    ]
}

/// Fails with a message naming the buffer when `len(id) < need`.
pub(crate) fn need(op: &'static str, label: &str, what: &str, have: usize, need: usize) -> Result<(), OpError> {
    if have < need {
        return Err(OpError { op, label: label.to_string(), detail: format!("{what} holds {have} floats, needs {need}") });
    }
    Ok(())
}

/// Fails when an op's written buffer `out` is also one of its other buffers.
pub(crate) fn distinct(op: &'static str, label: &str, out: BufId, others: &[Option<BufId>]) -> Result<(), OpError> {
    if others.contains(&Some(out)) {
        return Err(OpError { op, label: label.to_string(), detail: "output buffer aliases an input".into() });
    }
    Ok(())
}

/// Packs an f32 into a parameter word.
pub(crate) fn word(x: f32) -> u32 {
    x.to_bits()
}
