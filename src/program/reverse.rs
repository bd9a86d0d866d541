//! The reverse pass, planned: which node's input-gradient runs when, reading which gradient
//! and writing which, walking the graph's nodes last to first from the gradient of the
//! output (the seed) to the gradient of the input.
//!
//! A gradient lives in a scratch slot from the step that writes it to the step that reads it
//! (the liveness of a chain: two slots, used in turn), so the backward pass needs no buffer
//! per node. The activations a step needs are the stored outputs its epilogue reads.
//!
//! Owns: the order of the input-gradients and their scratch slots. Must not touch: ops
//! (see [`super::rules`]), buffers.

use std::collections::HashMap;

use super::lower::LowerError;
use super::rules;
use crate::graph::{Graph, ValueId};
use crate::ops::act::{Act, Epilogue};

/// Where a gradient is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grad {
    /// The seed: the gradient of the output.
    Seed,
    /// Scratch slot `k`.
    Scratch(usize),
    /// The gradient of the graph's input.
    Input,
}

/// One input-gradient: node `node` from `from` to `to`, finished by `epilogue` reading the
/// stored activation `aux`.
#[derive(Debug, Clone)]
pub struct Step {
    pub node: usize,
    pub from: Grad,
    pub to: Grad,
    pub epilogue: Epilogue,
    pub aux: Option<ValueId>,
}

/// The planned reverse pass: its steps in order, how many scratch slots they use and the
/// longest row any slot holds (every slot gets that length, so any gradient fits any slot).
#[derive(Debug, Clone)]
pub struct Reverse {
    pub steps: Vec<Step>,
    pub slots: usize,
    pub slot_len: usize,
}

/// Plans the reverse pass of `graph` (one input, one output, every node checked by
/// [`rules::check`]).
pub fn plan(graph: &Graph) -> Result<Reverse, LowerError> {
    let input = graph.inputs[0];
    let out = graph.outputs[0];
    let out = rules::source(graph, out);
    let last = graph.producer(out).ok_or_else(|| LowerError("the graph's output is not computed by any node".into()))?;
    let mut pending: HashMap<usize, Grad> = HashMap::from([(last, Grad::Seed)]);
    let mut free: Vec<usize> = Vec::new();
    let (mut slots, mut slot_len) = (0, 0);
    let mut steps = Vec::new();
    for (i, node) in graph.nodes.iter().enumerate().rev() {
        let Some(from) = pending.remove(&i) else { continue };
        // The value read, and the one whose buffer it is (through reshapes, which alias).
        let read = node.inputs[0];
        let x = rules::source(graph, read);
        let mut v = read;
        loop {
            if graph.consumers(v).len() != 1 {
                return Err(LowerError(format!(
                    "value {} feeds {} nodes: summing gradients where a value fans out is not supported yet",
                    graph.value(v).name,
                    graph.consumers(v).len()
                )));
            }
            if v == x {
                break;
            }
            v = graph.nodes[graph.producer(v).expect("an alias has a producer")].inputs[0];
        }
        let step = if x == input {
            Step { node: i, from, to: Grad::Input, epilogue: Epilogue::Forward(Act::Identity), aux: None }
        } else {
            let producer = graph.producer(x).ok_or_else(|| LowerError(format!("value {} has no producer", graph.value(x).name)))?;
            free.sort_unstable_by(|a, b| b.cmp(a));
            let slot = free.pop().unwrap_or_else(|| {
                slots += 1;
                slots - 1
            });
            slot_len = slot_len.max(graph.value(x).len());
            pending.insert(producer, Grad::Scratch(slot));
            let epilogue = Epilogue::GradMask(rules::output_act(graph, &graph.nodes[producer]));
            Step { node: i, from, to: Grad::Scratch(slot), epilogue, aux: Some(x) }
        };
        if let Grad::Scratch(k) = from {
            free.push(k);
        }
        steps.push(step);
    }
    Ok(Reverse { steps, slots, slot_len })
}
