//! Where programs run: a [`Program`] (buffers + op lists) executed by a [`Backend`].
//!
//! The probe is written once, as a program of ops over numbered f32 buffers, and each backend
//! executes it: [`cpu::CpuBackend`] loops over the ops in plain Rust (the reference every
//! shader is tested against), [`gpu::GpuBackend`] turns every op into one WGSL dispatch, with
//! all buffers, pipelines and bind groups made once in [`Backend::load`].
//!
//! Owns: devices, buffers, dispatch, timing, what a backend has uploaded. Must not touch:
//! models, the probe's batching, statistics, the command line.

pub mod cpu;
pub mod gpu;
mod open;

pub use open::{auto_adapter, open};

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::ops::OpError;
pub use crate::ops::{BufId, StepParams};
pub use crate::program::{BufSpec, PHASES, Phase, Program};

/// How a backend stores the convolution weights. Accumulation and activations are f32 either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeightPrecision {
    /// f32, as loaded (every backend).
    #[default]
    F32,
    /// Rounded to f16 (round to nearest even) and stored packed, two to a 32-bit word,
    /// widened back to f32 as the kernels stage them (GPU backend only).
    F16,
}

impl WeightPrecision {
    pub fn name(self) -> &'static str {
        match self {
            WeightPrecision::F32 => "f32",
            WeightPrecision::F16 => "f16",
        }
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
    #[error("this backend has no device timer (timestamp queries were not enabled)")]
    NoTimer,
    #[error(
        "--weights-{weights} applies to the WGSL kernels only; the CPU backend keeps f32 weights (use --backend vulkan, metal, dx12 or gl)"
    )]
    WeightsOnCpu { weights: &'static str },
}

/// Who ran a program: enough to tell adapters and machines apart when runs are merged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterIdentity {
    /// The adapter's name (for the CPU backend, the host's CPU model).
    pub name: String,
    /// `Vulkan`, `Metal`, `Dx12`, `Gl`, or `cpu` / `cpu-reference` for the CPU backends.
    pub backend: String,
    /// `DiscreteGpu`, `IntegratedGpu`, `VirtualGpu`, `Cpu` or `Other`.
    pub device_type: String,
    /// PCI vendor id (Vulkan: a superset of PCI ids); 0 where there is none.
    pub vendor_id: u32,
    pub vendor_name: String,
    /// PCI device id; 0 where there is none.
    pub device_id: u32,
    pub driver: String,
    pub driver_info: String,
}

impl AdapterIdentity {
    /// A short label: name and backend.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.backend)
    }

    /// Everything on one line.
    pub fn describe(&self) -> String {
        let driver: Vec<&str> = [self.driver.as_str(), self.driver_info.as_str()].into_iter().filter(|s| !s.is_empty()).collect();
        format!(
            "{}: {}, {}, vendor {:#06x} {}, device {:#06x}{}",
            self.name,
            self.backend,
            self.device_type,
            self.vendor_id,
            if self.vendor_name.is_empty() { "unknown vendor" } else { &self.vendor_name },
            self.device_id,
            if driver.is_empty() { String::new() } else { format!(", driver {}", driver.join(", ")) }
        )
    }
}

/// How a backend times work on the device itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceTimer {
    /// Timestamps inside one compute pass: one before the first dispatch, one after each.
    InsidePasses,
    /// One compute pass per op, with timestamps written at its start and its end.
    PerPass,
}

/// What [`Backend::run_timed`] measured, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceTimes {
    /// Device time of each op of the range.
    pub ops: Vec<f64>,
    /// Device time from the start of the first op to the end of the last.
    pub total: f64,
    /// Wall clock around submit and wait (not the readback of the timestamps).
    pub wall: f64,
}

/// Size limits a program must respect on a backend.
#[derive(Debug, Clone, Copy)]
pub struct MemoryLimits {
    /// Largest single buffer, in bytes.
    pub max_buffer_bytes: u64,
    /// What all buffers of one program may take together, in bytes.
    pub budget_bytes: u64,
}

/// The smallest memory budget a backend plans with by default.
const MIN_BUDGET: u64 = 256 << 20;

/// The default budget of a backend whose buffers live in host memory (the CPU backend, a
/// software adapter): half of what the system says it can give without swapping, at least
/// 256 MiB; 2 GiB where it does not say.
pub fn host_budget() -> u64 {
    crate::host::available_bytes().map_or(2 << 30, |a| (a / 2).max(MIN_BUDGET))
}

/// The default budget of a hardware GPU, from its limits (wgpu reports no memory size): four
/// of its largest storage bindings, at least 256 MiB and at most 4 GiB.
pub fn device_budget(limits: &wgpu::Limits) -> u64 {
    limits.max_storage_buffer_binding_size.saturating_mul(4).clamp(MIN_BUDGET, 4 << 30)
}

/// What a backend has moved from the host to its buffers, counted since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Uploads {
    /// Programs loaded.
    pub loads: u64,
    /// Bytes of constants (weights) uploaded by those loads.
    pub constant_bytes: u64,
    /// Calls of [`Backend::write`].
    pub writes: u64,
    /// Bytes those writes moved.
    pub written_bytes: u64,
}

/// Something that runs programs.
pub trait Backend {
    /// What this backend has uploaded so far.
    fn uploads(&self) -> Uploads;
    /// A one-line description: adapter name, backend, device type.
    fn describe(&self) -> String;
    /// Name, backend, vendor, device and driver of what runs the kernels.
    fn identity(&self) -> AdapterIdentity;
    /// The most bytes of buffers this backend has held for programs at once (device memory
    /// on a GPU, host memory on the CPU backend).
    fn buffer_bytes(&self) -> u64;
    /// How this backend stores the convolution weights of the programs it loads.
    fn weight_precision(&self) -> WeightPrecision {
        WeightPrecision::F32
    }
    /// How this backend can time ops on the device, if it can.
    fn device_timer(&self) -> Option<DeviceTimer> {
        None
    }
    /// Runs ops `range` of `phase` as [`Backend::run`] would, waits, and returns their device
    /// times; fails with [`BackendError::NoTimer`] where [`Backend::device_timer`] is `None`.
    fn run_timed(&mut self, phase: Phase, range: Range<usize>, params: StepParams) -> Result<DeviceTimes, BackendError> {
        let _ = (phase, range, params);
        Err(BackendError::NoTimer)
    }
    fn limits(&self) -> MemoryLimits;
    /// Plans programs within `bytes` of buffers instead of the backend's default budget
    /// (`--memory-budget`).
    fn set_memory_budget(&mut self, bytes: u64);
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
