//! `bench --all-adapters`: the CPU backend, then every adapter of every backend wgpu was
//! built with, each benched in turn. An adapter that fails (an error, or a driver's panic)
//! is reported with its message and the others still run.
//!
//! Owns: the walk over the adapters. Must not touch: how one bench times its kernels.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::{BenchRun, BenchSettings, bench};
use crate::backend::cpu::CpuBackend;
use crate::backend::gpu::context;
use crate::backend::gpu::{GpuBackend, GpuContext};
use crate::backend::{AdapterIdentity, Backend, WeightPrecision};
use crate::model::Network;

/// Benches the CPU backend, then every adapter wgpu finds (its device opened with those of
/// `features` it has, its weights stored as `weights`; the CPU backend keeps f32), calling
/// `each` with every adapter's run or error message as soon as it ends.
pub fn all_adapters(
    generator: &Network,
    classifier: &Network,
    settings: BenchSettings,
    features: wgpu::Features,
    weights: WeightPrecision,
    mut each: impl FnMut(AdapterIdentity, Result<BenchRun, String>),
) {
    let mut cpu = CpuBackend::fast();
    each(cpu.identity(), guarded(|| Ok(bench(&mut cpu, generator, classifier, settings)?)));
    for adapter in context::list_adapters(wgpu::Backends::all()) {
        let identity = context::identity(&adapter.get_info());
        log::info!("measuring {}", identity.describe());
        let result = guarded(move || {
            let mut gpu = GpuBackend::new(GpuContext::with_features(adapter, features)?).with_weights(weights);
            Ok(bench(&mut gpu, generator, classifier, settings)?)
        });
        each(identity, result);
    }
}

type Outcome = Result<BenchRun, Box<dyn std::error::Error>>;

/// Runs `f`, turning an error (with its causes) or a panic into its message.
fn guarded(f: impl FnOnce() -> Outcome) -> Result<BenchRun, String> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(run)) => Ok(run),
        Ok(Err(e)) => {
            let mut message = e.to_string();
            let mut cause = e.source();
            while let Some(c) = cause {
                message.push_str(&format!(": {c}"));
                cause = c.source();
            }
            Err(message)
        }
        Err(panic) => {
            let what = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            Err(format!("panicked: {}", what.unwrap_or_else(|| "no message".into())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("no device")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn guarded_turns_errors_and_panics_into_messages() {
        let lost = || -> Outcome { Err(Box::new(Outer(std::io::Error::other("lost")))) };
        assert_eq!(guarded(lost), Err("no device: lost".to_string()));
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let panicked = guarded(|| panic!("driver fell over at {}", 3));
        std::panic::set_hook(hook);
        assert_eq!(panicked, Err("panicked: driver fell over at 3".to_string()));
    }
}
