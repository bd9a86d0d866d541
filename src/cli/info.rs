//! `gan-bias info`: the adapters wgpu finds, the limits a device on each is opened with, and
//! the one `--backend auto` picks.
//!
//! Owns: the command's flow. Must not touch: other commands, the dispatch.

use anyhow::Result;

use gan_bias::backend::gpu::context::{self, LimitsChoice};
use gan_bias::backend::{self, gpu};

pub fn run() -> Result<()> {
    let adapters = context::list_adapters(wgpu::Backends::all());
    if adapters.is_empty() {
        println!("no adapters found; `--backend auto` uses the CPU backend");
    }
    for a in &adapters {
        println!("{}; timestamp queries: {}", context::describe(&a.get_info()), context::timestamp_support(a.features()));
        // What a device on it is opened with (`GpuContext`'s default, LimitsChoice::Adapter).
        println!("  limits requested: {}", context::describe_limits(&LimitsChoice::Adapter.limits(&a.limits())));
        // The probe asks for no feature; f16 weights need only a downlevel flag; bench asks for timestamps.
        let f16 = gpu::weights::check_support("", a.get_downlevel_capabilities().flags).is_ok();
        println!(
            "  features requested: none (every command but bench; --weights-f16 {}), timestamp queries where offered (bench)",
            if f16 { "needs none" } else { "unavailable: no SHADER_F16_IN_F32" }
        );
    }
    match backend::auto_adapter() {
        Some(a) => println!("auto picks: {}", context::describe(&a.get_info())),
        None => println!("auto picks: the CPU backend (no hardware GPU; it outruns a software rasteriser)"),
    }
    Ok(())
}
