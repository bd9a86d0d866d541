//! The reverse pass, planned: which node's input-gradient runs when, reading which gradient
//! and writing which, walking the graph's nodes last to first from the gradient of the
//! output (the seed) to the gradient of the input.
//!
//! A value read once gets its gradient from its one reader, already multiplied by the
//! derivative of its producer's activation (the reader's epilogue does it). A value read
//! several times (a residual connection, a tensor sent down two branches) gets one
//! contribution from each reader, unmultiplied, and when the walk reaches its producer they
//! are summed, the last sum multiplied by the derivative.
//!
//! A gradient lives in a scratch slot from the step that writes it to the last step that
//! reads it (the liveness of a chain: two slots, used in turn), so the backward pass needs no
//! buffer per node. The activations a step needs are the stored outputs its epilogue reads.
//!
//! Owns: the order of the input-gradients and sums, their scratch slots. Must not touch: ops
//! (see [`super::rules`]), buffers.

use std::collections::HashMap;

use super::lower::LowerError;
use super::rules;
use crate::graph::{Graph, NodeOp, ValueId};
use crate::ops::act::{Act, Epilogue};

/// Where a gradient is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Grad {
    /// The seed: the gradient of the output.
    Seed,
    /// Scratch slot `k`.
    Scratch(usize),
    /// The gradient of the graph's input.
    Input,
}

/// One step of the reverse pass.
#[derive(Debug, Clone)]
pub enum Step {
    /// Node `node`'s input-gradient with respect to its input `input`, from `from` (the
    /// gradient of its result before its activation) to `to`, finished by `epilogue` reading
    /// the stored `aux`.
    Vjp { node: usize, input: usize, from: Grad, to: Grad, epilogue: Epilogue, aux: Option<ValueId> },
    /// `to = a + b` over rows of `len`, finished by `epilogue` reading `aux`: two
    /// contributions to one gradient.
    Sum { a: Grad, b: Grad, to: Grad, epilogue: Epilogue, aux: Option<ValueId>, len: usize },
    /// `to = from * act'(aux)` (or a copy) over rows of `len`: a gradient passed on.
    Mask { from: Grad, to: Grad, act: Act, aux: Option<ValueId>, len: usize },
}

/// The planned reverse pass: its steps in order, how many scratch slots they use and the
/// longest row any slot holds (every slot gets that length, so any gradient fits any slot).
#[derive(Debug, Clone)]
pub struct Reverse {
    pub steps: Vec<Step>,
    pub slots: usize,
    pub slot_len: usize,
}

/// Scratch slots held by reference counts.
struct Slots {
    held: Vec<usize>,
    len: usize,
}

impl Slots {
    /// The lowest free slot, held once.
    fn take(&mut self, len: usize) -> Grad {
        self.len = self.len.max(len);
        let k = self.held.iter().position(|&h| h == 0).unwrap_or_else(|| {
            self.held.push(0);
            self.held.len() - 1
        });
        self.held[k] = 1;
        Grad::Scratch(k)
    }

    fn hold(&mut self, g: Grad) {
        if let Grad::Scratch(k) = g {
            self.held[k] += 1;
        }
    }

    fn release(&mut self, g: Grad) {
        if let Grad::Scratch(k) = g {
            self.held[k] -= 1;
        }
    }
}

/// The gradient a value is waiting for: its contributions so far, and whether the one there
/// is already multiplied by its producer's activation derivative.
#[derive(Default)]
struct Pending {
    parts: Vec<Grad>,
    masked: bool,
}

