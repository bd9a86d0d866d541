//! Criterion benchmarks: one probe step and each of its kernels, on the CPU backend and on the
//! adapter `auto` would otherwise use, at the notebook's size (256 images, both directions).
//!
//! `cargo bench` uses the real checkpoints beside the project (`../shared/fixtures`, or
//! `$GAN_BIAS_SHARED`) and falls back to the tiny test models, saying so.

use std::path::{Path, PathBuf};

use criterion::{Criterion, criterion_group, criterion_main};
use gan_bias::backend::Backend;
use gan_bias::backend::cpu::CpuBackend;
use gan_bias::backend::gpu::{BackendChoice, GpuBackend};
use gan_bias::model::Network;
use gan_bias::model::presets::{self, ArchKind, Role};
use gan_bias::ops::StepParams;
use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::probe::plan_capacity;
use gan_bias::program::Phase;
use gan_bias::program::lower::{chain, probe_program};
use gan_bias::weights::TensorFile;

fn load(path: &Path, role: Role, input: Option<[usize; 3]>) -> Network {
    let file = TensorFile::load(path).unwrap_or_else(|e| panic!("{e}"));
    let arch = ArchKind::resolve(&file, None, role).unwrap();
    let first = presets::z_dim(arch, &file).unwrap();
    Network::build(arch, &file, input.unwrap_or([first, 1, 1])).unwrap()
}

fn models() -> (Network, Network, usize) {
    let shared = std::env::var_os("GAN_BIAS_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"));
    let (g, c, images) = if shared.join("dcgan_tutorial_digiface_generator.pth").exists() {
        (shared.join("dcgan_tutorial_digiface_generator.pth"), shared.join("coursera_celeba40_classifier.pth"), 256)
    } else {
        eprintln!("{} not found: benchmarking the tiny test models instead", shared.display());
        let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        (f.join("tiny_dcgan_gen.safetensors"), f.join("tiny_classifier.safetensors"), 256)
    };
    let generator = load(&g, Role::Generator, None);
    let classifier = load(&c, Role::Classifier, Some(generator.output));
    (generator, classifier, images)
}

fn bench_backend(c: &mut Criterion, name: &str, backend: &mut dyn Backend, generator: &Network, classifier: &Network, images: usize) {
    let stages = chain(generator, classifier).unwrap();
    let capacity = plan_capacity(backend, &stages, 2 * images, 1, images, None).unwrap();
    let (program, layout) = probe_program(&stages, capacity, images, 1, UpdateRule::Notebook);
    backend.load(&program).unwrap();
    backend.write(layout.z, &gan_bias::rng::torch_randn(0, capacity * stages[0].in_len())).unwrap();
    let params = StepParams::new(0, 0, capacity, 20, 1);
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
