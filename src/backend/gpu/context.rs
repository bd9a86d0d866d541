//! One GPU context: adapter, device, queue, a pipeline cache keyed by shader, entry point and
//! specialisation (the values of the shader's `override` constants), and the one readback
//! helper.
//!
//! Owns: adapter choice, device, queue, pipelines, readback. Must not touch: programs' buffers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::GpuError;
use crate::ops::{Bind, Shader};

/// Which wgpu backends to look at. (The command line's `--backend` values convert into it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    /// A hardware GPU on any backend, else the CPU backend (faster than a software rasteriser).
    Auto,
    Vulkan,
    Metal,
    Dx12,
    Gl,
    /// The plain-Rust CPU backend (no adapter).
    Cpu,
}

impl BackendChoice {
    pub fn wgpu_backends(self) -> wgpu::Backends {
        match self {
            BackendChoice::Auto => wgpu::Backends::all(),
            BackendChoice::Vulkan => wgpu::Backends::VULKAN,
            BackendChoice::Metal => wgpu::Backends::METAL,
            BackendChoice::Dx12 => wgpu::Backends::DX12,
            BackendChoice::Gl => wgpu::Backends::GL,
            BackendChoice::Cpu => wgpu::Backends::empty(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BackendChoice::Auto => "auto",
            BackendChoice::Vulkan => "vulkan",
            BackendChoice::Metal => "metal",
            BackendChoice::Dx12 => "dx12",
            BackendChoice::Gl => "gl",
            BackendChoice::Cpu => "cpu",
        }
    }
}

/// Which limits a device is opened with. Tiles and batches follow the device's limits, so a
/// smaller set only narrows the choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LimitsChoice {
    /// Everything the adapter offers.
    #[default]
    Adapter,
    /// WebGPU's defaults (`wgpu::Limits::default()`: 16 KiB of workgroup memory, 256
    /// invocations per workgroup, 8 storage buffers per stage), where the adapter has them.
    WebGpuDefault,
    /// wgpu's downlevel defaults (`wgpu::Limits::downlevel_defaults()`: WebGPU's, with 16352
    /// bytes of workgroup memory and 4 storage buffers per stage), where the adapter has them.
    Downlevel,
}

impl LimitsChoice {
    /// Every choice, the adapter's own first.
    pub const ALL: [LimitsChoice; 3] = [LimitsChoice::Adapter, LimitsChoice::WebGpuDefault, LimitsChoice::Downlevel];

    /// The limits requested of an adapter with `adapter` limits: never beyond the adapter's.
    pub fn limits(self, adapter: &wgpu::Limits) -> wgpu::Limits {
        match self {
            LimitsChoice::Adapter => adapter.clone(),
            LimitsChoice::WebGpuDefault => wgpu::Limits::default().or_worse_values_from(adapter),
            LimitsChoice::Downlevel => wgpu::Limits::downlevel_defaults().or_worse_values_from(adapter),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LimitsChoice::Adapter => "the adapter's",
            LimitsChoice::WebGpuDefault => "WebGPU's defaults",
            LimitsChoice::Downlevel => "downlevel defaults",
        }
    }
}

/// The limits the kernels depend on, in one line.
pub fn describe_limits(l: &wgpu::Limits) -> String {
    format!(
        "workgroup storage {} B, invocations per workgroup {}, storage buffers per stage {}, max buffer {} B, max storage binding {} B",
        l.max_compute_workgroup_storage_size,
        l.max_compute_invocations_per_workgroup,
        l.max_storage_buffers_per_shader_stage,
        l.max_buffer_size,
        l.max_storage_buffer_binding_size
    )
}

/// Every adapter wgpu finds on `backends`.
pub fn list_adapters(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    if backends.is_empty() {
        return Vec::new();
    }
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor { backends, ..wgpu::InstanceDescriptor::new_without_display_handle() });
    pollster::block_on(instance.enumerate_adapters(backends))
}

