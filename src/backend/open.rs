//! Opening the backend a user names: `auto`'s policy (a hardware GPU, else the CPU backend,
//! which runs these kernels far faster than a software rasteriser's Vulkan or GL), a named
//! API or adapter, and the weight precision each backend can store.
//!
//! Owns: which backend a choice opens. Must not touch: how a backend runs programs.

use super::cpu::CpuBackend;
use super::gpu::context::{self, BackendChoice};
use super::gpu::{self, GpuBackend, GpuContext, GpuError};
use super::{Backend, BackendError, WeightPrecision};

/// The hardware GPU adapter `auto` would open, if there is one (never a software adapter).
pub fn auto_adapter() -> Option<wgpu::Adapter> {
    context::pick_adapter(BackendChoice::Auto, None).ok().filter(|a| a.get_info().device_type != wgpu::DeviceType::Cpu)
}

/// The backend `choice` and `adapter` name, a GPU device opened with those of `features` its
/// adapter has (the probe asks for none; `bench` for timestamp queries) and storing weights as
/// `weights`. `auto`: a hardware GPU; else, unless `adapter` names one, the CPU backend.
pub fn open(
    choice: BackendChoice,
    adapter: Option<&str>,
    features: wgpu::Features,
    weights: WeightPrecision,
) -> Result<Box<dyn Backend>, BackendError> {
    let open_gpu = |a: wgpu::Adapter| -> Result<Box<dyn Backend>, BackendError> {
        if weights == WeightPrecision::F16 {
            // Before the device opens; `load` checks again for callers that open it themselves.
            gpu::weights::check_support(&a.get_info().name, a.get_downlevel_capabilities().flags)?;
        }
        Ok(Box::new(GpuBackend::new(GpuContext::with_features(a, features)?).with_weights(weights)))
    };
    let cpu = |why: &str| -> Box<dyn Backend> {
        log::info!("{why}; running on the CPU backend");
        if weights != WeightPrecision::F32 {
            log::warn!("--weights-f16 applies to the WGSL kernels only: the CPU backend keeps f32 weights");
        }
        Box::new(CpuBackend::fast())
    };
    match choice {
        BackendChoice::Cpu if weights != WeightPrecision::F32 => Err(BackendError::WeightsOnCpu { weights: weights.name() }),
        BackendChoice::Cpu => Ok(Box::new(CpuBackend::fast())),
        BackendChoice::Auto => match context::pick_adapter(choice, adapter) {
            Ok(a) if adapter.is_some() || a.get_info().device_type != wgpu::DeviceType::Cpu => open_gpu(a),
            Ok(a) => Ok(cpu(&format!("only a software adapter ({})", a.get_info().name))),
            Err(GpuError::NoAdapter { .. }) if adapter.is_none() => Ok(cpu("no adapter found")),
            Err(e) => Err(e.into()),
        },
        _ => open_gpu(context::pick_adapter(choice, adapter)?),
    }
}
