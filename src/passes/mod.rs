//! Stage 3 of the pipeline: passes that rewrite a graph into what the kernels compute best,
//! without changing what it computes (in exact arithmetic).
//!
//! [`optimise`] runs them in order: nodes whose results nobody reads removed ([`dead`]), so
//! they keep nothing from fusing; eval-mode BatchNorm folded into the convolution before it
//! ([`fold_batch_norm`]), and every other one made a per-channel affine map
//! ([`batch_norm_affine`]); each activation fused into its producer's epilogue
//! ([`fuse_activation`]). A pass
//! that cannot apply to a node leaves it as it is; the lowering says which nodes it cannot
//! run.
//!
//! Owns: graph rewrites. Must not touch: programs, backends, files.

pub mod batch_norm_affine;
pub mod dead;
pub mod fold_batch_norm;
pub mod fuse_activation;

use crate::graph::{Graph, ValueId};

/// Every pass, in order.
pub fn optimise(graph: Graph) -> Graph {
    let graph = dead::run(graph);
    let graph = fold_batch_norm::run(graph);
    let graph = batch_norm_affine::run(graph);
    fuse_activation::run(graph)
}

/// Whether `v` is read by exactly one node and is not a graph output: a value a pass may
/// fuse away.
pub(crate) fn private(graph: &Graph, v: ValueId) -> bool {
    graph.consumers(v).len() == 1 && !graph.outputs.contains(&v)
}

/// Removes node `i`, handing its output to the node that produced its first input (which
/// must be `private` to node `i`): the producer now writes the removed node's output.
pub(crate) fn absorb(graph: &mut Graph, producer: usize, i: usize) {
    let node = graph.nodes.remove(i);
    graph.nodes[producer].outputs = node.outputs;
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::graph::{ConvAttrs, NodeOp};
    use crate::ops::act::Act;

    /// x (2, 3, 3) -> 1x1 conv (3 channels, no bias) -> BatchNorm -> ReLU; `extra` also
    /// reads the conv's output.
    fn conv_bn_relu(transpose: bool, extra: bool) -> Graph {
        let mut g = Graph::default();
        let x = g.input("x", vec![2, 3, 3]);
        let w = g.constant(
            "w",
            vec![if transpose { 2 } else { 3 }, if transpose { 3 } else { 2 }, 1, 1],
            Arc::new(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]),
        );
        let op = if transpose { NodeOp::ConvTranspose(ConvAttrs::square(1, 1, 0)) } else { NodeOp::Conv(ConvAttrs::square(1, 1, 0)) };
        let y = g.node("conv", op, vec![x, w]).unwrap();
        let c = |g: &mut Graph, name: &str, v: [f32; 3]| g.constant(name, vec![3], Arc::new(v.to_vec()));
        let (gamma, beta, mean, var) = (
            c(&mut g, "g", [2.0, 1.0, 0.5]),
            c(&mut g, "b", [0.1, 0.2, 0.3]),
            c(&mut g, "m", [1.0, -1.0, 0.0]),
            c(&mut g, "v", [3.0, 0.0, 1.0]),
        );
        let z = g.node("bn", NodeOp::BatchNorm { eps: 1.0 }, vec![y, gamma, beta, mean, var]).unwrap();
        let r = g.node("relu", NodeOp::Act(Act::Relu), vec![z]).unwrap();
        g.outputs.push(r);
        if extra {
            let t = g.node("tanh", NodeOp::Act(Act::Tanh), vec![y]).unwrap();
            g.outputs.push(t);
        }
        g
    }

    /// BatchNorm's scale gamma / sqrt(var + eps) with eps 1 is (1, 1, 0.5/sqrt 2) by hand.
    #[test]
    fn batch_norm_folds_into_the_convolution_before_it() {
        for transpose in [false, true] {
            let g = optimise(conv_bn_relu(transpose, false));
            assert_eq!(g.nodes.len(), 1, "{}", g.listing());
            let n = &g.nodes[0];
            assert_eq!(n.outputs, g.outputs);
            let (NodeOp::Conv(a) | NodeOp::ConvTranspose(a)) = &n.op else { panic!("{:?}", n.op) };
            assert_eq!(a.act, Act::Relu);
            let s3 = 0.5 / 2f64.sqrt();
            let want_w: Vec<f32> = if transpose {
                // (cin 2, cout 3): element (c, o) scaled by channel o's factor.
                [1.0, 2.0, 3.0 * s3, 4.0, 5.0, 6.0 * s3].map(|v| v as f32).to_vec()
            } else {
                // (cout 3, cin 2): rows scaled.
                [1.0, 2.0, 3.0, 4.0, 5.0 * s3, 6.0 * s3].map(|v| v as f32).to_vec()
            };
            assert_eq!(**g.data(n.inputs[1]).unwrap(), want_w, "transpose {transpose}");
            let want_b = [(-1.0 + 0.1) as f32, (1.0 + 0.2) as f32, (0.0 * s3 + 0.3) as f32];
            assert_eq!(**g.data(n.inputs[2]).unwrap(), want_b, "transpose {transpose}");
        }
    }

    #[test]
    fn a_shared_result_is_not_folded_and_its_batch_norm_becomes_an_affine_map() {
        let g = optimise(conv_bn_relu(false, true));
        let ops: Vec<&str> = g.nodes.iter().map(|n| n.op.name()).collect();
        assert_eq!(ops, ["Conv", "Affine", "Tanh"], "{}", g.listing());
        // The BatchNorm is a per-channel affine map, with the ReLU fused: scale 1, 1, 0.5/sqrt 2
        // and shift beta - mean * scale.
        let n = &g.nodes[1];
        assert_eq!(n.op, NodeOp::Affine { axis: 0, scale: true, shift: true, act: Act::Relu });
        let s3 = 0.5 / 2f64.sqrt();
        assert_eq!(**g.data(n.inputs[1]).unwrap(), [1.0, 1.0, s3 as f32]);
        assert_eq!(**g.data(n.inputs[2]).unwrap(), [(0.1 - 1.0) as f32, (0.2 + 1.0) as f32, 0.3]);
    }

    #[test]
    fn nodes_that_reach_no_output_are_removed() {
        let mut g = conv_bn_relu(false, true);
        g.outputs.truncate(1);
        let g = optimise(g);
        assert_eq!(g.nodes.len(), 1, "{}", g.listing());
    }
}
