//! Timing every kernel of a probe step, and the whole step, on one backend; the report as a
//! table, CSV and JSON ([`format`]); merging reports of several runs ([`compare`]).
//!
//! Each kernel runs on its own (one submit, then a wait) after warm-up runs; the whole step
//! runs as the probe runs it (one compute pass). Where the backend has a device timer (a GPU
//! opened with timestamp queries), times are the GPU's own, read from timestamps written
//! around each dispatch; otherwise they are wall clock around submit and wait, which on a
//! GPU includes the submission overhead of one dispatch. FLOP and bytes are counted from the
//! layer shapes ([`crate::ops::Kernel::cost`]). A run may carry a single-precision GEMM
//! peak ([`peak`]: measured on the CPU, given for an adapter); its tables then show each
//! kernel's and the step's fraction of it.
//!
//! Owns: timing, the bench file format. Must not touch: the probe's statistics, the CLI.

mod adapters;
pub mod compare;
mod format;
pub mod peak;

pub use adapters::all_adapters;
pub use format::{PEAK_COLUMN, csv, failure_table, one_line, precision_detail, table};
pub use peak::Peak;

use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::backend::{AdapterIdentity, Backend, DeviceTimer, WeightPrecision};
use crate::model::Network;
use crate::ops::noise_update::UpdateRule;
use crate::ops::{Op, StepParams};
use crate::probe::{ProbeError, plan_capacity};
use crate::program::Phase;
use crate::program::lower::{ProbeShape, chain, probe_program};

/// The `format` of every bench JSON file.
pub const FORMAT: &str = "gan-bias-bench";
/// The schema version this build writes and reads. Fields added since version 1 was first
/// written are optional and default when absent (`weight_precision`, `buffer_bytes`,
/// `peak_rss_bytes`, `probe_seconds`, `peak`), so every version-1 file still reads and older
/// builds read newer files, ignoring what they do not know.
pub const VERSION: u32 = 1;

/// Where a time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimingMethod {
    /// The GPU's timestamps around the work, times the queue's timestamp period.
    GpuTimestamps,
    /// Wall clock around submit and wait.
    WallClock,
}

impl TimingMethod {
    pub fn name(self) -> &'static str {
        match self {
            TimingMethod::GpuTimestamps => "gpu-timestamps",
            TimingMethod::WallClock => "wall-clock",
        }
    }
}

/// Median, minimum and maximum of one measured thing, with its work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// What ran: `main.3 forward`, `classifier.1.0 input-gradient`, `probe step`, ...
    pub name: String,
    /// The kernel (WGSL entry point or shader) that ran it.
    pub kernel: String,
    pub timing: TimingMethod,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// With GPU timestamps: the median wall clock around submit and wait of the same runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_median_ms: Option<f64>,
    pub gflop: f64,
    pub gflop_per_s: f64,
    /// Bytes of inputs, weights and outputs counted once each, per second; a lower bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gb_per_s: Option<f64>,
}

/// One model of the workload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// `coursera`, `dcgan` or `classifier`.
    pub arch: String,
    /// The weights' file name (no folder, so runs from several machines compare).
    pub file: String,
    /// Input and output shape of one image: channels, height, width.
    pub input: [usize; 3],
    pub output: [usize; 3],
    /// Multiply-adds of one forward pass for one image.
    pub macs: u64,
}

impl ModelInfo {
    pub fn of(net: &Network) -> ModelInfo {
        let path = Path::new(&net.source);
        ModelInfo {
            arch: net.arch.into(),
            file: path.file_name().map_or_else(|| net.source.clone(), |f| f.to_string_lossy().into_owned()),
            input: net.input,
            output: net.output,
            macs: net.macs(),
        }
    }
}

/// What was measured: the models and the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workload {
    pub generator: ModelInfo,
    pub classifier: ModelInfo,
    /// Images per direction.
    pub images: usize,
    /// Rows run together (images x 2 directions, unless the backend's limits cut it).
    pub rows: usize,
}

/// Everything measured on one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRun {
    pub adapter: AdapterIdentity,
    /// The method of the step's time (every kernel row names its own too).
    pub timing: TimingMethod,
    /// The method in words.
    pub timing_detail: String,
    pub workload: Workload,
    pub warmup: usize,
    pub repeats: usize,
    /// How the convolution weights were stored (sums and activations are f32 either way).
    /// Files written before this field existed are f32.
    #[serde(default)]
    pub weight_precision: WeightPrecision,
    #[serde(default)]
    pub kernels: Vec<Timing>,
    pub step: Timing,
    pub image_steps_per_s: f64,
    /// The most bytes of buffers the backend held for the program at once (device memory on
    /// a GPU, host memory on the CPU backend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer_bytes: Option<u64>,
    /// The process's peak resident memory during the run (Linux `VmHWM`), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    /// The whole probe's time in seconds, where it was measured (tools/bench_pytorch.py).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_seconds: Option<f64>,
    /// The GEMM peak the kernels' fractions are taken of (`bench --peak`, `--peak-gflops`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak: Option<Peak>,
}

