//! Where the ops run: a [`Program`] (buffers + op lists) executed by a [`Backend`].
//!
//! The probe is written once, as a program of ops over numbered f32 buffers, and each backend
//! executes it: [`cpu::CpuBackend`] loops over the ops in plain Rust (the reference every
//! shader is tested against), [`gpu::GpuBackend`] turns every op into one WGSL dispatch, with
//! all buffers, pipelines and bind groups made once in [`Backend::load`].

pub mod cpu;
pub mod gpu;

use std::sync::Arc;

use crate::ops::{Op, OpError};

/// Index of a buffer in a [`Program`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BufId(pub usize);

/// One f32 buffer of a program; `init` holds the contents of constant buffers (weights).
#[derive(Debug, Clone)]
pub struct BufSpec {
    pub label: String,
    pub len: usize,
    pub init: Option<Arc<Vec<f32>>>,
}

/// When a list of ops runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Once per batch, before the steps (the seed gradient).
    Setup,
    /// Once per probe step: forward, record, backward, noise update.
    Step,
    /// Once per run, after every batch (the covariance).
    Finish,
}

pub const PHASES: [Phase; 3] = [Phase::Setup, Phase::Step, Phase::Finish];

/// Values that change between runs of the same op list; every kernel that needs them
/// binds them as one small uniform.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct StepParams {
    /// Index of the step within its direction, 0-based.
    pub step: u32,
    /// Global row (image within the doubled batch) of this batch's first row.
    pub row0: u32,
    /// Rows of this batch that hold real images (the rest is padding).
    pub rows: u32,
    pub _pad: u32,
}

/// Buffers and the op list of each phase.
#[derive(Debug, Clone, Default)]
pub struct Program {
    pub buffers: Vec<BufSpec>,
    pub phases: Vec<(Phase, Vec<Op>)>,
}

impl Program {
    pub fn buffer(&mut self, label: impl Into<String>, len: usize) -> BufId {
        self.buffers.push(BufSpec { label: label.into(), len, init: None });
        BufId(self.buffers.len() - 1)
    }

    pub fn constant(&mut self, label: impl Into<String>, data: Vec<f32>) -> BufId {
        self.buffers.push(BufSpec { label: label.into(), len: data.len(), init: Some(Arc::new(data)) });
        BufId(self.buffers.len() - 1)
    }

    pub fn push(&mut self, phase: Phase, op: Op) {
        match self.phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, ops)) => ops.push(op),
            None => self.phases.push((phase, vec![op])),
        }
    }

    pub fn ops(&self, phase: Phase) -> &[Op] {
        self.phases.iter().find(|(p, _)| *p == phase).map(|(_, o)| o.as_slice()).unwrap_or(&[])
    }

    pub fn len(&self, id: BufId) -> usize {
        self.buffers[id.0].len
    }

    /// Checks every op's shapes against its buffers before anything is recorded.
    pub fn validate(&self) -> Result<(), OpError> {
        for (_, ops) in &self.phases {
            for op in ops {
                op.kernel().check(&|id: BufId| self.buffers[id.0].len)?;
            }
        }
        Ok(())
    }

    /// Bytes of all buffers.
    pub fn bytes(&self) -> u64 {
        self.buffers.iter().map(|b| b.len as u64 * 4).sum()
    }
}

/// Why a backend could not run a program.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Op(#[from] OpError),
    #[error(transparent)]
    Gpu(#[from] gpu::GpuError),
    #[error("buffer {label} holds {len} floats, cannot write {given}")]
    Write { label: String, len: usize, given: usize },
    #[error("no program is loaded")]
    NotLoaded,
}

/// Size limits a program must respect on a backend.
#[derive(Debug, Clone, Copy)]
pub struct MemoryLimits {
    /// Largest single buffer, in bytes.
    pub max_buffer_bytes: u64,
    /// What all buffers of one program may take together, in bytes.
    pub budget_bytes: u64,
}

/// Something that runs programs.
pub trait Backend {
    /// A one-line description: adapter name, backend, device type.
    fn describe(&self) -> String;
    fn limits(&self) -> MemoryLimits;
    /// Allocates the program's buffers (uploading constants) and prepares its ops.
    fn load(&mut self, program: &Program) -> Result<(), BackendError>;
    /// Overwrites the start of buffer `id` with `data`.
    fn write(&mut self, id: BufId, data: &[f32]) -> Result<(), BackendError>;
    /// Runs the ops of `phase` in order.
    fn run(&mut self, phase: Phase, params: StepParams) -> Result<(), BackendError>;
    /// Runs only op `index` of `phase` (for timing one kernel).
    fn run_one(&mut self, phase: Phase, index: usize, params: StepParams) -> Result<(), BackendError>;
    /// Waits for all work submitted so far.
    fn wait(&mut self) -> Result<(), BackendError> {
        Ok(())
    }
    /// Reads buffer `id` back, waiting for all work submitted so far.
    fn read(&mut self, id: BufId) -> Result<Vec<f32>, BackendError>;
}
