//! The WGSL backend: every op of a program is one compute dispatch. Buffers, parameter
//! uniforms, pipelines and bind groups are made once in `load`; a phase is then one encoder,
//! one compute pass and one submit.
//!
//! Owns: device buffers, uniforms, recorded dispatches, f16 weight storage, tile policy.
//! Must not touch: models, the probe's batching, statistics.

pub mod context;
mod prepare;
pub mod tiles;
mod timing;
pub mod weights;

use std::collections::HashMap;

pub use context::{BackendChoice, GpuContext, LimitsChoice};

use super::{AdapterIdentity, Backend, BackendError, DeviceTimer, DeviceTimes, MemoryLimits, Uploads, WeightPrecision};
use crate::ops::tiling::{Tile, WorkgroupLimits};
use crate::ops::{BufId, StepParams};
use crate::program::{PHASES, Phase, Program};
use prepare::Prepared;
use timing::Queries;

/// Why the GPU could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no {backend} adapter{} found (adapters seen: {available})", filter.as_ref().map(|f| format!(" matching '{f}'")).unwrap_or_default())]
    NoAdapter { backend: &'static str, filter: Option<String>, available: String },
    #[error("cannot open a device on {adapter}: {detail}")]
    Device { adapter: String, detail: String },
    #[error("buffer {label} needs {bytes} bytes, more than this adapter's limit of {limit}")]
    TooLarge { label: String, bytes: u64, limit: u64 },
    #[error("wgpu reported an error: {0}")]
    Validation(String),
    #[error("reading a buffer back failed: {0}")]
    Map(String),
    #[error("timing {ops} ops needs {queries} timestamp queries, more than the {max} a query set holds")]
    TooManyQueries { ops: usize, queries: u32, max: u32 },
    #[error(
        "{kernel}: no tile fits this adapter's workgroups ({} bytes of workgroup memory, {} invocations)",
        limits.storage_bytes,
        limits.invocations.min(limits.size_x)
    )]
    NoTile { kernel: &'static str, limits: WorkgroupLimits },
    #[error(
        "{adapter} cannot read f16 weights: its shaders lack unpack2x16float (wgpu's downlevel flag SHADER_F16_IN_F32, which llvmpipe has only with the shader-f16 feature); keep the weights in f32"
    )]
    NoF16Weights { adapter: String },
    #[error("{label}: value {value} at index {index} is beyond the range of f16 (65504); keep these weights in f32")]
    F16Range { label: String, index: usize, value: f32 },
    #[error("{label} holds f16 values packed two to a word; a write of {given} values must cover whole words or the whole buffer")]
    PackedWrite { label: String, given: usize },
}

/// One buffer of the loaded program.
struct Held {
    buffer: wgpu::Buffer,
    /// Bytes allocated.
    bytes: u64,
    /// Values it holds (f32, or f16 when `f16`).
    len: usize,
    /// Stored as packed f16 ([`weights`]).
    f16: bool,
}

pub struct GpuBackend {
    pub ctx: GpuContext,
    buffers: Vec<Held>,
    labels: Vec<String>,
    phases: HashMap<Phase, Vec<Prepared>>,
    step: wgpu::Buffer,
    placeholder: wgpu::Buffer,
    timer: Option<DeviceTimer>,
    queries: Option<Queries>,
    /// The most bytes of buffers held at once.
    peak_bytes: u64,
    /// Run every tiled kernel with this tile instead of the one [`crate::ops::tiling::choose`] picks (for
    /// tests and tile comparisons); it must fit the adapter all the same.
    pub force_tile: Option<Tile>,
    /// How the convolution weights of the next programs loaded are stored ([`weights`]).
    pub weights: WeightPrecision,
    uploads: Uploads,
    /// The memory budget, when set instead of the default ([`GpuBackend::default_budget`]).
    budget: Option<u64>,
}

