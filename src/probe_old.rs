//! Stage 3 of the pipeline: the notebook's probe as a program of ops, run batch by batch.
//!
//! Both directions run as one doubled batch: row `g < n` is image `g` moving up the target's
//! gradient, row `g >= n` is image `g - n` moving down. In eval mode every image is
//! independent of the others, so the doubled batch may be cut into any number of batches,
//! each run through all its steps on its own; only the covariance, computed once over the
//! whole history at the end, sees every row.

use std::time::Instant;

use crate::backend::{Backend, BackendError, BufId, Phase, Program, StepParams};
use crate::model::{ConvKind, Network, Stage};
use crate::ops::Op;
use crate::ops::act::{Act, Epilogue};
use crate::ops::conv_transpose2d::ConvTranspose;
use crate::ops::conv2d::{Conv, ConvArgs, ConvDims};
use crate::ops::covariance::{ColumnMean, CovArgs, Covariance};
use crate::ops::noise_update::{NoiseUpdate, UpdateRule};
use crate::ops::record::Record;
use crate::ops::seed_grad::SeedGrad;

/// Why a probe could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error("{0}")]
    Input(String),
}

/// What the probe does, beyond the models and the noise.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    pub target: usize,
    pub steps: usize,
    pub update: UpdateRule,
    /// Largest batch (rows of the doubled batch run together); `None`: as large as fits.
    pub max_batch: Option<usize>,
}

/// What a probe measured.
#[derive(Debug, Clone)]
pub struct ProbeOutcome {
    pub features: usize,
    pub images: usize,
    /// Covariance of the recorded changes, `features x features`, row-major.
    pub cov: Vec<f32>,
    /// Mean target logit of the starting images.
    pub start_mean: f64,
    /// Mean target logit at the last recorded step up, and down (before its update, as the
    /// notebook's history ends).
    pub end_mean_up: f64,
    pub end_mean_down: f64,
    pub batches: usize,
    pub batch_rows: usize,
    pub seconds: f64,
    /// The noise of the first kept images at every recorded step, when asked for
    /// ([`Keep::noise`]): `[direction: 0 up, 1 down][step]`, each `kept x zdim`
    /// row-major; step 0 is the starting noise, step `i` the noise after `i` updates.
    pub noise_history: Vec<Vec<Vec<f32>>>,
    /// The recorded changes of every logit from its starting value, when asked for
    /// ([`Keep::changes`]): layout `(2, steps, n, features)` row-major, direction
    /// major (0 up, 1 down), the notebook's `classification_changes`; `None` otherwise.
    pub changes: Option<Vec<f32>>,
}

/// Buffers of a probe program.
#[derive(Debug, Clone)]
pub struct Layout {
    pub capacity: usize,
    pub z: BufId,
    /// Output of each stage; the last one holds the logits.
    pub acts: Vec<BufId>,
    pub start: BufId,
    pub history: BufId,
    pub dz: BufId,
    pub acc: BufId,
    pub cov: BufId,
}

impl Layout {
    pub fn logits(&self) -> BufId {
        *self.acts.last().expect("a network has stages")
    }
}

/// The generator's stages followed by the classifier's, checked to fit together.
pub fn chain<'a>(generator: &'a Network, classifier: &'a Network) -> Result<Vec<&'a Stage>, ProbeError> {
    let stages: Vec<&Stage> = generator.stages.iter().chain(&classifier.stages).collect();
    check_chain(&stages)?;
    Ok(stages)
}

fn check_chain(stages: &[&Stage]) -> Result<(), ProbeError> {
    let last = stages.last().ok_or_else(|| ProbeError::Input("the network has no layers".into()))?;
    if last.act != Act::Identity {
        return Err(ProbeError::Input(format!("the classifier's last layer {} must output logits (no activation)", last.label)));
    }
    if last.hout * last.wout != 1 {
        return Err(ProbeError::Input(format!(
            "the classifier's last layer {} outputs {}x{} maps, expected 1x1 logits",
            last.label, last.hout, last.wout
        )));
    }
    Ok(())
}