/// Preference of a device type: real GPUs before virtual ones before software rasterisers.
pub fn rank(device_type: wgpu::DeviceType) -> u32 {
    match device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// One line describing an adapter.
pub fn describe(info: &wgpu::AdapterInfo) -> String {
    let driver = [info.driver.as_str(), info.driver_info.as_str()].iter().filter(|s| !s.is_empty()).copied().collect::<Vec<_>>().join(" ");
    format!(
        "{} ({:?}, {:?}, vendor {:#06x} {}{})",
        info.name,
        info.backend,
        info.device_type,
        info.vendor,
        vendor_name(info.vendor),
        if driver.is_empty() { String::new() } else { format!(", driver {driver}") }
    )
}

/// The adapter's identity, for reports.
pub fn identity(info: &wgpu::AdapterInfo) -> crate::backend::AdapterIdentity {
    crate::backend::AdapterIdentity {
        name: info.name.clone(),
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        vendor_id: info.vendor,
        vendor_name: vendor_name(info.vendor).into(),
        device_id: info.device,
        driver: info.driver.clone(),
        driver_info: info.driver_info.clone(),
    }
}

/// Timestamp queries at pass boundaries, inside passes and on encoders: what `bench` asks
/// for where the adapter has them (the probe never does).
pub const TIMESTAMP_FEATURES: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
    .union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS);

/// What timestamp queries an adapter (or device) with `features` offers, in words.
pub fn timestamp_support(features: wgpu::Features) -> &'static str {
    if !features.contains(wgpu::Features::TIMESTAMP_QUERY) {
        "none"
    } else if features.contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES) {
        "inside passes"
    } else {
        "at pass boundaries"
    }
}

/// The PCI vendor's name, where known.
pub fn vendor_name(id: u32) -> &'static str {
    match id {
        0x10de => "NVIDIA",
        0x1002 | 0x1022 => "AMD",
        0x8086 => "Intel",
        0x106b => "Apple",
        0x5143 => "Qualcomm",
        0x13b5 => "ARM",
        0x1010 => "Imagination",
        0x10005 => "Mesa",
        _ => "unknown vendor",
    }
}

/// The adapter `auto`/`--backend` and `--adapter` pick: the best-ranked whose name contains `filter`.
pub fn pick_adapter(choice: BackendChoice, filter: Option<&str>) -> Result<wgpu::Adapter, GpuError> {
    let adapters = list_adapters(choice.wgpu_backends());
    let names: Vec<String> = adapters.iter().map(|a| describe(&a.get_info())).collect();
    let wanted = filter.map(str::to_lowercase);
    adapters
        .into_iter()
        .filter(|a| wanted.as_ref().is_none_or(|w| a.get_info().name.to_lowercase().contains(w)))
        .min_by_key(|a| {
            let info = a.get_info();
            // Ties: Vulkan, Metal and DX12 before GL.
            (rank(info.device_type), info.backend == wgpu::Backend::Gl)
        })
        .ok_or_else(|| GpuError::NoAdapter {
            backend: choice.name(),
            filter: filter.map(str::to_string),
            available: if names.is_empty() { "none".into() } else { names.join("; ") },
        })
}

/// A compiled kernel and its bind-group layout.
pub struct Pipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