impl GpuBackend {
    pub fn new(ctx: GpuContext) -> Self {
        let uniform = |label: &str, size: u64, usage: wgpu::BufferUsages| {
            ctx.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size, usage, mapped_at_creation: false })
        };
        let step =
            uniform("step params", std::mem::size_of::<StepParams>() as u64, wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST);
        let placeholder = uniform("unused input", 16, wgpu::BufferUsages::STORAGE);
        // Timestamps only where the device was opened with them and the queue has a clock.
        let f = ctx.features;
        let clock = ctx.queue.get_timestamp_period() > 0.0;
        let timer = if !f.contains(wgpu::Features::TIMESTAMP_QUERY) || !clock {
            None
        } else if f.contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES) {
            Some(DeviceTimer::InsidePasses)
        } else {
            Some(DeviceTimer::PerPass)
        };
        GpuBackend {
            ctx,
            buffers: Vec::new(),
            labels: Vec::new(),
            phases: HashMap::new(),
            step,
            placeholder,
            timer,
            queries: None,
            peak_bytes: 32,
            force_tile: None,
            weights: WeightPrecision::F32,
            uploads: Uploads::default(),
            budget: None,
        }
    }

    /// A software adapter's buffers are host memory ([`crate::backend::host_budget`]); a
    /// hardware GPU's budget follows its limits ([`crate::backend::device_budget`]).
    pub fn default_budget(&self) -> u64 {
        match self.ctx.info.device_type {
            wgpu::DeviceType::Cpu => crate::backend::host_budget(),
            _ => crate::backend::device_budget(&self.ctx.limits),
        }
    }

    /// Opens the adapter that `choice` and `filter` pick, with timestamp queries where it
    /// has them (for `bench`).
    pub fn open_timed(choice: BackendChoice, filter: Option<&str>) -> Result<Self, GpuError> {
        let adapter = context::pick_adapter(choice, filter)?;
        Ok(GpuBackend::new(GpuContext::with_features(adapter, context::TIMESTAMP_FEATURES)?))
    }

    /// This backend, storing the convolution weights of the programs it loads as `precision`.
    pub fn with_weights(mut self, precision: WeightPrecision) -> Self {
        self.weights = precision;
        self
    }

    /// Bytes of the buffers held now.
    fn held_bytes(&self) -> u64 {
        let programs: u64 = self.buffers.iter().map(|h| h.bytes.next_multiple_of(4)).sum();
        let uniforms: u64 = self.phases.values().flatten().map(|p| p.uniform_bytes).sum();
        let queries = self.queries.as_ref().map_or(0, |q| q.count as u64 * 8);
        programs + uniforms + queries + 32
    }

    /// Opens the adapter that `choice` and `filter` pick.
    pub fn open(choice: BackendChoice, filter: Option<&str>) -> Result<Self, GpuError> {
        let adapter = context::pick_adapter(choice, filter)?;
        Ok(GpuBackend::new(GpuContext::new(adapter)?))
    }

    /// The tile of every tiled dispatch of the loaded program, by bind-group label
    /// (`kernel -> output buffer`), in program order.
    pub fn chosen_tiles(&self) -> Vec<(String, Tile)> {
        PHASES.iter().filter_map(|p| self.phases.get(p)).flatten().filter_map(|op| op.tile.clone()).collect()
    }
}

impl GpuBackend {
    /// One encoder, one compute pass, one submit: ops `range` of `phase`.
    fn submit(&mut self, phase: Phase, range: std::ops::Range<usize>, params: StepParams) -> Result<(), BackendError> {
        let ops = self.phases.get(&phase).and_then(|ops| ops.get(range)).ok_or(BackendError::NotLoaded)?;
        if ops.is_empty() {
            return Ok(());
        }
        self.ctx.queue.write_buffer(&self.step, 0, bytemuck::bytes_of(&params));
        let mut encoder = self.ctx.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("probe phase") });
        {
            let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some("probe phase"), timestamp_writes: None });
            for op in ops {
                pass.set_pipeline(&op.pipeline.pipeline);
                pass.set_bind_group(0, &op.bind_group, &[]);
                pass.dispatch_workgroups(op.groups.0, op.groups.1, 1);
            }
        }
        self.ctx.queue.submit([encoder.finish()]);
        Ok(())
    }
}

impl Backend for GpuBackend {
    fn uploads(&self) -> Uploads {
        self.uploads
    }

    fn describe(&self) -> String {
        context::describe(&self.ctx.info)
    }

    fn identity(&self) -> AdapterIdentity {
        context::identity(&self.ctx.info)
    }

    fn buffer_bytes(&self) -> u64 {
        self.peak_bytes
    }

    fn weight_precision(&self) -> WeightPrecision {
        self.weights
    }

    fn device_timer(&self) -> Option<DeviceTimer> {
        self.timer
    }

    fn run_timed(&mut self, phase: Phase, range: std::ops::Range<usize>, params: StepParams) -> Result<DeviceTimes, BackendError> {
        self.submit_timed(phase, range, params)
    }

    fn limits(&self) -> MemoryLimits {
        let l = &self.ctx.limits;
        let budget_bytes = self.budget.unwrap_or_else(|| self.default_budget());
        MemoryLimits { max_buffer_bytes: l.max_buffer_size.min(l.max_storage_buffer_binding_size), budget_bytes }
    }

