//! The WGSL backend: every op of a program is one compute dispatch. Buffers, parameter
//! uniforms, pipelines and bind groups are made once in `load`; a phase is then one encoder,
//! one compute pass and one submit.

pub mod context;

use std::collections::HashMap;
use std::sync::Arc;

pub use context::{BackendChoice, GpuContext};

use super::{Backend, BackendError, BufId, MemoryLimits, PHASES, Phase, Program, StepParams};
use crate::ops::tiling::{self, Tile, WorkgroupLimits};
use crate::ops::{Bind, Work};

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
    #[error(
        "{kernel}: no tile fits this adapter's workgroups ({} bytes of workgroup memory, {} invocations)",
        limits.storage_bytes,
        limits.invocations.min(limits.size_x)
    )]
    NoTile { kernel: &'static str, limits: WorkgroupLimits },
}

/// A recorded dispatch: pipeline, bind group and workgroup counts.
struct Prepared {
    pipeline: Arc<context::Pipeline>,
    bind_group: wgpu::BindGroup,
    groups: (u32, u32),
}

pub struct GpuBackend {
    pub ctx: GpuContext,
    buffers: Vec<(wgpu::Buffer, u64)>,
    labels: Vec<String>,
    phases: HashMap<Phase, Vec<Prepared>>,
    step: wgpu::Buffer,
    placeholder: wgpu::Buffer,
    /// Run every tiled kernel with this tile instead of the one [`tiling::choose`] picks (for
    /// tests and tile comparisons); it must fit the adapter all the same.
    pub force_tile: Option<Tile>,
}

/// Workgroup width of every kernel run as [`Work::Items`] (`@workgroup_size(64)`).
const WORKGROUP: u64 = 64;

/// Workgroup counts for `groups` workgroups, spilling into y past the per-dimension limit.
fn groups_for(groups: u64, max_per_dim: u32) -> (u32, u32) {
    let groups = groups.max(1);
    let x = groups.min(max_per_dim as u64);
    (x as u32, groups.div_ceil(x) as u32)
}

impl GpuBackend {
    pub fn new(ctx: GpuContext) -> Self {
        let uniform = |label: &str, size: u64, usage: wgpu::BufferUsages| {
            ctx.device.create_buffer(&wgpu::BufferDescriptor { label: Some(label), size, usage, mapped_at_creation: false })
        };
        let step = uniform("step params", 16, wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST);
        let placeholder = uniform("unused input", 16, wgpu::BufferUsages::STORAGE);
        GpuBackend { ctx, buffers: Vec::new(), labels: Vec::new(), phases: HashMap::new(), step, placeholder, force_tile: None }
    }

    /// Opens the adapter that `choice` and `filter` pick.
    pub fn open(choice: BackendChoice, filter: Option<&str>) -> Result<Self, GpuError> {
        let adapter = context::pick_adapter(choice, filter)?;
        Ok(GpuBackend::new(GpuContext::new(adapter)?))
    }