/// Plans the reverse pass of `graph` (one input, one output, every node checked by
/// [`rules::check`]).
pub fn plan(graph: &Graph) -> Result<Reverse, LowerError> {
    let input = graph.inputs[0];
    let out = rules::source(graph, graph.outputs[0]);
    graph.producer(out).ok_or_else(|| LowerError("the graph's output is not computed by any node".into()))?;
    // Reads of each value (through reshapes, which alias): one per activation input of a node.
    let mut uses: HashMap<ValueId, usize> = HashMap::new();
    for node in graph.nodes.iter().filter(|n| !rules::is_alias(n)) {
        for k in rules::activation_inputs(graph, node) {
            *uses.entry(rules::source(graph, node.inputs[k])).or_default() += 1;
        }
    }
    let mut pending: HashMap<ValueId, Pending> = HashMap::from([(out, Pending { parts: vec![Grad::Seed], masked: false })]);
    let mut slots = Slots { held: Vec::new(), len: 0 };
    let mut steps = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate().rev() {
        if rules::is_alias(node) {
            continue;
        }
        let v = rules::source(graph, node.outputs[0]);
        let Some(p) = pending.remove(&v) else { continue };
        let act = rules::output_act(graph, node);
        let len = graph.value(v).len();
        // The gradient of this node's result before its activation.
        let from = gather(&mut steps, &mut slots, p, act, Some(v), len, false);
        for k in rules::activation_inputs(graph, node) {
            let x = rules::source(graph, node.inputs[k]);
            let once = uses[&x] == 1;
            let producer = graph.producer(x);
            let x_act = producer.map_or(Act::Identity, |q| rules::output_act(graph, &graph.nodes[q]));
            let entry = pending.entry(x).or_default();
            if let NodeOp::Add { .. } = node.op {
                // Its input-gradient is its gradient itself: passed on as it is where the input
                // is read again elsewhere, else multiplied (or copied) into the input's own.
                if once {
                    let to = if x == input { Grad::Input } else { slots.take(graph.value(x).len()) };
                    let aux = (x_act != Act::Identity).then_some(x);
                    steps.push(Step::Mask { from, to, act: x_act, aux, len: graph.value(x).len() });
                    entry.parts.push(to);
                    entry.masked = true;
                } else {
                    slots.hold(from);
                    entry.parts.push(from);
                }
                continue;
            }
            let to = if once && x == input { Grad::Input } else { slots.take(graph.value(x).len()) };
            let (epilogue, aux) = if once && x != input && x_act != Act::Identity {
                (Epilogue::GradMask(x_act), Some(x))
            } else {
                (Epilogue::Forward(Act::Identity), None)
            };
            steps.push(Step::Vjp { node: i, input: k, from, to, epilogue, aux });
            entry.parts.push(to);
            entry.masked = once;
        }
        slots.release(from);
    }
    // The input's gradient, summed where the input is read several times.
    if let Some(p) = pending.remove(&input)
        && !(p.parts == [Grad::Input])
    {
        let len = graph.value(input).len();
        let g = gather(&mut steps, &mut slots, p, Act::Identity, None, len, true);
        if g != Grad::Input {
            steps.push(Step::Mask { from: g, to: Grad::Input, act: Act::Identity, aux: None, len });
        }
    }
    Ok(Reverse { steps, slots: slots.held.len(), slot_len: slots.len })
}

/// The one gradient `p`'s contributions make, multiplied by the derivative of `act` (read
/// from `aux`) unless already: summed pairwise, the last sum finishing it (into the graph
/// input's gradient when `to_input`).
fn gather(steps: &mut Vec<Step>, slots: &mut Slots, p: Pending, act: Act, aux: Option<ValueId>, len: usize, to_input: bool) -> Grad {
    let parts = p.parts;
    if parts.len() == 1 && (p.masked || act == Act::Identity) {
        return parts[0];
    }
    let finish = |act: Act| if act == Act::Identity { (Epilogue::Forward(Act::Identity), None) } else { (Epilogue::GradMask(act), aux) };
    if parts.len() == 1 {
        let to = slots.take(len);
        steps.push(Step::Mask { from: parts[0], to, act, aux, len });
        slots.release(parts[0]);
        return to;
    }
    let mut acc = parts[0];
    for (j, &b) in parts.iter().enumerate().skip(1) {
        let last = j == parts.len() - 1;
        let to = if last && to_input { Grad::Input } else { slots.take(len) };
        let (epilogue, aux) = if last { finish(act) } else { (Epilogue::Forward(Act::Identity), None) };
        steps.push(Step::Sum { a: acc, b, to, epilogue, aux, len });
        slots.release(acc);
        slots.release(b);
        acc = to;
    }
    acc
}
