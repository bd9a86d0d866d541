//! The ops of the probe, the leaf of the crate. Each module holds one kernel: its shape
//! checks, the description of its WGSL dispatch (the shader itself is `shaders/<name>.wgsl`),
//! its uniform parameters as a Pod struct mirroring the shader's `Params`, and its CPU twin.
//!
//! Owns: buffer ids, the per-run [`StepParams`], the [`Kernel`] trait, the CPU memory the twins
//! run on, and the tile shapes of the tiled kernels. Must not touch: models, programs,
//! backends, wgpu (which tile fits which adapter is the GPU backend's policy).

pub mod act;
pub mod add;
pub mod affine;
pub mod bilinear;
pub mod binary;
pub mod conv2d;
pub mod conv_general;
pub mod conv_transpose2d;
pub mod copy;
pub mod covariance;
pub mod noise_update;
pub mod pad;
pub mod pool;
pub mod record;
pub mod resize;
pub mod seed_grad;
pub mod tiling;

use std::sync::Arc;

/// Index of a buffer in a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BufId(pub usize);

/// A kernel's uniform parameters: a `#[repr(C)]` Pod struct whose fields mirror, in order,
/// name and type, a WGSL struct of its shader (`tests/shaders.rs`, `dispatches_match_their_shaders`,
/// compares the two layouts).
pub trait Uniform: bytemuck::Pod {
    /// The WGSL struct this one mirrors.
    const WGSL_STRUCT: &'static str;
    /// Every field: name, byte offset and Rust type.
    fn fields() -> Vec<Field>;
}

/// One field of a [`Uniform`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub offset: usize,
    pub ty: &'static str,
}

/// Declares a [`Uniform`] struct (fields `u32`, `i32` or `f32`).
macro_rules! uniform {
    ($(#[$meta:meta])* pub struct $name:ident mirrors $wgsl:literal { $($(#[$fmeta:meta])* pub $field:ident: $ty:ident,)* }) => {
        $(#[$meta])*
        #[repr(C)]
        #[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl $crate::ops::Uniform for $name {
            const WGSL_STRUCT: &'static str = $wgsl;
            fn fields() -> Vec<$crate::ops::Field> {
                vec![$($crate::ops::Field { name: stringify!($field), offset: std::mem::offset_of!($name, $field), ty: stringify!($ty) },)*]
            }
        }
    };
}
pub(crate) use uniform;

uniform! {
    /// Values that change between runs of the same op list: the step, the batch and the step
    /// count. Every kernel that needs them binds them as one small uniform ([`Bind::Step`]), so
    /// one loaded program runs any number of steps up to the one it was built for, without
    /// rebuilding or re-uploading anything. (The targets, one per slot of rows, are a buffer
    /// the host writes: see [`seed_grad`].)
    pub struct StepParams mirrors "Step" {
        /// Index of the step within its direction, 0-based.
        pub step: u32,
        /// Global row of this batch's first row (in the finishing phase: of the first row the
        /// covariance covers).
        pub row0: u32,
        /// Rows of this batch that hold real images (the rest is padding).
        pub rows: u32,
        /// Steps per direction of this run.
        pub steps: u32,
    }
}

impl StepParams {
    /// Step `step` of a batch of `rows` real rows starting at global row `row0`, in a run of
    /// `steps` steps.
    pub fn new(step: usize, row0: usize, rows: usize, steps: usize) -> StepParams {
        StepParams { step: step as u32, row0: row0 as u32, rows: rows as u32, steps: steps as u32 }
    }
}

/// The bytes of an op's [`Uniform`] parameters, with the layout they claim to have.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamBlock {
    pub wgsl_struct: &'static str,
    pub fields: Vec<Field>,
    pub bytes: Vec<u8>,
}

impl ParamBlock {
    pub fn of<U: Uniform>(u: &U) -> ParamBlock {
        ParamBlock { wgsl_struct: U::WGSL_STRUCT, fields: U::fields(), bytes: bytemuck::bytes_of(u).to_vec() }
    }
}

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
    /// The op's constant parameters.
    Params(ParamBlock),
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

/// The f32 buffers the CPU backend works on. Constants (weights) are shared with the program
/// that holds them, never copied; a buffer is copied only if a kernel writes a shared one.
#[derive(Default)]
pub struct CpuMemory {
    bufs: Vec<Arc<Vec<f32>>>,
}

impl CpuMemory {
    pub fn new(bufs: Vec<Arc<Vec<f32>>>) -> CpuMemory {
        CpuMemory { bufs }
    }

    /// Buffer `id`; `None` when there is no such buffer.
    pub fn try_get(&self, id: BufId) -> Option<&[f32]> {
        self.bufs.get(id.0).map(|b| b.as_slice())
    }

    pub fn get(&self, id: BufId) -> &[f32] {
        &self.bufs[id.0]
    }

    /// Buffer `id`, writable.
    pub fn get_mut(&mut self, id: BufId) -> &mut [f32] {
        Arc::make_mut(&mut self.bufs[id.0]).as_mut_slice()
    }

    /// Lends buffer `out` mutably while the others stay readable (an op never reads what it writes,
    /// except through this slice).
    pub fn with_output<R>(&mut self, out: BufId, f: impl FnOnce(&CpuMemory, &mut [f32]) -> R) -> R {
        let mut buf = std::mem::take(&mut self.bufs[out.0]);
        let r = f(self, Arc::make_mut(&mut buf).as_mut_slice());
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
    Affine(affine::Affine),
    Resize(resize::Resize),
    Add(add::Add),
    Binary(binary::Binary),
    Copy(copy::Copy),
    Pad(pad::Pad),
    ConvGeneral(conv_general::ConvGeneral),
    Bilinear(bilinear::Bilinear),
    Pool(pool::Pool),
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
            Op::Affine(k) => k,
            Op::Resize(k) => k,
            Op::Add(k) => k,
            Op::Binary(k) => k,
            Op::Copy(k) => k,
            Op::Pad(k) => k,
            Op::ConvGeneral(k) => k,
            Op::Bilinear(k) => k,
            Op::Pool(k) => k,
        }
    }
}

/// Every shader, for validation and pipeline warm-up: the f16-weight twins last.
pub fn all_shaders() -> [&'static Shader; 17] {
    [
        &conv2d::SHADER,
        &affine::SHADER,
        &add::SHADER,
        &binary::SHADER,
        &copy::SHADER,
        &pad::SHADER,
        &conv_general::SHADER,
        &bilinear::SHADER,
        &pool::SHADER,
        &resize::SHADER,
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

/// Fails unless a data-movement op's epilogue fits it: forward it applies no activation and
/// reads no stored activation; backward with an activation it reads one (`aux`).
pub(crate) fn moves_only(op: &'static str, label: &str, epilogue: act::Epilogue, aux: Option<BufId>) -> Result<(), OpError> {
    let detail = match epilogue {
        act::Epilogue::Forward(a) if a != act::Act::Identity || aux.is_some() => {
            "going forward it applies no activation and reads no stored one"
        }
        act::Epilogue::GradMask(a) if a != act::Act::Identity && aux.is_none() => {
            "a backward epilogue with an activation reads its stored output"
        }
        _ => return Ok(()),
    };
    Err(OpError { op, label: label.to_string(), detail: detail.into() })
}

/// Fails when an op's written buffer `out` is also one of its other buffers.
pub(crate) fn distinct(op: &'static str, label: &str, out: BufId, others: &[Option<BufId>]) -> Result<(), OpError> {
    if others.contains(&Some(out)) {
        return Err(OpError { op, label: label.to_string(), detail: "output buffer aliases an input".into() });
    }
    Ok(())
}
