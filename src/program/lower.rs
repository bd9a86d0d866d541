//! Lowering: a graph (after the passes) to programs of ops. The probe's program runs, per
//! step, every node forward, records the logits, runs every node's input-gradient backward
//! ([`super::rules`], in the order [`super::reverse`] plans) and moves the noise; a gradient
//! program the forward and the input-gradient once; a forward program only the first.
//!
//! Rows come in slots, one per target run together: a slot of the probe is `2 n` rows (every
//! image up, then every image down), a slot of the gradient program `rows_per_target` rows.
//! The targets are a buffer of one entry per slot, written before a run.
//! Weights are shared with the graph ([`Program::shared`]), never copied.
//!
//! Owns: graphs -> programs, the probe's buffer layout. Must not touch: backends, batching.

use std::collections::{HashMap, HashSet};

use super::reverse::{self, Grad, Step};
use super::{Phase, Program, rules};
use crate::graph::{Graph, ValueId};
use crate::model::Network;
use crate::ops::act::{Act, Epilogue};
use crate::ops::add::Add;
use crate::ops::covariance::{ColumnMean, CovArgs, Covariance};
use crate::ops::noise_update::{NoiseUpdate, UpdateRule};
use crate::ops::record::Record;
use crate::ops::seed_grad::SeedGrad;
use crate::ops::{BufId, Op};

/// A graph the lowering cannot run, or a generator and classifier that do not fit together
/// as a generator followed by a classifier of logits.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LowerError(pub String);

/// The generator's graph followed by the classifier's, checked to end in logits.
pub fn chain(generator: &Network, classifier: &Network) -> Result<Graph, LowerError> {
    let graph = generator.graph.then(&classifier.graph).map_err(|e| LowerError(e.to_string()))?;
    check_logits(&graph)?;
    Ok(graph)
}

/// Fails unless `graph` outputs logits: one value per feature, 1x1, with no activation.
pub fn check_logits(graph: &Graph) -> Result<(), LowerError> {
    let (Some(&out), Some(last)) = (graph.outputs.first(), graph.nodes.last()) else {
        return Err(LowerError("the network has no layers".into()));
    };
    let producer = &graph.nodes[graph.producer(out).ok_or_else(|| LowerError("the network's output is not computed".into()))?];
    if rules::output_act(graph, producer) != Act::Identity {
        return Err(LowerError(format!("the classifier's last layer {} must output logits (no activation)", producer.name)));
    }
    let shape = &graph.value(out).shape;
    if shape.len() == 3 && shape[1] * shape[2] != 1 {
        return Err(LowerError(format!(
            "the classifier's last layer {} outputs {}x{} maps, expected 1x1 logits",
            last.name, shape[1], shape[2]
        )));
    }
    Ok(())
}

/// Checks every node has a rule, and the graph one input and one output: what every program
/// of `graph` needs, before anything is built.
pub fn lowerable(graph: &Graph) -> Result<(), LowerError> {
    if graph.inputs.len() != 1 || graph.outputs.len() != 1 {
        return Err(LowerError(format!(
            "the graph has {} inputs and {} outputs; one of each is supported",
            graph.inputs.len(),
            graph.outputs.len()
        )));
    }
    if graph.nodes.is_empty() {
        return Err(LowerError("the network has no layers".into()));
    }
    graph.nodes.iter().try_for_each(|n| rules::check(graph, n))
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
    /// Output of each node, in order.
    pub acts: Vec<BufId>,
    /// The graph's output: the logits.
    pub output: BufId,
    pub start: BufId,
    pub history: BufId,
    pub dz: BufId,
    pub acc: BufId,
    pub cov: BufId,
}

impl ProbeLayout {
    pub fn logits(&self) -> BufId {
        self.output
    }
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

/// Which node outputs keep a buffer of their own after the forward pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    /// Every one (the gradient program, whose callers read every node's output).
    All,
    /// Those the reverse pass reads (the stored activations its epilogues read, the operands
    /// of products and quotients) and the output; the others share buffers by liveness.
    Backward,
}