impl BenchRun {
    /// The fraction of the run's peak that `t` (one of its kernels or its step) reaches.
    pub fn peak_fraction(&self, t: &Timing) -> Option<f64> {
        self.peak.as_ref().map(|p| p.fraction(t.gflop_per_s))
    }
}

/// An adapter that could not be opened or run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub adapter: AdapterIdentity,
    pub error: String,
}

/// A bench JSON file: the runs of one `gan-bias bench` (several with `--all-adapters`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchFile {
    /// Always [`FORMAT`].
    pub format: String,
    pub version: u32,
    pub runs: Vec<BenchRun>,
    #[serde(default)]
    pub failures: Vec<Failure>,
}

impl BenchFile {
    pub fn new(runs: Vec<BenchRun>, failures: Vec<Failure>) -> Self {
        BenchFile { format: FORMAT.into(), version: VERSION, runs, failures }
    }

    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a bench file always serialises");
        s.push('\n');
        s
    }
}

/// What `bench` runs: images per direction, warm-up and timed runs of each kernel.
#[derive(Debug, Clone, Copy)]
pub struct BenchSettings {
    pub images: usize,
    pub warmup: usize,
    pub repeats: usize,
}

/// One timed run: wall clock, and the device's own time where there is a device timer.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: f64,
    device: Option<f64>,
}

fn summarise(name: String, kernel: String, samples: &[Sample], flop: f64, bytes: Option<f64>) -> Timing {
    let sorted = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v
    };
    let wall = sorted(samples.iter().map(|s| s.wall).collect());
    let device: Option<Vec<f64>> = samples.iter().map(|s| s.device).collect();
    let (timing, secs, wall_median) = match device {
        Some(d) if !d.is_empty() => (TimingMethod::GpuTimestamps, sorted(d), Some(wall[wall.len() / 2] * 1e3)),
        _ => (TimingMethod::WallClock, wall, None),
    };
    let median = secs[secs.len() / 2];
    // A kernel too short for the clock still gets a finite rate.
    let rate = |x: f64| x / median.max(1e-9);
    Timing {
        name,
        kernel,
        timing,
        median_ms: median * 1e3,
        min_ms: secs[0] * 1e3,
        max_ms: secs[secs.len() - 1] * 1e3,
        wall_median_ms: wall_median,
        gflop: flop / 1e9,
        gflop_per_s: rate(flop / 1e9),
        gb_per_s: bytes.map(|b| rate(b / 1e9)),
    }
}

fn kernel_name(op: &Op) -> &'static str {
    let d = op.kernel().dispatch();
    if d.entry == "main" { d.shader.name } else { d.entry }
}

/// The timing method of a backend, in words.
fn timing_detail(timer: Option<DeviceTimer>) -> String {
    match timer {
        Some(DeviceTimer::InsidePasses) => {
            "GPU timestamps written inside the compute pass before and after each dispatch; wall ms: submit to wait".into()
        }
        Some(DeviceTimer::PerPass) => "GPU timestamps at the start and end of one compute pass per kernel; wall ms: submit to wait".into(),
        None => "wall clock around submit and wait".into(),
    }
}

/// Times each kernel of one probe step, and the step, for `settings.images` images per
/// direction, with the backend's device timer where it has one. Resets the process's peak
/// resident memory first where the system allows, so the run reports its own peak.
pub fn bench(
    backend: &mut dyn Backend,
    generator: &Network,
    classifier: &Network,
    settings: BenchSettings,
) -> Result<BenchRun, ProbeError> {
    bench_with(backend, generator, classifier, settings, None)
}

