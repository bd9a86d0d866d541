//! The probe's kernels on devices opened at WebGPU's default limits (`wgpu::Limits::default()`)
//! and at wgpu's downlevel defaults (`Limits::downlevel_defaults()`), on every test adapter
//! (`common::test_backends`): the device gets exactly the limits asked for, every tile chosen
//! fits them, no optional feature is requested, and the probe on the tiny models gives the CPU
//! backend's numbers. Every kernel's bindings fit the smallest set of limits.

use crate::common::*;
use gan_bias::backend::Backend;
use gan_bias::backend::cpu::CpuBackend;
use gan_bias::backend::gpu::context::{self, LimitsChoice};
use gan_bias::backend::gpu::{GpuBackend, GpuContext, tiles};
use gan_bias::ops::Bind;
use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::probe::{ProbeOutcome, ProbeSettings, run_probe};

/// The probe of golden fixture `golden_file` (its noise, target and steps) on `backend`.
fn probe(backend: &mut dyn Backend, gen_file: &str, golden_file: &str) -> ProbeOutcome {
    let (g, meta) = golden(golden_file);
    let settings = ProbeSettings {
        target: meta["target"].parse().unwrap(),
        steps: meta["steps"].parse().unwrap(),
        update: UpdateRule::Notebook,
        max_batch: None,
    };
    let generator = generator(&fixture(gen_file));
    let classifier = classifier(&fixture("tiny_classifier.safetensors"));
    run_probe(backend, &generator, &classifier, &g["noise"].1, &settings).unwrap_or_else(|e| panic!("{gen_file}: {e}"))
}

fn assert_same_numbers(what: &str, got: &ProbeOutcome, want: &ProbeOutcome) {
    assert_close(&format!("{what} cov"), &got.cov, &want.cov, 1e-3, 1e-4 * max_abs(&want.cov));
    let means = |o: &ProbeOutcome| [o.start_mean as f32, o.end_mean_up as f32, o.end_mean_down as f32];
    assert_close(&format!("{what} target means"), &means(got), &means(want), 1e-4, 1e-5);
}

#[test]
fn the_probe_at_webgpu_default_and_downlevel_limits_gives_the_cpu_numbers() {
    let models =
        [("tiny_coursera_gen.safetensors", "golden_coursera.safetensors"), ("tiny_dcgan_gen.safetensors", "golden_dcgan.safetensors")];
    let cpu: Vec<ProbeOutcome> = models.iter().map(|(g, f)| probe(&mut CpuBackend::new(), g, f)).collect();
    for backend in test_backends() {
        let adapter = || context::pick_adapter(backend, None).unwrap_or_else(|e| panic!("no {} adapter ({e})", backend.name()));
        let offered = adapter().limits();
        // The adapter's own limits first: the others' results are compared with its too.
        let mut at_adapter: Vec<(ProbeOutcome, Vec<(String, gan_bias::ops::tiling::Tile)>)> = Vec::new();
        for choice in LimitsChoice::ALL {
            let mut gpu = GpuBackend::new(GpuContext::with_limits(adapter(), wgpu::Features::empty(), choice).unwrap());
            let what = format!("{} ({}) at {}", backend.name(), gpu.describe(), choice.name());
            let l = gpu.ctx.limits.clone();
            let want = choice.limits(&offered);
            assert!(l.check_limits(&want) && want.check_limits(&l), "{what}: the device's limits {l:?} are not those requested {want:?}");
            assert!(gpu.ctx.features.is_empty(), "{what}: requested features {:?}", gpu.ctx.features);
            match choice {
                LimitsChoice::Adapter => {}
                LimitsChoice::WebGpuDefault => {
                    assert_eq!(
                        (
                            l.max_compute_workgroup_storage_size,
                            l.max_compute_invocations_per_workgroup,
                            l.max_storage_buffers_per_shader_stage
                        ),
                        (16384, 256, 8),
                        "{what}"
                    )
                }
                LimitsChoice::Downlevel => {
                    assert_eq!(
                        (
                            l.max_compute_workgroup_storage_size,
                            l.max_compute_invocations_per_workgroup,
                            l.max_storage_buffers_per_shader_stage
                        ),
                        (16352, 256, 4),
                        "{what}"
                    )
                }
            }
            println!("{what}: {}", context::describe_limits(&l));
            let fit = tiles::workgroup_limits(&l);
            for (i, ((gen_file, golden_file), want)) in models.iter().zip(&cpu).enumerate() {
                let got = probe(&mut gpu, gen_file, golden_file);
                gpu.ctx.check_errors().unwrap_or_else(|e| panic!("{what}: {e}"));
                let chosen = gpu.chosen_tiles();
                assert!(!chosen.is_empty(), "{what}: no tiled dispatch");
                for (label, tile) in &chosen {
                    log::info!("{what}, {gen_file}: {label}: tile {}x{}x{}", tile.tm, tile.tn, tile.tk);
                    assert!(tile.fits(&fit), "{what}: {label}: {tile:?} does not fit {fit:?}");
                }
                let list: Vec<String> = chosen.iter().map(|(label, t)| format!("{label} {}x{}x{}", t.tm, t.tn, t.tk)).collect();
                println!("  {gen_file}: tiles {}", list.join(", "));
                assert_same_numbers(&format!("{what}, {gen_file}, against the CPU backend"), &got, want);
                match choice {
                    LimitsChoice::Adapter => at_adapter.push((got, chosen)),
                    // The same tiles as at the adapter's limits: the same dispatches, the same bits.
                    _ if at_adapter[i].1 == chosen => {
                        assert_eq!(got.cov, at_adapter[i].0.cov, "{what}, {gen_file}: same tiles as at the adapter's limits, other numbers")
                    }
                    _ => assert_same_numbers(&format!("{what}, {gen_file}, against the adapter's limits"), &got, &at_adapter[i].0),
                }
            }
        }
    }
}

/// Every kernel binds at most 4 storage buffers (the downlevel defaults' limit per stage, half
/// WebGPU's 8) and at most 2 uniform buffers.
#[test]
fn every_kernel_fits_the_downlevel_binding_limits() {
    let limits = wgpu::Limits::downlevel_defaults();
    for op in crate::shaders::sample_ops() {
        let d = op.kernel().dispatch();
        let storage = d.binds.iter().filter(|b| matches!(b, Bind::Read(_) | Bind::Weights(_) | Bind::Write(_))).count() as u32;
        let uniform = d.binds.len() as u32 - storage;
        assert!(storage <= limits.max_storage_buffers_per_shader_stage, "{}: {storage} storage buffers", d.shader.name);
        assert!(uniform <= 2 && uniform <= limits.max_uniform_buffers_per_shader_stage, "{}: {uniform} uniform buffers", d.shader.name);
    }
}