/// Rows per batch: as many as the backend's buffer limits and memory budget allow.
pub fn plan_capacity(
    backend: &dyn Backend,
    stages: &[&Stage],
    rows: usize,
    steps: usize,
    n: usize,
    max_batch: Option<usize>,
) -> Result<usize, ProbeError> {
    let limits = backend.limits();
    let features = stages.last().map_or(0, |s| s.out_len());
    let zdim = stages[0].in_len();
    let max_in = stages.iter().skip(1).map(|s| s.in_len()).max().unwrap_or(1);
    let per_row: u64 = (3 * zdim + 2 * features + 2 * max_in + stages.iter().map(|s| s.out_len()).sum::<usize>()) as u64 * 4;
    let widest = (stages.iter().map(|s| s.out_len()).max().unwrap_or(1).max(max_in).max(zdim)) as u64 * 4;
    let history = (2 * steps * n * features) as u64 * 4;
    let weights: u64 = stages.iter().map(|s| (s.weight.len() + s.cout) as u64 * 4).sum();
    if history > limits.max_buffer_bytes {
        return Err(ProbeError::Input(format!(
            "the history of {n} images x {steps} steps needs {history} bytes, more than this backend's buffer limit of {}; use fewer images or steps",
            limits.max_buffer_bytes
        )));
    }
    let fixed = history + weights;
    let by_memory = limits.budget_bytes.saturating_sub(fixed) / per_row;
    let by_binding = limits.max_buffer_bytes / widest;
    let cap = (rows as u64).min(by_memory).min(by_binding).min(max_batch.unwrap_or(usize::MAX) as u64) as usize;
    if cap == 0 {
        return Err(ProbeError::Input("not even one image fits in this backend's memory limits".into()));
    }
    // Even batches, so the last one is not mostly padding.
    let batches = rows.div_ceil(cap);
    Ok(rows.div_ceil(batches))
}

/// The probe program for batches of `capacity` rows, `n` images per direction.
pub fn build_program(stages: &[&Stage], capacity: usize, n: usize, steps: usize, target: usize, update: UpdateRule) -> (Program, Layout) {
    let mut p = Program::default();
    let zdim = stages[0].in_len();
    let features = stages.last().map_or(0, |s| s.out_len());
    let z = p.buffer("noise", capacity * zdim);
    let params: Vec<(BufId, Option<BufId>)> = stages
        .iter()
        .map(|s| {
            let w = p.constant(format!("{} weight", s.label), s.weight.clone());
            let b = s.bias.as_ref().map(|b| p.constant(format!("{} bias", s.label), b.clone()));
            (w, b)
        })
        .collect();
    let acts: Vec<BufId> = stages.iter().map(|s| p.buffer(format!("{} output", s.label), capacity * s.out_len())).collect();
    let start = p.buffer("start logits", capacity * features);
    let history = p.buffer("history", 2 * steps * n * features);
    let seed = p.buffer("seed gradient", capacity * features);
    let max_in = stages.iter().skip(1).map(|s| s.in_len()).max().unwrap_or(1);
    let grads = [p.buffer("gradient a", capacity * max_in), p.buffer("gradient b", capacity * max_in)];
    let dz = p.buffer("noise gradient", capacity * zdim);
    let acc = p.buffer("noise gradient sum", capacity * zdim);
    let mean = p.buffer("change mean", features);
    let cov = p.buffer("covariance", features * features);

    p.push(Phase::Setup, Op::SeedGrad(SeedGrad { rows: capacity, features, target, scale: 1.0 / n as f32, out: seed }));
    for (i, s) in stages.iter().enumerate() {
        let input = if i == 0 { z } else { acts[i - 1] };
        p.push(Phase::Step, forward_op(s, capacity, input, params[i], acts[i]));
    }
    p.push(Phase::Step, Op::Record(Record { n, steps, features, capacity, logits: acts[acts.len() - 1], start, history }));
    let mut grad = seed;
    for (i, s) in stages.iter().enumerate().rev() {
        let out = if i == 0 { dz } else { grads[(stages.len() - 1 - i) % 2] };
        let (epilogue, aux) =
            if i == 0 { (Epilogue::Forward(Act::Identity), None) } else { (Epilogue::GradMask(stages[i - 1].act), Some(acts[i - 1])) };
        p.push(Phase::Step, backward_op(s, capacity, grad, params[i].0, aux, out, epilogue));
        grad = out;
    }
    p.push(Phase::Step, Op::NoiseUpdate(NoiseUpdate { n, steps, zdim, capacity, rule: update, grad: dz, acc, z }));
    let cov_args = CovArgs { rows: 2 * steps * n, features, x: history, mean, cov };
    p.push(Phase::Finish, Op::ColumnMean(ColumnMean(cov_args.clone())));
    p.push(Phase::Finish, Op::Covariance(Covariance(cov_args)));
    (p, Layout { capacity, z, acts, start, history, dz, acc, cov })
}

