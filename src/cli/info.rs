//! `gan-bias info`: the adapters wgpu finds, and the one `--backend auto` picks.
//!
//! Owns: the command's flow. Must not touch: other commands, the dispatch.

use anyhow::Result;

use gan_bias::backend::gpu::context::{self, BackendChoice};

pub fn run() -> Result<()> {
    let adapters = context::list_adapters(wgpu::Backends::all());
    if adapters.is_empty() {
        println!("no adapters found; `--backend auto` uses the CPU backend");
    }
    for a in &adapters {
        println!("{}; timestamp queries: {}", context::describe(&a.get_info()), context::timestamp_support(a.features()));
    }
    match context::pick_adapter(BackendChoice::Auto, None) {
        Ok(a) if a.get_info().device_type != wgpu::DeviceType::Cpu => println!("auto picks: {}", context::describe(&a.get_info())),
        _ => println!("auto picks: the CPU backend (no hardware GPU; it outruns a software rasteriser)"),
    }
    Ok(())
}