/// What a pipeline is cached by: shader, entry point and the values of its `override` constants.
type PipelineKey = (&'static str, &'static str, Vec<(&'static str, u32)>);

/// Adapter, device, queue and the pipelines made so far.
pub struct GpuContext {
    pub info: wgpu::AdapterInfo,
    /// The device's limits (what was requested, [`LimitsChoice`]): tiles and buffer sizes follow these.
    pub limits: wgpu::Limits,
    /// Which limits were requested.
    pub limits_choice: LimitsChoice,
    /// The optional features the device was opened with.
    pub features: wgpu::Features,
    /// What the adapter lacks of full WebGPU (e.g. `SHADER_F16_IN_F32`, which f16 weights need).
    pub downlevel: wgpu::DownlevelFlags,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pipelines: Mutex<HashMap<PipelineKey, Arc<Pipeline>>>,
    modules: Mutex<HashMap<&'static str, wgpu::ShaderModule>>,
    /// The first validation error wgpu reported, if any.
    errors: Arc<Mutex<Option<String>>>,
}

impl GpuContext {
    /// A device on `adapter` with no optional features.
    pub fn new(adapter: wgpu::Adapter) -> Result<GpuContext, GpuError> {
        Self::with_features(adapter, wgpu::Features::empty())
    }

    /// A device on `adapter` with those of the `wanted` features the adapter has, and all its limits.
    pub fn with_features(adapter: wgpu::Adapter, wanted: wgpu::Features) -> Result<GpuContext, GpuError> {
        Self::with_limits(adapter, wanted, LimitsChoice::Adapter)
    }

    /// A device on `adapter` with those of the `wanted` features the adapter has and the
    /// limits `choice` gives it.
    pub fn with_limits(adapter: wgpu::Adapter, wanted: wgpu::Features, choice: LimitsChoice) -> Result<GpuContext, GpuError> {
        let info = adapter.get_info();
        let requested = choice.limits(&adapter.limits());
        let features = adapter.features() & wanted;
        let downlevel = adapter.get_downlevel_capabilities().flags;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("gan-bias device"),
            required_features: features,
            required_limits: requested,
            ..Default::default()
        }))
        .map_err(|e| GpuError::Device { adapter: info.name.clone(), detail: e.to_string() })?;
        let limits = device.limits();
        log::info!("device on {}: {} limits: {}", info.name, choice.name(), describe_limits(&limits));
        let errors = Arc::new(Mutex::new(None));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
            slot.get_or_insert_with(|| e.to_string());
        }));
        Ok(GpuContext {
            info,
            limits,
            limits_choice: choice,
            features,
            downlevel,
            device,
            queue,
            pipelines: Mutex::new(HashMap::new()),
            modules: Mutex::new(HashMap::new()),
            errors,
        })
    }

    /// Fails with the first error wgpu reported since the context was made.
    pub fn check_errors(&self) -> Result<(), GpuError> {
        match self.errors.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(detail) => Err(GpuError::Validation(detail)),
            None => Ok(()),
        }
    }

    /// The compiled module of `shader` (one per shader, whatever its specialisations).
    fn module(&self, shader: &'static Shader) -> wgpu::ShaderModule {
        let mut cache = self.modules.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(shader.name)
            .or_insert_with(|| {
                self.device.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(shader.name),
                    source: wgpu::ShaderSource::Wgsl(shader.source.into()),
                })
            })
            .clone()
    }

    /// The pipeline for `entry` of `shader` with its `override` constants set to `constants`,
    /// whose bindings have the kinds of `binds`.
    pub fn pipeline(
        &self,
        shader: &'static Shader,
        entry: &'static str,
        binds: &[Bind],
        constants: &[(&'static str, u32)],
    ) -> Arc<Pipeline> {
        let module = self.module(shader);
        let mut cache = self.pipelines.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry((shader.name, entry, constants.to_vec()))
            .or_insert_with(|| {
                let entries: Vec<wgpu::BindGroupLayoutEntry> = binds
                    .iter()
                    .enumerate()
                    .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                        binding: i as u32,
                        visibility: wgpu::ShaderStages::COMPUTE,
                        ty: wgpu::BindingType::Buffer {
                            ty: match b {
                                Bind::Params(_) | Bind::Step => wgpu::BufferBindingType::Uniform,
                                Bind::Read(_) | Bind::Weights(_) => wgpu::BufferBindingType::Storage { read_only: true },
                                Bind::Write(_) => wgpu::BufferBindingType::Storage { read_only: false },
                            },
                            has_dynamic_offset: false,
                            min_binding_size: None,
                        },
                        count: None,
                    })
                    .collect();
                let layout =
                    self.device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(shader.name), entries: &entries });
                let pipeline_layout = self.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(shader.name),
                    bind_group_layouts: &[Some(&layout)],
                    immediate_size: 0,
                });
                let values: Vec<(&str, f64)> = constants.iter().map(|&(name, v)| (name, v as f64)).collect();
                let pipeline = self.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(entry),
                    layout: Some(&pipeline_layout),
                    module: &module,
                    entry_point: Some(entry),
                    // No kernel reads workgroup memory before writing it.
                    compilation_options: wgpu::PipelineCompilationOptions { constants: &values, zero_initialize_workgroup_memory: false },
                    cache: None,
                });
                Arc::new(Pipeline { pipeline, layout })
            })
            .clone()
    }

    /// Copies `buffer` (f32 values) back to the host, waiting for all work submitted so far.
    pub fn read_buffer(&self, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<f32>, GpuError> {
        Ok(bytemuck::pod_collect_to_vec::<u8, f32>(&self.read_bytes(buffer, bytes)?))
    }

    /// Copies the first `bytes` bytes of `buffer` back to the host, waiting for all work
    /// submitted so far.
    pub fn read_bytes(&self, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>, GpuError> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("readback") });
        encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
        self.queue.submit([encoder.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        self.device.poll(wgpu::PollType::Wait { submission_index: None, timeout: None }).map_err(|e| GpuError::Map(e.to_string()))?;
        self.check_errors()?;
        rx.recv().map_err(|e| GpuError::Map(e.to_string()))?.map_err(|e| GpuError::Map(e.to_string()))?;
        let data = {
            let view = staging.get_mapped_range(..).map_err(|e| GpuError::Map(e.to_string()))?;
            view.to_vec()
        };
        staging.unmap();
        Ok(data)
    }
}