fn forward_op(s: &Stage, n: usize, input: BufId, (weight, bias): (BufId, Option<BufId>), output: BufId) -> Op {
    let dims =
        ConvDims { n, cin: s.cin, hin: s.hin, win: s.win, cout: s.cout, hout: s.hout, wout: s.wout, k: s.k, stride: s.stride, pad: s.pad };
    let args = ConvArgs {
        label: format!("{} forward", s.label),
        dims,
        input,
        weight,
        bias,
        aux: None,
        output,
        epilogue: Epilogue::Forward(s.act),
    };
    match s.kind {
        ConvKind::Conv => Op::Conv2d(Conv(args)),
        ConvKind::Transpose => Op::ConvTranspose2d(ConvTranspose(args)),
    }
}

/// The input-gradient of stage `s`: the adjoint convolution with the same weights, from the
/// stage's output size back to its input size.
fn backward_op(s: &Stage, n: usize, input: BufId, weight: BufId, aux: Option<BufId>, output: BufId, epilogue: Epilogue) -> Op {
    let dims =
        ConvDims { n, cin: s.cout, hin: s.hout, win: s.wout, cout: s.cin, hout: s.hin, wout: s.win, k: s.k, stride: s.stride, pad: s.pad };
    let args = ConvArgs { label: format!("{} input-gradient", s.label), dims, input, weight, bias: None, aux, output, epilogue };
    match s.kind {
        ConvKind::Conv => Op::ConvTranspose2d(ConvTranspose(args)),
        ConvKind::Transpose => Op::Conv2d(Conv(args)),
    }
}

/// Runs the probe on `n` images of starting noise `z0` (`n x zdim`, row-major).
pub fn run_probe(
    backend: &mut dyn Backend,
    generator: &Network,
    classifier: &Network,
    z0: &[f32],
    settings: &ProbeSettings,
) -> Result<ProbeOutcome, ProbeError> {
    run_probe_with(backend, generator, classifier, z0, settings, Keep::default(), None)
}

/// What a probe keeps beyond its result, for pictures. Keeping changes no number.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep {
    /// Keep the noise of the first `noise` images (at most `n`) of both directions at every
    /// recorded step, in [`ProbeOutcome::noise_history`]; 0 keeps none.
    pub noise: usize,
    /// Read the recorded changes back into [`ProbeOutcome::changes`].
    pub changes: bool,
}

