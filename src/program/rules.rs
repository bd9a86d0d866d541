//! The per-op rules of the lowering, one table: how each node of a graph (after the passes)
//! runs forward, and its input-gradient (vector-Jacobian product) with respect to its
//! activation input, each as ops over buffers.
//!
//! A rule's input-gradient writes the gradient of the node's input through an
//! [`Epilogue`]: `GradMask(act)` multiplies it by the derivative of the activation the
//! input's producer applied (read from the stored input), so the producer's own rule starts
//! from the gradient of its pre-activation result; `Forward(Identity)` leaves it as it is
//! (the graph's input).
//!
//! Owns: node -> ops. Must not touch: buffer allocation, the walk's order, backends.

use super::lower::LowerError;
use crate::graph::{Graph, Node, NodeOp};
use crate::ops::BufId;
use crate::ops::Op;
use crate::ops::act::{Act, Epilogue};
use crate::ops::add::Add;
use crate::ops::affine::Affine;
use crate::ops::conv_transpose2d::ConvTranspose;
use crate::ops::conv2d::{Conv, ConvArgs, ConvDims};
use crate::ops::resize::Resize;

/// What the lowering runs.
pub const SUPPORTED: &str = "Conv and ConvTranspose (square kernel, same stride and padding on both axes, no dilation or groups), with BatchNormalization folded in; Linear layers; BatchNormalization elsewhere, products and sums with constants, sums of two tensors, Relu, LeakyRelu and Tanh (each fused into the node before it where it can be); nearest resizing; reshapes";

/// Fails, naming the node and what is supported, unless a rule runs node `node`.
pub fn check(graph: &Graph, node: &Node) -> Result<(), LowerError> {
    let refuse = |why: &str| Err(LowerError(format!("node {} ({}): {why}; supported: {SUPPORTED}", node.name, node.op.describe())));
    match &node.op {
        NodeOp::Conv(a) | NodeOp::ConvTranspose(a) => {
            if a.as_square().is_none() {
                return refuse("this convolution's shape is not supported yet");
            }
            if graph.value(node.inputs[0]).is_constant() {
                return refuse("its input is a constant");
            }
            Ok(())
        }
        NodeOp::Reshape(_) | NodeOp::Affine { .. } | NodeOp::Act(_) | NodeOp::ResizeNearest { .. } | NodeOp::Add { .. } => Ok(()),
        NodeOp::BatchNorm { .. } => refuse("a BatchNormalization whose statistics are not constants"),
    }
}

/// The activation node `node` applies to its result: what the input-gradient of a node
/// reading that result must multiply by. A reshape applies what its input's producer applied.
pub fn output_act(graph: &Graph, node: &Node) -> Act {
    match &node.op {
        NodeOp::Conv(a) | NodeOp::ConvTranspose(a) => a.act,
        NodeOp::BatchNorm { .. } | NodeOp::ResizeNearest { .. } => Act::Identity,
        NodeOp::Act(a) | NodeOp::Affine { act: a, .. } | NodeOp::Add { act: a } => *a,
        NodeOp::Reshape(_) => graph.producer(node.inputs[0]).map_or(Act::Identity, |p| output_act(graph, &graph.nodes[p])),
    }
}

/// Whether node `node`'s output is its input's buffer (no op runs it).
pub fn is_alias(node: &Node) -> bool {
    matches!(node.op, NodeOp::Reshape(_))
}

/// The value whose buffer `v` is: `v` itself, or, through reshapes, the value they view.
pub fn source(graph: &Graph, mut v: crate::graph::ValueId) -> crate::graph::ValueId {
    while let Some(p) = graph.producer(v).filter(|&p| is_alias(&graph.nodes[p])) {
        v = graph.nodes[p].inputs[0];
    }
    v
}

/// The names of a node's constant inputs, in order (the buffers' labels).
pub fn param_names(node: &Node) -> &'static [&'static str] {
    match node.op {
        NodeOp::Conv(_) | NodeOp::ConvTranspose(_) => &["weight", "bias"],
        NodeOp::BatchNorm { .. } => &["scale", "bias", "mean", "var"],
        NodeOp::Affine { scale: false, .. } => &["shift"],
        NodeOp::Affine { .. } => &["scale", "shift"],
        NodeOp::Act(_) | NodeOp::Reshape(_) | NodeOp::ResizeNearest { .. } | NodeOp::Add { .. } => &[],
    }
}

/// The convolution sizes of node `node` for `n` rows, forward.
fn conv_dims(graph: &Graph, node: &Node, n: usize) -> ConvDims {
    let (k, stride, pad) = match &node.op {
        NodeOp::Conv(a) | NodeOp::ConvTranspose(a) => a.as_square().expect("check refused other convolutions"),
        _ => unreachable!("only convolutions have convolution sizes"),
    };
    let (x, y) = (&graph.value(node.inputs[0]).shape, &graph.value(node.outputs[0]).shape);
    ConvDims { n, cin: x[0], hin: x[1], win: x[2], cout: y[0], hout: y[1], wout: y[2], k, stride, pad }
}

