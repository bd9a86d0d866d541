//! Each activation fused into its producer's epilogue: a Conv, ConvTranspose, Affine, Add,
//! Sub, Mul or Div whose result only an activation reads applies the activation itself, and
//! the activation node goes.
//!
//! Owns: the fusion. Must not touch: other passes.

use super::{absorb, private};
use crate::graph::{Graph, NodeOp};
use crate::ops::act::Act;

pub fn run(mut graph: Graph) -> Graph {
    let mut i = 0;
    while i < graph.nodes.len() {
        let node = &graph.nodes[i];
        let candidate = match (&node.op, graph.producer(node.inputs[0])) {
            (&NodeOp::Act(act), Some(p)) if private(&graph, node.inputs[0]) => Some((act, p)),
            _ => None,
        };
        let fused = candidate.and_then(|(act, p)| match &mut graph.nodes[p].op {
            NodeOp::Conv(a) | NodeOp::ConvTranspose(a) if a.act == Act::Identity => {
                a.act = act;
                Some(p)
            }
            NodeOp::Affine { act: a, .. } | NodeOp::Add { act: a } | NodeOp::Binary { act: a, .. } if *a == Act::Identity => {
                *a = act;
                Some(p)
            }
            _ => None,
        });
        match fused {
            Some(p) => absorb(&mut graph, p, i),
            None => i += 1,
        }
    }
    graph
}
