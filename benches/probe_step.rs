//! Criterion benchmarks: one probe step and each of its kernels, on the CPU backend and on the
//! adapter `auto` would otherwise use, at the notebook's size (256 images, both directions).
//!
//! `cargo bench` uses the real checkpoints beside the project (`../shared/fixtures`, or
//! `$GAN_BIAS_SHARED`) and falls back to the tiny test models, saying so.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use gan_bias::backend::Backend;
use gan_bias::backend::cpu::CpuBackend;
use gan_bias::backend::gpu::{BackendChoice, GpuBackend};
use gan_bias::load;
use gan_bias::model::Network;
use gan_bias::ops::StepParams;
use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::probe::plan_capacity;
use gan_bias::program::Phase;
use gan_bias::program::lower::{ProbeShape, chain, probe_program};

fn models() -> (Network, Network, usize) {
    let shared = common::shared_dir();
    let (g, c, images) = if shared.join("dcgan_tutorial_digiface_generator.pth").exists() {
        (shared.join("dcgan_tutorial_digiface_generator.pth"), shared.join("coursera_celeba40_classifier.pth"), 256)
    } else {
        eprintln!("{} not found: benchmarking the tiny test models instead", shared.display());
        (common::fixture("tiny_dcgan_gen.safetensors"), common::fixture("tiny_classifier.safetensors"), 256)
    };
    let generator = load::generator(Some(&g), None).unwrap_or_else(|e| panic!("{e}"));
    let classifier = load::classifier(Some(&c), None, Some(&generator), None).unwrap_or_else(|e| panic!("{e}"));
    (generator, classifier, images)
}

fn bench_backend(c: &mut Criterion, name: &str, backend: &mut dyn Backend, generator: &Network, classifier: &Network, images: usize) {
    let graph = chain(generator, classifier).unwrap();
    let build = |capacity| probe_program(&graph, ProbeShape { capacity, images, steps: 1, slots: 1 }, UpdateRule::Notebook);
    let capacity = plan_capacity(backend, &|c| Ok(build(c)?.0), 2 * images, None).unwrap();
    let (program, layout) = build(capacity).unwrap();
    backend.load(&program).unwrap();
    backend.write(layout.z, &gan_bias::rng::torch_randn(0, capacity * graph.input_len())).unwrap();
    backend.write(layout.targets, &[20.0]).unwrap();
    let params = StepParams::new(0, 0, capacity, 1);
    backend.run(Phase::Setup, params).unwrap();
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.bench_function("probe step", |b| {
        b.iter(|| {
            backend.run(Phase::Step, params).unwrap();
            backend.wait().unwrap();
        })
    });
    for (i, op) in program.ops(Phase::Step).iter().enumerate() {
        let label = format!("{i:02} {}", op.kernel().dispatch().shader.name);
        group.bench_function(label, |b| {
            b.iter(|| {
                backend.run_one(Phase::Step, i, params).unwrap();
                backend.wait().unwrap();
            })
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let (generator, classifier, images) = models();
    bench_backend(c, "cpu", &mut CpuBackend::fast(), &generator, &classifier, images);
    match GpuBackend::open(BackendChoice::Auto, None) {
        // A software rasteriser at the notebook's size takes minutes per sample: few images.
        Ok(mut gpu) => {
            let software = gpu.ctx.info.device_type == wgpu::DeviceType::Cpu;
            bench_backend(c, "gpu", &mut gpu, &generator, &classifier, if software { 2 } else { images })
        }
        Err(e) => eprintln!("no adapter, GPU benchmarks skipped: {e}"),
    }
}

criterion_group!(probe, benches);
criterion_main!(probe);