/// The values the reverse pass of `graph` reads besides gradients, and its output.
fn needed_backward(graph: &Graph) -> Result<HashSet<ValueId>, LowerError> {
    let plan = reverse::plan(graph)?;
    let mut needed = HashSet::from([rules::source(graph, graph.outputs[0])]);
    for step in &plan.steps {
        match *step {
            Step::Vjp { aux, .. } | Step::Sum { aux, .. } | Step::Mask { aux, .. } => needed.extend(aux),
        }
    }
    for node in &graph.nodes {
        needed.extend(rules::vjp_reads(node).iter().map(|&k| rules::source(graph, node.inputs[k])));
    }
    Ok(needed)
}

/// The node outputs of `graph` outside `needed`, each with its shared buffer (a slot) and its
/// row length: a slot is taken again once the last node reading its value has run.
fn transient(graph: &Graph, needed: &HashSet<ValueId>) -> HashMap<ValueId, (usize, usize)> {
    let mut last_read: HashMap<ValueId, usize> = HashMap::new();
    for (i, node) in graph.nodes.iter().enumerate().filter(|(_, n)| !rules::is_alias(n)) {
        for &v in &node.inputs {
            last_read.insert(rules::source(graph, v), i);
        }
    }
    let mut free_after: Vec<usize> = Vec::new();
    let mut out = HashMap::new();
    for (i, node) in graph.nodes.iter().enumerate().filter(|(_, n)| !rules::is_alias(n)) {
        let v = node.outputs[0];
        if needed.contains(&v) {
            continue;
        }
        let until = last_read.get(&v).copied().unwrap_or(i);
        let k = match free_after.iter().position(|&f| f < i) {
            Some(k) => k,
            None => {
                free_after.push(0);
                free_after.len() - 1
            }
        };
        free_after[k] = until;
        out.insert(v, (k, graph.value(v).len()));
    }
    out
}

/// The buffers of one forward and input-gradient pass, shared by the probe's program and the
/// gradient program: a buffer per graph value that the ops read or write.
struct Passes<'g> {
    graph: &'g Graph,
    capacity: usize,
    z: BufId,
    targets: BufId,
    /// Activations and constants.
    bufs: HashMap<ValueId, BufId>,
    /// Constants the rules add for a node (by index), beyond its inputs.
    tables: HashMap<usize, Vec<BufId>>,
    acts: Vec<BufId>,
    output: BufId,
}

