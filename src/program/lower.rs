//! Lowering: a model's stages to ops. The probe's program runs, per step, every stage forward,
//! records the logits, runs every stage's input-gradient backward (each the adjoint
//! convolution with the same weights) and moves the noise; a gradient program the forward and
//! the input-gradient once; a forward program only the first.
//!
//! Rows come in slots, one per target run together: a slot of the probe is `2 n` rows (every
//! image up, then every image down), a slot of the gradient program `rows_per_target` rows.
//! The targets are a buffer of one entry per slot, written before a run.
//! Weights are shared with the model ([`Program::shared`]), never copied.
//!
//! Owns: stages -> ops, the probe's buffer layout. Must not touch: backends, batching.

use super::{Phase, Program};
use crate::model::{ConvKind, Network, Stage};
use crate::ops::act::{Act, Epilogue};
use crate::ops::conv_transpose2d::ConvTranspose;
use crate::ops::conv2d::{Conv, ConvArgs, ConvDims};
use crate::ops::covariance::{ColumnMean, CovArgs, Covariance};
use crate::ops::noise_update::{NoiseUpdate, UpdateRule};
use crate::ops::record::Record;
use crate::ops::seed_grad::SeedGrad;
use crate::ops::{BufId, Op};

/// Stages that do not fit together as a generator followed by a classifier of logits.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LowerError(pub String);

/// The generator's stages followed by the classifier's, checked to fit together.
pub fn chain<'a>(generator: &'a Network, classifier: &'a Network) -> Result<Vec<&'a Stage>, LowerError> {
    let stages: Vec<&Stage> = generator.stages.iter().chain(&classifier.stages).collect();
    check_chain(&stages)?;
    Ok(stages)
}

/// Fails unless the last of `stages` outputs 1x1 logits with no activation.
pub fn check_chain(stages: &[&Stage]) -> Result<(), LowerError> {
    let last = stages.last().ok_or_else(|| LowerError("the network has no layers".into()))?;
    if last.act != Act::Identity {
        return Err(LowerError(format!("the classifier's last layer {} must output logits (no activation)", last.label)));
    }
    if last.hout * last.wout != 1 {
        return Err(LowerError(format!(
            "the classifier's last layer {} outputs {}x{} maps, expected 1x1 logits",
            last.label, last.hout, last.wout
        )));
    }
    Ok(())
}

/// Buffers of a probe program.
#[derive(Debug, Clone)]
pub struct ProbeLayout {
    /// Rows of every batch buffer.
    pub capacity: usize,
    /// Images per direction.
    pub images: usize,
    /// Most steps per direction the history holds.
    pub steps: usize,
    /// Targets run together, `2 images` rows each.
    pub slots: usize,
    pub zdim: usize,
    pub features: usize,
    pub z: BufId,
    /// `(slots)`: each slot's target, a feature index held as an f32.
    pub targets: BufId,
    /// Output of each stage; the last one holds the logits.
    pub acts: Vec<BufId>,
    pub start: BufId,
    pub history: BufId,
    pub dz: BufId,
    pub acc: BufId,
    pub cov: BufId,
}

impl ProbeLayout {
    pub fn logits(&self) -> BufId {
        *self.acts.last().expect("a network has stages")
    }
}

/// The weight and bias buffers of every stage.
fn weights(p: &mut Program, stages: &[&Stage]) -> Vec<(BufId, Option<BufId>)> {
    stages
        .iter()
        .map(|s| {
            let w = p.shared(format!("{} weight", s.label), s.weight.clone());
            let b = s.bias.as_ref().map(|b| p.shared(format!("{} bias", s.label), b.clone()));
            (w, b)
        })
        .collect()
}

/// The sizes of a probe program: batches of `capacity` rows, `images` images per direction,
/// at most `steps` steps each way, `slots` targets run together.
#[derive(Debug, Clone, Copy)]
pub struct ProbeShape {
    pub capacity: usize,
    pub images: usize,
    pub steps: usize,
    pub slots: usize,
}

/// The buffers of one forward and input-gradient pass, shared by the probe's program and the
/// gradient program.
struct Passes {
    z: BufId,
    targets: BufId,
    params: Vec<(BufId, Option<BufId>)>,
    acts: Vec<BufId>,
    seed: BufId,
    grads: [BufId; 2],
    dz: BufId,
}

impl Passes {
    /// The buffers for batches of `capacity` rows and `slots` targets.
    fn new(p: &mut Program, stages: &[&Stage], capacity: usize, slots: usize) -> Passes {
        let zdim = stages[0].in_len();
        let features = stages.last().map_or(0, |s| s.out_len());
        let z = p.buffer("noise", capacity * zdim);
        let targets = p.buffer("targets", slots);
        let params = weights(p, stages);
        let acts = stages.iter().map(|s| p.buffer(format!("{} output", s.label), capacity * s.out_len())).collect();
        let seed = p.buffer("seed gradient", capacity * features);
        let max_in = stages.iter().skip(1).map(|s| s.in_len()).max().unwrap_or(1);
        let grads = [p.buffer("gradient a", capacity * max_in), p.buffer("gradient b", capacity * max_in)];
        let dz = p.buffer("noise gradient", capacity * zdim);
        Passes { z, targets, params, acts, seed, grads, dz }
    }