/// Called after every step with (image-steps done, image-steps in all).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// [`run_probe`], keeping what `keep` asks for and reporting progress after every step. With a
/// progress callback the host waits for each step to finish, so the count is true on a GPU too.
pub fn run_probe_with(
    backend: &mut dyn Backend,
    generator: &Network,
    classifier: &Network,
    z0: &[f32],
    settings: &ProbeSettings,
    keep: Keep,
    mut progress: Option<Progress<'_>>,
) -> Result<ProbeOutcome, ProbeError> {
    let started = Instant::now();
    let stages = chain(generator, classifier)?;
    let zdim = stages[0].in_len();
    let features = classifier.output[0];
    if zdim == 0 || z0.is_empty() || !z0.len().is_multiple_of(zdim) {
        return Err(ProbeError::Input(format!("the noise holds {} values, not a whole number of {zdim}-long rows", z0.len())));
    }
    if let Some(i) = z0.iter().position(|v| !v.is_finite()) {
        return Err(ProbeError::Input(format!("the noise holds a non-finite value ({}) at row {}, column {}", z0[i], i / zdim, i % zdim)));
    }
    if settings.steps == 0 {
        return Err(ProbeError::Input("steps must be at least 1".into()));
    }
    if settings.target >= features {
        return Err(ProbeError::Input(format!("target feature {} out of range: the classifier has {features}", settings.target)));
    }
    let n = z0.len() / zdim;
    let rows = 2 * n;
    let capacity = plan_capacity(backend, &stages, rows, settings.steps, n, settings.max_batch)?;
    let (program, layout) = build_program(&stages, capacity, n, settings.steps, settings.target, settings.update);
    backend.load(&program)?;
    let (mut start_sum, mut up_sum, mut down_sum) = (0.0f64, 0.0f64, 0.0f64);
    let mut batches = 0;
    let keep_changes = keep.changes;
    let keep = keep.noise.min(n);
    let mut noise_history = if keep == 0 { Vec::new() } else { vec![vec![vec![0.0f32; keep * zdim]; settings.steps]; 2] };
    for dir in noise_history.iter_mut() {
        dir[0].copy_from_slice(&z0[..keep * zdim]);
    }
    for row0 in (0..rows).step_by(capacity) {
        let batch_rows = capacity.min(rows - row0);
        let mut z = vec![0.0f32; capacity * zdim];
        for r in 0..batch_rows {
            let image = (row0 + r) % n;
            z[r * zdim..(r + 1) * zdim].copy_from_slice(&z0[image * zdim..(image + 1) * zdim]);
        }
        backend.write(layout.z, &z)?;
        backend.write(layout.acc, &vec![0.0; capacity * zdim])?;
        // Read the noise back only for batches that hold a kept image of either direction.
        let holds_kept = keep > 0 && (row0..row0 + batch_rows).any(|g| g % n < keep);
        let params = |step: usize| StepParams { step: step as u32, row0: row0 as u32, rows: batch_rows as u32, _pad: 0 };
        backend.run(Phase::Setup, params(0))?;
        for step in 0..settings.steps {
            backend.run(Phase::Step, params(step))?;
            if holds_kept && step + 1 < settings.steps {
                let z = backend.read(layout.z)?;
                for r in 0..batch_rows {
                    let (dir, image) = if row0 + r < n { (0, row0 + r) } else { (1, row0 + r - n) };
                    if image < keep {
                        noise_history[dir][step + 1][image * zdim..(image + 1) * zdim].copy_from_slice(&z[r * zdim..(r + 1) * zdim]);
                    }
                }
            }
            log::debug!("batch {batches}: step {} of {} recorded", step + 1, settings.steps);
            if let Some(report) = progress.as_mut() {
                backend.wait()?;
                report((row0 * settings.steps + batch_rows * (step + 1)) as u64, (rows * settings.steps) as u64);
            }
        }
        let start = backend.read(layout.start)?;
        let end = backend.read(layout.logits())?;
        for r in 0..batch_rows {
            let idx = r * features + settings.target;
            if row0 + r < n {
                start_sum += start[idx] as f64;
                up_sum += end[idx] as f64;
            } else {
                down_sum += end[idx] as f64;
            }
        }
        batches += 1;
        log::info!("batch {batches}: rows {row0}..{} done", row0 + batch_rows);
    }
    backend.run(Phase::Finish, StepParams::default())?;
    let cov = backend.read(layout.cov)?;
    let changes = if keep_changes {
        let mut h = backend.read(layout.history)?;
        h.truncate(2 * settings.steps * n * features);
        Some(h)
    } else {
        None
    };
    if let Some(i) = cov.iter().position(|v| !v.is_finite()) {
        return Err(ProbeError::Input(format!(
            "the covariance is not finite at ({}, {}): the logits overflowed; try fewer steps",
            i / features,
            i % features
        )));
    }
    Ok(ProbeOutcome {
        features,
        images: n,
        cov,
        start_mean: start_sum / n as f64,
        end_mean_up: up_sum / n as f64,
        end_mean_down: down_sum / n as f64,
        batches,
        batch_rows: capacity,
        seconds: started.elapsed().as_secs_f64(),
        noise_history,
        changes,
    })
}