    fn prepare(&self, program: &Program, dispatch: crate::ops::Dispatch) -> Result<Prepared, GpuError> {
        let device = &self.ctx.device;
        let (groups, constants) = match dispatch.work {
            Work::Items(n) => (n.div_ceil(WORKGROUP), Vec::new()),
            Work::Tiled(gemm) => {
                let limits = WorkgroupLimits::from(&self.ctx.limits);
                let tile = match self.force_tile {
                    Some(t) => Some(t).filter(|t| t.fits(&limits)),
                    None => tiling::choose(&gemm, &limits),
                };
                let tile = tile.ok_or(GpuError::NoTile { kernel: dispatch.shader.name, limits })?;
                log::debug!(
                    "{}: {gemm:?} in {}x{}x{} tiles, {} workgroups",
                    program_label(program, &dispatch),
                    tile.tm,
                    tile.tn,
                    tile.tk,
                    tile.workgroups(&gemm)
                );
                (tile.workgroups(&gemm), tile.constants())
            }
        };
        let pipeline = self.ctx.pipeline(dispatch.shader, dispatch.entry, &dispatch.binds, &constants);
        // Parameter uniforms live as long as the bind group that holds them.
        let uniforms: Vec<Option<wgpu::Buffer>> = dispatch
            .binds
            .iter()
            .map(|b| match b {
                Bind::Params(words) => {
                    let buf = device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some(dispatch.shader.name),
                        size: (words.len() as u64 * 4).next_multiple_of(16),
                        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                        mapped_at_creation: false,
                    });
                    self.ctx.queue.write_buffer(&buf, 0, bytemuck::cast_slice(words));
                    Some(buf)
                }
                _ => None,
            })
            .collect();
        let entries: Vec<wgpu::BindGroupEntry> = dispatch
            .binds
            .iter()
            .zip(&uniforms)
            .enumerate()
            .map(|(i, (b, u))| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: match b {
                    Bind::Params(_) => u.as_ref().map(|u| u.as_entire_binding()).unwrap_or_else(|| self.step.as_entire_binding()),
                    Bind::Step => self.step.as_entire_binding(),
                    Bind::Read(None) => self.placeholder.as_entire_binding(),
                    Bind::Read(Some(id)) | Bind::Write(id) => self.buffers[id.0].0.as_entire_binding(),
                },
            })
            .collect();
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(&program_label(program, &dispatch)),
            layout: &pipeline.layout,
            entries: &entries,
        });
        Ok(Prepared { pipeline, bind_group, groups: groups_for(groups, self.ctx.limits.max_compute_workgroups_per_dimension) })
    }
}

/// A bind group's label: the kernel and the buffer it writes.
fn program_label(program: &Program, dispatch: &crate::ops::Dispatch) -> String {
    let out = dispatch.binds.iter().rev().find_map(|b| match b {
        Bind::Write(id) => Some(program.buffers[id.0].label.as_str()),
        _ => None,
    });
    format!("{} -> {}", dispatch.shader.name, out.unwrap_or("?"))
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
    fn describe(&self) -> String {
        context::describe(&self.ctx.info)
    }

    fn limits(&self) -> MemoryLimits {
        let l = &self.ctx.limits;
        MemoryLimits { max_buffer_bytes: l.max_buffer_size.min(l.max_storage_buffer_binding_size), budget_bytes: 1 << 30 }
    }

    fn load(&mut self, program: &Program) -> Result<(), BackendError> {
        program.validate()?;
        let max = self.limits().max_buffer_bytes;
        self.phases.clear();
        self.buffers.clear();
        self.labels = program.buffers.iter().map(|b| b.label.clone()).collect();
        for spec in &program.buffers {
            let bytes = (spec.len as u64 * 4).max(4);
            if bytes > max {
                return Err(GpuError::TooLarge { label: spec.label.clone(), bytes, limit: max }.into());
            }
            let buffer = self.ctx.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&spec.label),
                size: bytes.next_multiple_of(4),
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            if let Some(data) = &spec.init {
                self.ctx.queue.write_buffer(&buffer, 0, bytemuck::cast_slice(data.as_slice()));
            }
            self.buffers.push((buffer, bytes));
        }
        for phase in PHASES {
            let prepared = program.ops(phase).iter().map(|op| self.prepare(program, op.kernel().dispatch())).collect::<Result<_, _>>()?;
            self.phases.insert(phase, prepared);
        }
        self.ctx.check_errors()?;
        Ok(())
    }

    fn write(&mut self, id: BufId, data: &[f32]) -> Result<(), BackendError> {
        let (buffer, bytes) = &self.buffers[id.0];
        if data.len() as u64 * 4 > *bytes {
            return Err(BackendError::Write { label: self.labels[id.0].clone(), len: (*bytes / 4) as usize, given: data.len() });
        }
        if !data.is_empty() {
            self.ctx.queue.write_buffer(buffer, 0, bytemuck::cast_slice(data));
        }
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
        let (buffer, bytes) = self.buffers.get(id.0).ok_or(BackendError::NotLoaded)?;
        Ok(self.ctx.read_buffer(buffer, *bytes)?)
    }
}