/// [`bench()`], calling `progress(done, total)` after every timed or warm-up run.
pub fn bench_with(
    backend: &mut dyn Backend,
    generator: &Network,
    classifier: &Network,
    settings: BenchSettings,
    mut progress: Option<crate::probe::Progress<'_>>,
) -> Result<BenchRun, ProbeError> {
    crate::host::reset_peak_rss();
    let BenchSettings { images, warmup, repeats } = settings;
    let graph = chain(generator, classifier)?;
    let rows = 2 * images;
    let build = |capacity| probe_program(&graph, ProbeShape { capacity, images, steps: 1, slots: 1 }, UpdateRule::Notebook);
    let capacity = plan_capacity(backend, &|c| Ok(build(c)?.0), rows, None)?;
    let target = 20.min(classifier.output[0].saturating_sub(1));
    let (program, layout) = build(capacity)?;
    backend.load(&program)?;
    let z = crate::rng::torch_randn(0, capacity * graph.input_len());
    backend.write(layout.z, &z)?;
    backend.write(layout.targets, &[target as f32])?;
    let params = StepParams::new(0, 0, capacity, 1);
    backend.run(Phase::Setup, params)?;
    let repeats = repeats.max(1);
    let timer = backend.device_timer();
    // One run of ops `range` of `phase` (`None`: all of them, as the probe runs them).
    let once = |backend: &mut dyn Backend, phase: Phase, op: Option<usize>| -> Result<Sample, ProbeError> {
        if timer.is_some() {
            let count = program.ops(phase).len();
            let range = op.map_or(0..count, |i| i..i + 1);
            let t = backend.run_timed(phase, range, params)?;
            return Ok(Sample { wall: t.wall, device: Some(t.total) });
        }
        let start = Instant::now();
        match op {
            Some(i) => backend.run_one(phase, i, params)?,
            None => backend.run(phase, params)?,
        }
        backend.wait()?;
        Ok(Sample { wall: start.elapsed().as_secs_f64(), device: None })
    };
    let total = ((program.ops(Phase::Step).len() + program.ops(Phase::Finish).len() + 1) * (warmup + repeats)) as u64;
    let mut done = 0u64;
    let mut time = |backend: &mut dyn Backend, phase: Phase, op: Option<usize>| -> Result<Vec<Sample>, ProbeError> {
        let mut samples = Vec::with_capacity(repeats);
        for i in 0..warmup + repeats {
            let sample = once(backend, phase, op)?;
            if i >= warmup {
                samples.push(sample);
            }
            done += 1;
            if let Some(report) = progress.as_mut() {
                report(done, total);
            }
        }
        Ok(samples)
    };
    let mut kernels = Vec::new();
    let mut step_cost = (0.0, 0.0);
    for phase in [Phase::Step, Phase::Finish] {
        for (i, op) in program.ops(phase).iter().enumerate() {
            let samples = time(backend, phase, Some(i))?;
            let cost = op.kernel().cost();
            if phase == Phase::Step {
                step_cost = (step_cost.0 + cost.flop, step_cost.1 + cost.bytes);
            }
            kernels.push(summarise(op_label(op), kernel_name(op).into(), &samples, cost.flop, Some(cost.bytes)));
        }
    }
    let samples = time(backend, Phase::Step, None)?;
    let step = summarise("probe step".into(), "all".into(), &samples, step_cost.0, Some(step_cost.1));
    Ok(BenchRun {
        adapter: backend.identity(),
        timing: step.timing,
        timing_detail: if step.timing == TimingMethod::GpuTimestamps { timing_detail(timer) } else { timing_detail(None) },
        workload: Workload { generator: ModelInfo::of(generator), classifier: ModelInfo::of(classifier), images, rows: capacity },
        warmup,
        repeats,
        weight_precision: backend.weight_precision(),
        image_steps_per_s: capacity as f64 / (step.median_ms / 1e3).max(1e-12),
        kernels,
        step,
        buffer_bytes: Some(backend.buffer_bytes()),
        peak_rss_bytes: crate::host::peak_rss_bytes(),
        probe_seconds: None,
        peak: None,
    })
}

fn op_label(op: &Op) -> String {
    match op {
        Op::Conv2d(c) => c.0.label.clone(),
        Op::ConvTranspose2d(c) => c.0.label.clone(),
        Op::SeedGrad(_) => "seed gradient".into(),
        Op::Record(_) => "record history".into(),
        Op::NoiseUpdate(_) => "noise update".into(),
        Op::ColumnMean(_) => "change means".into(),
        Op::Covariance(_) => "covariance".into(),
        Op::Affine(a) => a.label.clone(),
        Op::Resize(r) => r.label.clone(),
        Op::Add(a) => a.label.clone(),
        Op::Binary(b) => b.label.clone(),
        Op::Copy(c) => c.label.clone(),
        Op::Pad(p) => p.label.clone(),
        Op::ConvGeneral(c) => c.label.clone(),
        Op::Bilinear(b) => b.label.clone(),
        Op::Pool(p) => p.label.clone(),
    }
}
