//! What the op tests share: a seeded generator, one GPU backend per required adapter (Vulkan
//! and GL), running one program phase, and the GPU-against-CPU comparison that reports the
//! worst difference.

use std::sync::{Mutex, OnceLock};

pub use super::*;
use gan_bias::backend::Backend;
pub use gan_bias::backend::BackendError;
use gan_bias::backend::gpu::{BackendChoice, GpuBackend};
pub use gan_bias::ops::act::{Act, Epilogue};
pub use gan_bias::ops::conv_transpose2d::ConvTranspose;
pub use gan_bias::ops::conv2d::{Conv, ConvArgs, ConvDims};
pub use gan_bias::ops::covariance::{ColumnMean, CovArgs, Covariance};
pub use gan_bias::ops::noise_update::{NoiseUpdate, UpdateRule};
pub use gan_bias::ops::record::Record;
pub use gan_bias::ops::seed_grad::SeedGrad;
pub use gan_bias::ops::tiling::{GemmShape, TILES, Tile};
pub use gan_bias::ops::{BufId, Op, OpError, StepParams};
pub use gan_bias::probe::evaluate;
pub use gan_bias::program::lower::chain;
pub use gan_bias::program::{Phase, Program};

/// xorshift64*: a tiny seeded generator, so every run sees the same inputs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03 | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [-1, 1).
    pub fn sym(&mut self) -> f32 {
        2.0 * self.unit() - 1.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Approximately standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u = (self.unit() as f64).max(1e-12);
        let v = self.unit() as f64;
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    pub fn vec(&mut self, len: usize, scale: f32) -> Vec<f32> {
        (0..len).map(|_| scale * self.sym()).collect()
    }
}

/// One GPU backend per [`test_backends`] entry, shared by every op test (opening an adapter is
/// the slow part). A missing adapter fails the test that asks for it.
fn gpus() -> &'static [(BackendChoice, Mutex<GpuBackend>)] {
    static GPUS: OnceLock<Vec<(BackendChoice, Mutex<GpuBackend>)>> = OnceLock::new();
    GPUS.get_or_init(|| {
        test_backends()
            .into_iter()
            .map(|b| {
                let gpu = GpuBackend::open(b, None).unwrap_or_else(|e| {
                    panic!(
                        "no {} adapter ({e}): the op tests run on every backend of GAN_BIAS_TEST_ADAPTERS (default vulkan,gl; Debian: apt-get install mesa-vulkan-drivers libegl1 libegl-mesa0 libgl1-mesa-dri)",
                        b.name()
                    )
                });
                (b, Mutex::new(gpu))
            })
            .collect()
    })
}

thread_local! {
    /// The adapter [`with_gpu`] runs on: set by [`on_each_gpu`].
    static CURRENT: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Runs `body` once per adapter of [`test_backends`], [`with_gpu`] inside it running on that
/// adapter; a failure names the adapter.
pub fn on_each_gpu(mut body: impl FnMut()) {
    for (i, (choice, gpu)) in gpus().iter().enumerate() {
        let name = gpu.lock().unwrap_or_else(|p| p.into_inner()).describe();
        println!("on {} ({name}):", choice.name());
        CURRENT.with(|c| c.set(Some(i)));
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(&mut body));
        CURRENT.with(|c| c.set(None));
        if let Err(e) = result {
            let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
            panic!("on {} ({name}): {msg}", choice.name());
        }
    }
}

/// Runs `f` on the GPU backend of the adapter [`on_each_gpu`] is at.
pub fn with_gpu<R>(f: impl FnOnce(&mut GpuBackend) -> R) -> R {
    let i = CURRENT.with(|c| c.get()).expect("with_gpu runs inside on_each_gpu");
    let mut gpu = gpus()[i].1.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut gpu)
}

/// Step `step` of a batch of `rows` rows from global row `row0`, in a run of `steps` steps.
pub fn params(step: usize, row0: usize, rows: usize, steps: usize) -> StepParams {
    StepParams::new(step, row0, rows, steps)
}

/// Loads `p`, writes `init`, runs the step phase once and reads `outs` back.
pub fn run_once(b: &mut dyn Backend, p: &Program, init: &[(BufId, Vec<f32>)], s: StepParams, outs: &[BufId]) -> Vec<Vec<f32>> {
    b.load(p).unwrap();
    for (id, data) in init {
        b.write(*id, data).unwrap();
    }
    b.run(Phase::Step, s).unwrap();
    outs.iter().map(|&id| b.read(id).unwrap()).collect()
}

/// The worst differences of one comparison: max |g - c| / max |c|, and the largest elementwise
/// |g - c| / |c| over elements not tiny (|c| >= 1e-3 max |c|).
#[derive(Debug, Clone, Copy, Default)]
pub struct Worst {
    pub scaled: f32,
    pub relative: f32,
}

impl Worst {
    pub fn max(self, o: Worst) -> Worst {
        Worst { scaled: self.scaled.max(o.scaled), relative: self.relative.max(o.relative) }
    }
}

/// Asserts the GPU matches the CPU within 1e-5 relative (plus 1e-5 of the largest value for
/// ulp-level differences in sums), and returns how close they were.
pub fn gpu_matches_cpu(what: &str, gpu: &[f32], cpu: &[f32]) -> Worst {
    let m = max_abs(cpu);
    assert_close(what, gpu, cpu, 1e-5, 1e-5 * m);
    let mut w = Worst::default();
    for (&g, &c) in gpu.iter().zip(cpu) {
        let d = (g - c).abs();
        if m > 0.0 {
            w.scaled = w.scaled.max(d / m);
        }
        if c.abs() >= 1e-3 * m && c != 0.0 {
            w.relative = w.relative.max(d / c.abs());
        }
    }
    w
}

pub fn report(op: &str, w: Worst) {
    println!("worst gpu-vs-cpu {op:>18}: max|diff|/max|cpu| {:.3e}, max elementwise rel {:.3e}", w.scaled, w.relative);
}

pub fn dot64(a: &[f32], b: &[f32]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold((0.0, 0.0), |(s, abs), (&x, &y)| {
        let t = x as f64 * y as f64;
        (s + t, abs + t.abs())
    })
}
