//! Timing every kernel of a probe step, and the whole step, on one backend.
//!
//! Each kernel runs on its own (one submit, then a wait) after warm-up runs; the whole step
//! runs as the probe runs it. Times are wall clock around submit and wait, so on a GPU they
//! include the submission overhead of one dispatch. FLOP and bytes are counted from the
//! layer shapes ([`crate::ops::Kernel::cost`]).

use std::time::Instant;

use serde::Serialize;

use crate::backend::{Backend, Phase, StepParams};
use crate::model::Network;
use crate::ops::Op;
use crate::ops::noise_update::UpdateRule;
use crate::probe::{ProbeError, build_program, chain, plan_capacity};

/// Median, minimum and maximum of one measured thing, with its work.
#[derive(Debug, Clone, Serialize)]
pub struct Timing {
    pub name: String,
    pub kernel: String,
    pub median_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    pub gflop: f64,
    pub gflop_per_s: f64,
    pub gb_per_s: f64,
}

/// Everything `gan-bias bench` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub adapter: String,
    pub timing_method: String,
    pub rows: usize,
    pub warmup: usize,
    pub repeats: usize,
    pub kernels: Vec<Timing>,
    pub step: Timing,
    pub image_steps_per_s: f64,
    pub buffer_bytes: u64,
}

fn summarise(name: String, kernel: String, mut secs: Vec<f64>, flop: f64, bytes: f64) -> Timing {
    secs.sort_by(f64::total_cmp);
    let median = secs[secs.len() / 2];
    Timing {
        name,
        kernel,
        median_ms: median * 1e3,
        min_ms: secs[0] * 1e3,
        max_ms: secs[secs.len() - 1] * 1e3,
        gflop: flop / 1e9,
        gflop_per_s: flop / 1e9 / median,
        gb_per_s: bytes / 1e9 / median,
    }
}

fn kernel_name(op: &Op) -> &'static str {
    let d = op.kernel().dispatch();
    if d.entry == "main" { d.shader.name } else { d.entry }
}

/// Times each kernel of one probe step, and the step, for `images` images per direction.
pub fn bench(
    backend: &mut dyn Backend,
    generator: &Network,
    classifier: &Network,
    images: usize,
    warmup: usize,
    repeats: usize,
) -> Result<BenchReport, ProbeError> {
    let stages = chain(generator, classifier)?;
    let rows = 2 * images;
    let capacity = plan_capacity(backend, &stages, rows, 1, images, None)?;
    let (program, layout) = build_program(&stages, capacity, images, 1, 20.min(classifier.output[0] - 1), UpdateRule::Notebook);
    backend.load(&program)?;
    let z = crate::rng::torch_randn(0, capacity * stages[0].in_len());
    backend.write(layout.z, &z)?;
    let params = StepParams { step: 0, row0: 0, rows: capacity as u32, _pad: 0 };
    backend.run(Phase::Setup, params)?;
    let repeats = repeats.max(1);
    let mut time = |f: &mut dyn FnMut(&mut dyn Backend) -> Result<(), ProbeError>| -> Result<Vec<f64>, ProbeError> {
        for _ in 0..warmup {
            f(backend)?;
            backend.wait()?;
        }
        (0..repeats)
            .map(|_| {
                let t = Instant::now();
                f(backend)?;
                backend.wait()?;
                Ok(t.elapsed().as_secs_f64())
            })
            .collect()
    };
    let mut kernels = Vec::new();
    let mut step_cost = (0.0, 0.0);
    for (i, op) in program.ops(Phase::Step).iter().enumerate() {
        let secs = time(&mut |b| Ok(b.run_one(Phase::Step, i, params)?))?;
        let cost = op.kernel().cost();
        step_cost = (step_cost.0 + cost.flop, step_cost.1 + cost.bytes);
        kernels.push(summarise(op_label(op), kernel_name(op).into(), secs, cost.flop, cost.bytes));
    }
    for (i, op) in program.ops(Phase::Finish).iter().enumerate() {
        let secs = time(&mut |b| Ok(b.run_one(Phase::Finish, i, params)?))?;
        let cost = op.kernel().cost();
        kernels.push(summarise(op_label(op), kernel_name(op).into(), secs, cost.flop, cost.bytes));
    }
    let secs = time(&mut |b| Ok(b.run(Phase::Step, params)?))?;
    let step = summarise("probe step".into(), "all".into(), secs, step_cost.0, step_cost.1);
    Ok(BenchReport {
        adapter: backend.describe(),
        timing_method: "wall clock around submit and wait".into(),
        rows: capacity,
        warmup,
        repeats,
        image_steps_per_s: capacity as f64 / (step.median_ms / 1e3),
        kernels,
        step,
        buffer_bytes: program.bytes(),
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
    }
}

/// The report as an aligned table.
pub fn table(r: &BenchReport) -> String {
    let mut s = format!(
        "# adapter: {}\n# {} rows (images x 2 directions), {} warm-up + {} timed runs each, {}; buffers {:.1} MiB\n",
        r.adapter,
        r.rows,
        r.warmup,
        r.repeats,
        r.timing_method,
        r.buffer_bytes as f64 / (1 << 20) as f64
    );
    s.push_str(&format!(
        "{:<36} {:<17} {:>10} {:>10} {:>10} {:>9} {:>9}\n",
        "op", "kernel", "median ms", "min ms", "max ms", "GFLOP/s", "GB/s"
    ));
    for t in r.kernels.iter().chain([&r.step]) {
        s.push_str(&format!(
            "{:<36} {:<17} {:>10.3} {:>10.3} {:>10.3} {:>9.1} {:>9.1}\n",
            t.name, t.kernel, t.median_ms, t.min_ms, t.max_ms, t.gflop_per_s, t.gb_per_s
        ));
    }
    s.push_str(&format!("# {:.1} image-steps per second\n", r.image_steps_per_s));
    s
}

/// The report as CSV, one row per kernel and one for the step.
pub fn csv(r: &BenchReport) -> String {
    let mut s = String::from("op,kernel,median_ms,min_ms,max_ms,gflop,gflop_per_s,gb_per_s\n");
    for t in r.kernels.iter().chain([&r.step]) {
        s.push_str(&format!(
            "{},{},{},{},{},{},{},{}\n",
            t.name, t.kernel, t.median_ms, t.min_ms, t.max_ms, t.gflop, t.gflop_per_s, t.gb_per_s
        ));
    }
    s
}