/// Most rows one [`generate`] program holds.
pub const GENERATE_BATCH: usize = 64;

/// The output of the last of `stages` (a generator: its images, NCHW) for every row of
/// `input`, forward only, at most [`GENERATE_BATCH`] rows at a time.
pub fn generate(backend: &mut dyn Backend, stages: &[&Stage], input: &[f32]) -> Result<Vec<f32>, ProbeError> {
    let (Some(first), Some(last)) = (stages.first(), stages.last()) else {
        return Err(ProbeError::Input("the network has no layers".into()));
    };
    let (in_len, out_len) = (first.in_len(), last.out_len());
    if in_len == 0 || input.is_empty() || !input.len().is_multiple_of(in_len) {
        return Err(ProbeError::Input(format!("input holds {} values, not a whole number of {in_len}-long rows", input.len())));
    }
    if let Some(i) = input.iter().position(|v| !v.is_finite()) {
        return Err(ProbeError::Input(format!(
            "the input holds a non-finite value ({}) at row {}, column {}",
            input[i],
            i / in_len,
            i % in_len
        )));
    }
    let rows = input.len() / in_len;
    let capacity = rows.min(GENERATE_BATCH);
    let mut p = Program::default();
    let z = p.buffer("noise", capacity * in_len);
    let mut x = z;
    for s in stages {
        let w = p.constant(format!("{} weight", s.label), s.weight.clone());
        let b = s.bias.as_ref().map(|b| p.constant(format!("{} bias", s.label), b.clone()));
        let out = p.buffer(format!("{} output", s.label), capacity * s.out_len());
        p.push(Phase::Step, forward_op(s, capacity, x, (w, b), out));
        x = out;
    }
    backend.load(&p)?;
    let mut images = Vec::with_capacity(rows * out_len);
    for row0 in (0..rows).step_by(capacity) {
        let batch_rows = capacity.min(rows - row0);
        let mut chunk = input[row0 * in_len..(row0 + batch_rows) * in_len].to_vec();
        chunk.resize(capacity * in_len, 0.0);
        backend.write(z, &chunk)?;
        backend.run(Phase::Step, StepParams { step: 0, row0: row0 as u32, rows: batch_rows as u32, _pad: 0 })?;
        images.extend_from_slice(&backend.read(x)?[..batch_rows * out_len]);
    }
    Ok(images)
}

/// Outputs of every stage and the input-gradient of `mean(logits[:, target])`, for `rows`
/// inputs through `stages` (a network, or a generator and classifier chained).
pub struct Evaluation {
    pub outputs: Vec<Vec<f32>>,
    pub input_grad: Vec<f32>,
}

/// One forward and one backward pass (the first step of a probe, without chunking).
pub fn evaluate(backend: &mut dyn Backend, stages: &[&Stage], input: &[f32], target: usize) -> Result<Evaluation, ProbeError> {
    check_chain(stages)?;
    let in_len = stages[0].in_len();
    if input.is_empty() || !input.len().is_multiple_of(in_len) {
        return Err(ProbeError::Input(format!("input holds {} values, not a whole number of {in_len}-long rows", input.len())));
    }
    let rows = input.len() / in_len;
    let (program, layout) = build_program(stages, rows, rows, 1, target, UpdateRule::Sgd);
    backend.load(&program)?;
    backend.write(layout.z, input)?;
    let params = StepParams { step: 0, row0: 0, rows: rows as u32, _pad: 0 };
    backend.run(Phase::Setup, params)?;
    backend.run(Phase::Step, params)?;
    let outputs = layout.acts.iter().map(|&a| backend.read(a)).collect::<Result<_, _>>()?;
    Ok(Evaluation { outputs, input_grad: backend.read(layout.dz)? })
}