impl<'g> Passes<'g> {
    /// The input, the targets (`slots` entries; none without a backward pass), every node's
    /// constants, then every node's output, for batches of `capacity` rows.
    fn new(p: &mut Program, graph: &'g Graph, capacity: usize, slots: Option<usize>, keep: Keep) -> Result<Passes<'g>, LowerError> {
        lowerable(graph)?;
        let z = p.buffer("noise", capacity * graph.input_len());
        let targets = slots.map(|s| p.buffer("targets", s));
        let mut bufs = HashMap::from([(graph.inputs[0], z)]);
        let mut tables = HashMap::new();
        for (i, node) in graph.nodes.iter().enumerate() {
            let names = rules::param_names(node);
            for (k, &v) in node.inputs.iter().enumerate() {
                if let Some(data) = graph.data(v) {
                    let role = k.checked_sub(1).and_then(|j| names.get(j)).copied().unwrap_or("constant");
                    bufs.entry(v).or_insert_with(|| p.shared(format!("{} {role}", node.name), data.clone()));
                }
            }
            let extra: Vec<BufId> =
                rules::tables(graph, node).into_iter().map(|(what, t)| p.constant(format!("{} {what}", node.name), t)).collect();
            if !extra.is_empty() {
                tables.insert(i, extra);
            }
        }
        // Outputs nothing reads after the forward pass share buffers by liveness.
        let shared = match keep {
            Keep::All => HashMap::new(),
            Keep::Backward => transient(graph, &needed_backward(graph)?),
        };
        let mut pool: Vec<Option<BufId>> = vec![None; shared.values().map(|&(k, _)| k + 1).max().unwrap_or(0)];
        for (k, slot) in pool.iter_mut().enumerate() {
            let len = shared.values().filter(|&&(j, _)| j == k).map(|&(_, len)| len).max().unwrap_or(0);
            *slot = Some(p.buffer(format!("activations {}", k + 1), capacity * len));
        }
        let mut acts = Vec::new();
        for node in &graph.nodes {
            let out = node.outputs[0];
            let b = if rules::is_alias(node) {
                bufs[&node.inputs[0]]
            } else if let Some(&(k, _)) = shared.get(&out) {
                pool[k].expect("made above")
            } else {
                p.buffer(format!("{} output", node.name), capacity * graph.value(out).len())
            };
            bufs.insert(out, b);
            acts.push(b);
        }
        let output = bufs[&graph.outputs[0]];
        Ok(Passes { graph, capacity, z, targets: targets.unwrap_or(BufId(usize::MAX)), bufs, tables, acts, output })
    }

    /// The buffers node `i` reads: one per input, then its tables.
    fn inputs(&self, i: usize) -> Vec<BufId> {
        let node = &self.graph.nodes[i];
        let mut b: Vec<BufId> = node.inputs.iter().map(|v| self.bufs[v]).collect();
        b.extend(self.tables.get(&i).into_iter().flatten());
        b
    }

    /// Every node forward, from the input to the output.
    fn push_forward(&self, p: &mut Program) {
        for (i, node) in self.graph.nodes.iter().enumerate().filter(|(_, n)| !rules::is_alias(n)) {
            let output = self.bufs[&node.outputs[0]];
            for op in rules::forward(self.graph, node, self.capacity, &self.inputs(i), output) {
                p.push(Phase::Step, op);
            }
        }
    }

    /// The input-gradient of every node, last first, from the seed to `dz`: (seed, dz, the
    /// ops). The seed's buffer, then the scratch slots' and `dz`'s are made here.
    fn backward(&self, p: &mut Program) -> Result<(BufId, BufId, Vec<Op>), LowerError> {
        let plan = reverse::plan(self.graph)?;
        let features = self.graph.output_len();
        let seed = p.buffer("seed gradient", self.capacity * features);
        let names = ["gradient a", "gradient b"];
        let scratch: Vec<BufId> = (0..plan.slots)
            .map(|k| p.buffer(names.get(k).map_or_else(|| format!("gradient {k}"), |s| s.to_string()), self.capacity * plan.slot_len))
            .collect();
        let dz = p.buffer("noise gradient", self.capacity * self.graph.input_len());
        let buf = |g: Grad| match g {
            Grad::Seed => seed,
            Grad::Scratch(k) => scratch[k],
            Grad::Input => dz,
        };
        let n = self.capacity;
        let aux_buf = |v: Option<crate::graph::ValueId>| v.map(|v| self.bufs[&v]);
        let ops = plan
            .steps
            .iter()
            .map(|step| match *step {
                Step::Vjp { node: i, input, from, to, epilogue, aux } => {
                    let node = &self.graph.nodes[i];
                    rules::input_gradient(self.graph, node, input, n, buf(from), &self.inputs(i), aux_buf(aux), buf(to), epilogue)
                }
                Step::Sum { a, b, to, epilogue, aux, len } => Op::Add(Add {
                    label: "gradient sum".into(),
                    len: n * len,
                    a: buf(a),
                    b: buf(b),
                    aux: aux_buf(aux),
                    output: buf(to),
                    epilogue,
                }),
                Step::Mask { from, to, act, aux, len } => {
                    rules::pass_on("gradient pass-on".into(), n, len, buf(from), aux_buf(aux), buf(to), Epilogue::GradMask(act))
                }
            })
            .collect();
        Ok((seed, dz, ops))
    }
}

/// The probe program of `shape`. The targets are a buffer, the run's step count a step parameter.
pub fn probe_program(graph: &Graph, shape: ProbeShape, update: UpdateRule) -> Result<(Program, ProbeLayout), LowerError> {
    let ProbeShape { capacity, images: n, steps, slots } = shape;
    let mut p = Program::default();
    let zdim = graph.input_len();
    let features = graph.output_len();
    let io = Passes::new(&mut p, graph, capacity, Some(slots), Keep::Backward)?;
    let logits = io.output;
    let (seed, dz, backward) = io.backward(&mut p)?;
    let start = p.buffer("start logits", capacity * features);
    let history = p.buffer("history", slots * 2 * steps * n * features);
    let acc = p.buffer("noise gradient sum", capacity * zdim);
    let mean = p.buffer("change mean", features);
    let cov = p.buffer("covariance", features * features);

    let seed_op = SeedGrad { rows: capacity, features, scale: 1.0 / n as f32, rows_per_target: 2 * n, targets: io.targets, out: seed };
    p.push(Phase::Setup, Op::SeedGrad(seed_op));
    io.push_forward(&mut p);
    p.push(Phase::Step, Op::Record(Record { n, steps, slots, features, capacity, logits, start, history }));
    for op in backward {
        p.push(Phase::Step, op);
    }
    p.push(Phase::Step, Op::NoiseUpdate(NoiseUpdate { n, zdim, capacity, rule: update, grad: dz, acc, z: io.z }));
    let cov_args = CovArgs { rows_per_step: 2 * n, steps, slots, features, x: history, mean, cov };
    p.push(Phase::Finish, Op::ColumnMean(ColumnMean(cov_args.clone())));
    p.push(Phase::Finish, Op::Covariance(Covariance(cov_args)));
    let Passes { z, targets, acts, output, .. } = io;
    let layout = ProbeLayout { capacity, images: n, steps, slots, zdim, features, z, targets, acts, output, start, history, dz, acc, cov };
    Ok((p, layout))
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
    /// Output of each node; [`GradientLayout::output`] holds the logits.
    pub acts: Vec<BufId>,
    pub output: BufId,
    /// The input-gradient of `scale` times each row's target logit.
    pub dz: BufId,
}

/// A program of one forward and one input-gradient pass for batches of `capacity` rows: the
/// gradient of `scale` times its slot's target logit with respect to each row's input, slots
/// of `rows_per_target` rows, each slot's target read from a buffer of `slots` entries. With
/// `scale` 1 the rows of slot k hold the gradients of logit `targets[k]`, one per input: a
/// Jacobian's rows, one target at a time.
pub fn gradient_program(
    graph: &Graph,
    capacity: usize,
    rows_per_target: usize,
    slots: usize,
    scale: f32,
) -> Result<(Program, GradientLayout), LowerError> {
    let mut p = Program::default();
    let zdim = graph.input_len();
    let features = graph.output_len();
    let io = Passes::new(&mut p, graph, capacity, Some(slots), Keep::All)?;
    let (seed, dz, backward) = io.backward(&mut p)?;
    p.push(Phase::Setup, Op::SeedGrad(SeedGrad { rows: capacity, features, scale, rows_per_target, targets: io.targets, out: seed }));
    io.push_forward(&mut p);
    for op in backward {
        p.push(Phase::Step, op);
    }
    let Passes { z, targets, acts, output, .. } = io;
    Ok((p, GradientLayout { capacity, zdim, features, z, targets, acts, output, dz }))
}

/// A forward-only program of `graph` for batches of `capacity` rows: (program, input, output).
pub fn forward_program(graph: &Graph, capacity: usize) -> Result<(Program, BufId, BufId), LowerError> {
    let mut p = Program::default();
    let io = Passes::new(&mut p, graph, capacity, None, Keep::All)?;
    io.push_forward(&mut p);
    Ok((p, io.z, io.output))
}