/// Node `node` forward for `n` rows: `input` to `output`, with its constants `params`.
pub fn forward(graph: &Graph, node: &Node, n: usize, input: BufId, params: &[BufId], output: BufId) -> Op {
    match &node.op {
        NodeOp::Conv(a) | NodeOp::ConvTranspose(a) => {
            let args = ConvArgs {
                label: format!("{} forward", node.name),
                dims: conv_dims(graph, node, n),
                input,
                weight: params[0],
                bias: params.get(1).copied(),
                aux: None,
                output,
                epilogue: Epilogue::Forward(a.act),
            };
            match node.op {
                NodeOp::Conv(_) => Op::Conv2d(Conv(args)),
                _ => Op::ConvTranspose2d(ConvTranspose(args)),
            }
        }
        NodeOp::Act(_) | NodeOp::Affine { .. } => {
            Op::Affine(affine(graph, node, n, input, params, None, output, Epilogue::Forward(output_act(graph, node)), false))
        }
        NodeOp::ResizeNearest { .. } => Op::Resize(resize(graph, node, n, input, None, output, None)),
        NodeOp::Add { act } => Op::Add(Add {
            label: format!("{} forward", node.name),
            len: n * graph.value(node.outputs[0]).len(),
            a: input,
            b: params[0],
            aux: None,
            output,
            epilogue: Epilogue::Forward(*act),
        }),
        _ => unreachable!("check refused node {}", node.name),
    }
}

/// Resize node `node` as the `resize` kernel for `n` rows, forward (`epilogue` `None`), or
/// its input-gradient finished by `epilogue` reading `aux`.
fn resize(graph: &Graph, node: &Node, n: usize, input: BufId, aux: Option<BufId>, output: BufId, epilogue: Option<Epilogue>) -> Resize {
    let NodeOp::ResizeNearest { size, inv } = node.op else { unreachable!("only resize nodes") };
    let x = &graph.value(node.inputs[0]).shape;
    let (label, backward, act) = match epilogue {
        None => (format!("{} forward", node.name), false, Act::Identity),
        Some(e) => (format!("{} input-gradient", node.name), true, e.act()),
    };
    Resize { label, planes: n * x[0], hin: x[1], win: x[2], hout: size[0], wout: size[1], inv, input, aux, output, backward, act }
}

/// Node `node` (an Affine or an activation) as the `affine` kernel for `n` rows: forward with
/// its scale and shift, or its input-gradient (`backward`: the scale alone, then `epilogue`
/// reading `aux`).
#[allow(clippy::too_many_arguments)]
fn affine(
    graph: &Graph,
    node: &Node,
    n: usize,
    input: BufId,
    params: &[BufId],
    aux: Option<BufId>,
    output: BufId,
    epilogue: Epilogue,
    backward: bool,
) -> Affine {
    let row = &graph.value(node.inputs[0]).shape;
    let row_len: usize = row.iter().product();
    let (scale, shift, channels, axis) = match node.op {
        NodeOp::Affine { axis, scale, shift, .. } => {
            let scale_buf = scale.then(|| params[0]);
            let shift_buf = shift.then(|| params[scale as usize]);
            (scale_buf, shift_buf, graph.value(node.inputs[1]).len(), axis)
        }
        _ => (None, None, 1, 0),
    };
    let spatial = if channels == 1 { row_len } else { row[axis + 1..].iter().product() };
    let (label, shift) = match backward {
        false => (format!("{} forward", node.name), shift),
        true => (format!("{} input-gradient", node.name), None),
    };
    Affine { label, rows: n, row_len, channels, spatial, input, scale, shift, aux, output, epilogue }
}

/// The input-gradient of node `node` for `n` rows: from `grad` (the gradient of its
/// pre-activation result) to `output` (its input's), finished by `epilogue` reading `aux`.
/// A convolution's is the adjoint convolution with the same weights.
#[allow(clippy::too_many_arguments)]
pub fn input_gradient(
    graph: &Graph,
    node: &Node,
    n: usize,
    grad: BufId,
    params: &[BufId],
    aux: Option<BufId>,
    output: BufId,
    epilogue: Epilogue,
) -> Op {
    match &node.op {
        NodeOp::Conv(_) | NodeOp::ConvTranspose(_) => {
            let f = conv_dims(graph, node, n);
            let dims = ConvDims { cin: f.cout, hin: f.hout, win: f.wout, cout: f.cin, hout: f.hin, wout: f.win, ..f };
            let args = ConvArgs {
                label: format!("{} input-gradient", node.name),
                dims,
                input: grad,
                weight: params[0],
                bias: None,
                aux,
                output,
                epilogue,
            };
            match node.op {
                NodeOp::Conv(_) => Op::ConvTranspose2d(ConvTranspose(args)),
                _ => Op::Conv2d(Conv(args)),
            }
        }
        NodeOp::Act(_) | NodeOp::Affine { .. } => Op::Affine(affine(graph, node, n, grad, params, aux, output, epilogue, true)),
        NodeOp::ResizeNearest { .. } => Op::Resize(resize(graph, node, n, grad, aux, output, Some(epilogue))),
        _ => unreachable!("check refused node {}", node.name),
    }
}
