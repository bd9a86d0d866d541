//! Dead nodes removed: a node none of whose outputs reaches a graph output is never run.
//!
//! Owns: liveness of nodes. Must not touch: other passes.

use std::collections::HashSet;

use crate::graph::Graph;

pub fn run(mut graph: Graph) -> Graph {
    let mut live: HashSet<_> = graph.outputs.iter().copied().collect();
    let mut keep = vec![false; graph.nodes.len()];
    for (i, node) in graph.nodes.iter().enumerate().rev() {
        if node.outputs.iter().any(|o| live.contains(o)) {
            keep[i] = true;
            live.extend(node.inputs.iter().copied());
        }
    }
    let mut k = keep.into_iter();
    graph.nodes.retain(|_| k.next().unwrap_or(false));
    graph
}