    /// Every stage forward, from the noise to the logits.
    fn push_forward(&self, p: &mut Program, stages: &[&Stage], capacity: usize) {
        for (i, s) in stages.iter().enumerate() {
            let input = if i == 0 { self.z } else { self.acts[i - 1] };
            p.push(Phase::Step, forward_op(s, capacity, input, self.params[i], self.acts[i]));
        }
    }

    /// The input-gradient passes of every stage, last first, from the logits' gradient (the
    /// seed) to the noise's, alternating between the two scratch buffers.
    fn push_backward(&self, p: &mut Program, stages: &[&Stage], capacity: usize) {
        let mut grad = self.seed;
        for (i, s) in stages.iter().enumerate().rev() {
            let out = if i == 0 { self.dz } else { self.grads[(stages.len() - 1 - i) % 2] };
            let (epilogue, aux) = if i == 0 {
                (Epilogue::Forward(Act::Identity), None)
            } else {
                (Epilogue::GradMask(stages[i - 1].act), Some(self.acts[i - 1]))
            };
            p.push(Phase::Step, backward_op(s, capacity, grad, self.params[i].0, aux, out, epilogue));
            grad = out;
        }
    }
}

/// The probe program of `shape`. The targets are a buffer, the run's step count a step parameter.
pub fn probe_program(stages: &[&Stage], shape: ProbeShape, update: UpdateRule) -> (Program, ProbeLayout) {
    let ProbeShape { capacity, images: n, steps, slots } = shape;
    let mut p = Program::default();
    let zdim = stages[0].in_len();
    let features = stages.last().map_or(0, |s| s.out_len());
    let io = Passes::new(&mut p, stages, capacity, slots);
    let start = p.buffer("start logits", capacity * features);
    let history = p.buffer("history", slots * 2 * steps * n * features);
    let acc = p.buffer("noise gradient sum", capacity * zdim);
    let mean = p.buffer("change mean", features);
    let cov = p.buffer("covariance", features * features);

    let seed_op = SeedGrad { rows: capacity, features, scale: 1.0 / n as f32, rows_per_target: 2 * n, targets: io.targets, out: io.seed };
    p.push(Phase::Setup, Op::SeedGrad(seed_op));
    io.push_forward(&mut p, stages, capacity);
    let logits = io.acts[io.acts.len() - 1];
    p.push(Phase::Step, Op::Record(Record { n, steps, slots, features, capacity, logits, start, history }));
    io.push_backward(&mut p, stages, capacity);
    p.push(Phase::Step, Op::NoiseUpdate(NoiseUpdate { n, zdim, capacity, rule: update, grad: io.dz, acc, z: io.z }));
    let cov_args = CovArgs { rows_per_step: 2 * n, steps, slots, features, x: history, mean, cov };
    p.push(Phase::Finish, Op::ColumnMean(ColumnMean(cov_args.clone())));
    p.push(Phase::Finish, Op::Covariance(Covariance(cov_args)));
    let Passes { z, targets, acts, dz, .. } = io;
    let layout = ProbeLayout { capacity, images: n, steps, slots, zdim, features, z, targets, acts, start, history, dz, acc, cov };
    (p, layout)
}

/// Buffers of a gradient program.
#[derive(Debug, Clone)]
pub struct GradientLayout {
    pub capacity: usize,
    pub zdim: usize,
    pub features: usize,
    pub z: BufId,
    /// `(slots)`: each slot's target.
    pub targets: BufId,
    /// Output of each stage; the last one holds the logits.
    pub acts: Vec<BufId>,
    /// The input-gradient of `scale` times each row's target logit.
    pub dz: BufId,
}

/// A program of one forward and one input-gradient pass for batches of `capacity` rows: the
/// gradient of `scale` times its slot's target logit with respect to each row's input, slots
/// of `rows_per_target` rows, each slot's target read from a buffer of `slots` entries. With
/// `scale` 1 the rows of slot k hold the gradients of logit `targets[k]`, one per input: a
/// Jacobian's rows, one target at a time.
pub fn gradient_program(stages: &[&Stage], capacity: usize, rows_per_target: usize, slots: usize, scale: f32) -> (Program, GradientLayout) {
    let mut p = Program::default();
    let zdim = stages[0].in_len();
    let features = stages.last().map_or(0, |s| s.out_len());
    let io = Passes::new(&mut p, stages, capacity, slots);
    p.push(Phase::Setup, Op::SeedGrad(SeedGrad { rows: capacity, features, scale, rows_per_target, targets: io.targets, out: io.seed }));
    io.push_forward(&mut p, stages, capacity);
    io.push_backward(&mut p, stages, capacity);
    let Passes { z, targets, acts, dz, .. } = io;
    (p, GradientLayout { capacity, zdim, features, z, targets, acts, dz })
}

/// A forward-only program of `stages` for batches of `capacity` rows: (program, input, output).
pub fn forward_program(stages: &[&Stage], capacity: usize) -> (Program, BufId, BufId) {
    let mut p = Program::default();
    let z = p.buffer("noise", capacity * stages[0].in_len());
    let params = weights(&mut p, stages);
    let mut x = z;
    for (s, w) in stages.iter().zip(params) {
        let out = p.buffer(format!("{} output", s.label), capacity * s.out_len());
        p.push(Phase::Step, forward_op(s, capacity, x, w, out));
        x = out;
    }
    (p, z, x)
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