    fn set_memory_budget(&mut self, bytes: u64) {
        self.budget = Some(bytes);
    }

    fn load(&mut self, program: &Program) -> Result<(), BackendError> {
        program.validate()?;
        let max = self.limits().max_buffer_bytes;
        self.phases.clear();
        self.buffers.clear();
        self.labels = program.buffers.iter().map(|b| b.label.clone()).collect();
        let packed = weights::packed_buffers(program, self.weights);
        if packed.contains(&true) {
            weights::check_support(&self.ctx.info.name, self.ctx.downlevel)?;
        }
        for (spec, &f16) in program.buffers.iter().zip(&packed) {
            let bytes = if f16 { weights::packed_bytes(spec.len) } else { (spec.len as u64 * 4).max(4) };
            if bytes > max {
                return Err(GpuError::TooLarge { label: spec.label.clone(), bytes, limit: max }.into());
            }
            let buffer = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&spec.label),
                size: bytes.next_multiple_of(4),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            match (&spec.init, f16) {
                (Some(data), true) => self.ctx.queue.write_buffer(&buffer, 0, bytemuck::cast_slice(&weights::pack(&spec.label, data)?)),
                (Some(data), false) => self.ctx.queue.write_buffer(&buffer, 0, bytemuck::cast_slice(data.as_slice())),
                (None, _) => {}
            }
            if spec.init.is_some() {
                self.uploads.constant_bytes += bytes;
            }
            self.buffers.push(Held { buffer, bytes, len: spec.len, f16 });
        }
        let saved: u64 =
            program.buffers.iter().zip(&packed).filter(|(_, p)| **p).map(|(b, _)| b.len as u64 * 4 - weights::packed_bytes(b.len)).sum();
        if saved > 0 {
            log::info!("weights stored as f16: {} buffer(s), {saved} bytes fewer than f32", packed.iter().filter(|p| **p).count());
        }
        for phase in PHASES {
            let prepared = program.ops(phase).iter().map(|op| self.prepare(program, op.kernel().dispatch())).collect::<Result<_, _>>()?;
            self.phases.insert(phase, prepared);
        }
        self.peak_bytes = self.peak_bytes.max(self.held_bytes());
        self.uploads.loads += 1;
        self.ctx.check_errors()?;
        Ok(())
    }

    fn write(&mut self, id: BufId, data: &[f32]) -> Result<(), BackendError> {
        let held = self.buffers.get(id.0).ok_or(BackendError::NotLoaded)?;
        let label = &self.labels[id.0];
        let room = (held.bytes / if held.f16 { 2 } else { 4 }) as usize;
        if data.len() > room {
            return Err(BackendError::Write { label: label.clone(), len: room, given: data.len() });
        }
        if held.f16 && data.len() % 2 == 1 && data.len() < held.len {
            return Err(GpuError::PackedWrite { label: label.clone(), given: data.len() }.into());
        }
        if data.is_empty() {
            return Ok(());
        }
        let bytes = if held.f16 {
            let packed = weights::pack(label, data)?;
            self.ctx.queue.write_buffer(&held.buffer, 0, bytemuck::cast_slice(&packed));
            packed.len() as u64 * 4
        } else {
            self.ctx.queue.write_buffer(&held.buffer, 0, bytemuck::cast_slice(data));
            data.len() as u64 * 4
        };
        self.uploads.writes += 1;
        self.uploads.written_bytes += bytes;
        Ok(())
    }

    fn run(&mut self, phase: Phase, params: StepParams) -> Result<(), BackendError> {
        let count = self.phases.get(&phase).ok_or(BackendError::NotLoaded)?.len();
        self.submit(phase, 0..count, params)
    }

    fn run_one(&mut self, phase: Phase, index: usize, params: StepParams) -> Result<(), BackendError> {
        self.submit(phase, index..index + 1, params)
    }

    fn wait(&mut self) -> Result<(), BackendError> {
        self.ctx.device.poll(wgpu::PollType::Wait { submission_index: None, timeout: None }).map_err(|e| GpuError::Map(e.to_string()))?;
        Ok(self.ctx.check_errors()?)
    }

    fn read(&mut self, id: BufId) -> Result<Vec<f32>, BackendError> {
        let held = self.buffers.get(id.0).ok_or(BackendError::NotLoaded)?;
        if held.f16 {
            let words: Vec<u32> = bytemuck::pod_collect_to_vec(&self.ctx.read_bytes(&held.buffer, held.bytes)?);
            return Ok(weights::unpack(&words, held.len));
        }
        Ok(self.ctx.read_buffer(&held.buffer, held.bytes)?)
    }
}
