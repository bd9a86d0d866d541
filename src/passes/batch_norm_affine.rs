//! Every BatchNorm the fold left (one that follows no convolution, or whose input something
//! else reads too) becomes a per-channel affine map: `x * scale + shift` with
//! `scale = gamma / sqrt(var + eps)` and `shift = beta - mean * scale`, computed in f64 and
//! rounded once.
//!
//! Owns: BatchNorm -> Affine. Must not touch: other passes.

use std::sync::Arc;

use crate::graph::{Graph, NodeOp};
use crate::ops::act::Act;

pub fn run(mut graph: Graph) -> Graph {
    for i in 0..graph.nodes.len() {
        let NodeOp::BatchNorm { eps } = graph.nodes[i].op else { continue };
        let node = &graph.nodes[i];
        let Some(params) = node.inputs[1..].iter().map(|&v| graph.data(v).cloned()).collect::<Option<Vec<_>>>() else { continue };
        let (gamma, beta, mean, var) = (&params[0], &params[1], &params[2], &params[3]);
        let c = gamma.len();
        let scale: Vec<f64> = (0..c).map(|o| gamma[o] as f64 / (var[o] as f64 + eps as f64).sqrt()).collect();
        let shift: Vec<f32> = (0..c).map(|o| (beta[o] as f64 - mean[o] as f64 * scale[o]) as f32).collect();
        let scale: Vec<f32> = scale.iter().map(|&s| s as f32).collect();
        let name = node.name.clone();
        let s = graph.constant(format!("{name} scale"), vec![c], Arc::new(scale));
        let t = graph.constant(format!("{name} shift"), vec![c], Arc::new(shift));
        let node = &mut graph.nodes[i];
        node.inputs.truncate(1);
        node.inputs.extend([s, t]);
        node.op = NodeOp::Affine { axis: 0, scale: true, shift: true, act: Act::Identity };
    }
    graph
}
