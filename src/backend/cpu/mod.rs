//! The CPU backend: every op's plain-Rust twin, run in program order, the reference the WGSL
//! kernels are tested against; or ([`CpuBackend::fast`], the fallback where no GPU exists)
//! the same ops with the convolutions on the `fast` path: matrix products on all cores.
//!
//! Owns: the CPU memory of a loaded program, shared constants, which ops take the fast path.
//! Must not touch: wgpu, models.

pub(crate) mod fast;

use std::sync::Arc;

use super::{AdapterIdentity, Backend, BackendError, MemoryLimits, Uploads};
use crate::ops::{BufId, CpuMemory, Op, StepParams};
use crate::program::{Phase, Program};

pub struct CpuBackend {
    program: Option<Program>,
    mem: CpuMemory,
    fast: bool,
    /// The most bytes the program buffers have taken at once.
    peak_bytes: u64,
    uploads: Uploads,
    /// The memory budget, when set instead of [`super::host_budget`].
    budget: Option<u64>,
}

impl CpuBackend {
    /// The reference: every op's plain loops, in its shader's order, on one thread.
    pub fn new() -> Self {
        CpuBackend { program: None, mem: CpuMemory::default(), fast: false, peak_bytes: 0, uploads: Uploads::default(), budget: None }
    }

    /// The fast path: convolutions as matrix products over all cores.
    pub fn fast() -> Self {
        CpuBackend { fast: true, ..Self::new() }
    }
}

impl CpuBackend {
    /// Runs ops `range` of `phase`, with the fast path or the reference loops.
    fn execute(&mut self, phase: Phase, range: std::ops::Range<usize>, params: StepParams) -> Result<(), BackendError> {
        let program = self.program.as_ref().ok_or(BackendError::NotLoaded)?;
        for op in program.ops(phase).get(range).ok_or(BackendError::NotLoaded)? {
            match op {
                Op::Conv2d(conv) if self.fast => fast::run(&conv.0, fast::Form::Conv, &mut self.mem),
                Op::ConvTranspose2d(conv) if self.fast => fast::run(&conv.0, fast::Form::Transpose, &mut self.mem),
                Op::Resize(r) if self.fast => fast::resize::run(r, &mut self.mem, fast::sgemm::threads()),
                _ => op.kernel().run_cpu(&mut self.mem, params),
            }
        }
        Ok(())
    }
}

impl Default for CpuBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl Backend for CpuBackend {
    fn uploads(&self) -> Uploads {
        self.uploads
    }

    fn describe(&self) -> String {
        if self.fast { "cpu (matrix products on all cores)".into() } else { "cpu (plain Rust reference loops)".into() }
    }

    fn identity(&self) -> AdapterIdentity {
        let (model, vendor) = crate::host::cpu_model();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        AdapterIdentity {
            name: model.unwrap_or_else(|| "cpu".into()),
            backend: if self.fast { "cpu" } else { "cpu-reference" }.into(),
            device_type: "Cpu".into(),
            vendor_id: 0,
            vendor_name: vendor.unwrap_or_default(),
            device_id: 0,
            driver: concat!("gan-bias ", env!("CARGO_PKG_VERSION")).into(),
            driver_info: if self.fast {
                format!("matrix products on {threads} thread(s), {}", std::env::consts::ARCH)
            } else {
                format!("plain Rust reference loops on 1 thread, {}", std::env::consts::ARCH)
            },
        }
    }

    fn buffer_bytes(&self) -> u64 {
        self.peak_bytes
    }

    fn limits(&self) -> MemoryLimits {
        MemoryLimits { max_buffer_bytes: 1 << 32, budget_bytes: self.budget.unwrap_or_else(super::host_budget) }
    }

    fn set_memory_budget(&mut self, bytes: u64) {
        self.budget = Some(bytes);
    }

    fn load(&mut self, program: &Program) -> Result<(), BackendError> {
        program.validate()?;
        // Constants are shared with the program, not copied: "uploading" them is free here,
        // but counted as a GPU backend would count it.
        self.mem = CpuMemory::new(
            program
                .buffers
                .iter()
                .map(|b| match &b.init {
                    Some(data) => Arc::clone(data),
                    None => Arc::new(vec![0.0; b.len]),
                })
                .collect(),
        );
        self.peak_bytes = self.peak_bytes.max(program.bytes());
        self.uploads.loads += 1;
        self.uploads.constant_bytes += program.constant_bytes();
        self.program = Some(program.clone());
        Ok(())
    }

    fn write(&mut self, id: BufId, data: &[f32]) -> Result<(), BackendError> {
        let program = self.program.as_ref().ok_or(BackendError::NotLoaded)?;
        let len = self.mem.try_get(id).ok_or(BackendError::NotLoaded)?.len();
        if data.len() > len {
            return Err(BackendError::Write { label: program.buffers[id.0].label.clone(), len, given: data.len() });
        }
        self.mem.get_mut(id)[..data.len()].copy_from_slice(data);
        self.uploads.writes += 1;
        self.uploads.written_bytes += data.len() as u64 * 4;
        Ok(())
    }

    fn run(&mut self, phase: Phase, params: StepParams) -> Result<(), BackendError> {
        let count = self.program.as_ref().ok_or(BackendError::NotLoaded)?.ops(phase).len();
        self.execute(phase, 0..count, params)
    }

    fn run_one(&mut self, phase: Phase, index: usize, params: StepParams) -> Result<(), BackendError> {
        self.execute(phase, index..index + 1, params)
    }

    fn read(&mut self, id: BufId) -> Result<Vec<f32>, BackendError> {
        self.program.as_ref().ok_or(BackendError::NotLoaded)?;
        self.mem.try_get(id).map(<[f32]>::to_vec).ok_or(BackendError::NotLoaded)
    }
}
