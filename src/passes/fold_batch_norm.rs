//! Eval-mode BatchNorm folded into the convolution before it:
//! `y = (conv(x) + b - mean) / sqrt(var + eps) * gamma + beta` is a convolution with each
//! output channel's weights scaled by `gamma / sqrt(var + eps)` and bias
//! `(b - mean) * scale + beta`, computed in f64 and rounded once.
//!
//! It applies where the BatchNorm's input comes from a Conv or ConvTranspose without a fused
//! activation and nothing else reads it. Elsewhere the BatchNorm stays a node of its own.
//!
//! Owns: the fold. Must not touch: other passes.

use std::sync::Arc;

use super::{absorb, private};
use crate::graph::{Graph, NodeOp};
use crate::ops::act::Act;

pub fn run(mut graph: Graph) -> Graph {
    let mut i = 0;
    while i < graph.nodes.len() {
        if let Some(producer) = foldable(&graph, i) {
            fold(&mut graph, producer, i);
            absorb(&mut graph, producer, i);
        } else {
            i += 1;
        }
    }
    graph
}

/// The convolution node BatchNorm node `i` folds into, if it can.
fn foldable(graph: &Graph, i: usize) -> Option<usize> {
    let node = &graph.nodes[i];
    let NodeOp::BatchNorm { .. } = node.op else { return None };
    let x = node.inputs[0];
    let producer = graph.producer(x)?;
    let fits = match &graph.nodes[producer].op {
        NodeOp::Conv(a) | NodeOp::ConvTranspose(a) => a.act == Act::Identity,
        _ => false,
    };
    (fits && private(graph, x) && node.inputs[1..].iter().all(|&v| graph.data(v).is_some())).then_some(producer)
}

/// Scales the producer's weight and replaces its bias; the new constants are the producer's own.
fn fold(graph: &mut Graph, producer: usize, i: usize) {
    let bn = &graph.nodes[i];
    let NodeOp::BatchNorm { eps } = bn.op else { unreachable!("foldable checked the op") };
    let param = |k: usize| graph.data(bn.inputs[k]).expect("foldable checked the constants").clone();
    let (gamma, beta, mean, var) = (param(1), param(2), param(3), param(4));
    let conv = &graph.nodes[producer];
    let (transpose, group) = match &conv.op {
        NodeOp::ConvTranspose(a) => (true, a.group),
        NodeOp::Conv(a) => (false, a.group),
        _ => unreachable!("foldable checked the op"),
    };
    let wv = graph.value(conv.inputs[1]);
    let (wshape, wdata) = (wv.shape.clone(), wv.data.clone().expect("a convolution's weight is a constant"));
    let cout = gamma.len();
    let scale: Vec<f64> = (0..cout).map(|o| gamma[o] as f64 / (var[o] as f64 + eps as f64).sqrt()).collect();
    // Output channel of weight element `e`: Conv (cout, cin/g, kh, kw); ConvTranspose
    // (cin, cout/g, kh, kw), whose channel `j` of input channel `c` is output `g(c) cout/g + j`.
    let taps = wshape[2] * wshape[3];
    let per_group_in = wshape[0] / group.max(1);
    let channel = |e: usize| {
        if transpose {
            let c = e / (wshape[1] * taps);
            (c / per_group_in) * wshape[1] + (e / taps) % wshape[1]
        } else {
            e / (wshape[1] * taps)
        }
    };
    let weight: Vec<f32> = wdata.iter().enumerate().map(|(e, &w)| (w as f64 * scale[channel(e)]) as f32).collect();
    let old_bias = conv.inputs.get(2).and_then(|&b| graph.data(b).cloned());
    let bias: Vec<f32> =
        (0..cout).map(|o| ((old_bias.as_ref().map_or(0.0, |b| b[o]) as f64 - mean[o] as f64) * scale[o] + beta[o] as f64) as f32).collect();
    let (wname, bname) = (graph.value(conv.inputs[1]).name.clone(), format!("{}.bias (folded {})", graph.nodes[producer].name, bn.name));
    let w = graph.constant(format!("{wname} (folded {})", bn.name), wshape, Arc::new(weight));
    let b = graph.constant(bname, vec![cout], Arc::new(bias));
    let inputs = &mut graph.nodes[producer].inputs;
    inputs.truncate(1);
    inputs.extend([w, b]);
}
