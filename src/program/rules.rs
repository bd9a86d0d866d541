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
use crate::ops::bilinear::{self, Bilinear};
use crate::ops::binary::{BinOp, Binary};
use crate::ops::conv_general::ConvGeneral;
use crate::ops::conv_transpose2d::ConvTranspose;
use crate::ops::conv2d::{Conv, ConvArgs, ConvDims};
use crate::ops::copy::{Blocks, Copy};
use crate::ops::pad::Pad;
use crate::ops::pool::{Pool, PoolKind};
use crate::ops::resize::Resize;

/// What the lowering runs.
pub const SUPPORTED: &str = "Conv and ConvTranspose (any kernel, strides, pads, dilations, groups and output padding), with BatchNormalization folded in; Linear layers; BatchNormalization elsewhere, products and sums with constants, sums, differences, products and quotients of two tensors of one shape, Relu, LeakyRelu, Tanh and Sigmoid (each fused into the node before it where it can be); nearest and bilinear resizing; max and average pooling; constant padding; Concat; reshapes";

/// Fails, naming the node and what is supported, unless a rule runs node `node`.
pub fn check(graph: &Graph, node: &Node) -> Result<(), LowerError> {
    let refuse = |why: &str| Err(LowerError(format!("node {} ({}): {why}; supported: {SUPPORTED}", node.name, node.op.describe())));
    match &node.op {
        NodeOp::BatchNorm { .. } => refuse("a BatchNormalization whose statistics are not constants"),
        NodeOp::Concat { .. } => Ok(()),
        _ if graph.value(node.inputs[0]).is_constant() => refuse("its input is a constant"),
        _ => Ok(()),
    }
}

/// The activation node `node` applies to its result: what the input-gradient of a node
/// reading that result must multiply by. A reshape applies what its input's producer applied.
pub fn output_act(graph: &Graph, node: &Node) -> Act {
    match &node.op {
        NodeOp::Conv(a) | NodeOp::ConvTranspose(a) => a.act,
        NodeOp::BatchNorm { .. }
        | NodeOp::ResizeNearest { .. }
        | NodeOp::ResizeBilinear { .. }
        | NodeOp::Concat { .. }
        | NodeOp::Pool { .. }
        | NodeOp::Pad { .. } => Act::Identity,
        NodeOp::Act(a) | NodeOp::Affine { act: a, .. } | NodeOp::Add { act: a } | NodeOp::Binary { act: a, .. } => *a,
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

/// The inputs of node `node` its input-gradient reaches: the computed ones it reads as
/// tensors (not its weights and other constants).
pub fn activation_inputs(graph: &Graph, node: &Node) -> Vec<usize> {
    let computed = |k: &usize| !graph.value(node.inputs[*k]).is_constant();
    match node.op {
        NodeOp::Add { .. } | NodeOp::Binary { .. } | NodeOp::Concat { .. } => (0..node.inputs.len()).filter(computed).collect(),
        _ => vec![0],
    }
}

/// The inputs of node `node` whose stored values its input-gradient reads (a product's and a
/// quotient's operands, a max pooling's input); every other input-gradient reads only gradients and constants (and
/// the stored activations of its epilogue, which the reverse plan names).
pub fn vjp_reads(node: &Node) -> &'static [usize] {
    match node.op {
        NodeOp::Binary { op: BinOp::Mul | BinOp::Div, .. } => &[0, 1],
        // A max finds each window's maximum again.
        NodeOp::Pool { kind: PoolKind::Max, .. } => &[0],
        _ => &[],
    }
}

/// The names of a node's constant inputs after the first, in order (the buffers' labels).
pub fn param_names(node: &Node) -> &'static [&'static str] {
    match node.op {
        NodeOp::Conv(_) | NodeOp::ConvTranspose(_) => &["weight", "bias"],
        NodeOp::BatchNorm { .. } => &["scale", "bias", "mean", "var"],
        NodeOp::Affine { scale: false, .. } => &["shift"],
        NodeOp::Affine { .. } => &["scale", "shift"],
        _ => &[],
    }
}

/// Constants node `node`'s ops read beyond its inputs (labels and contents): a bilinear
/// resize's tables. Their buffers follow the inputs' in the buffers the rules are given.
pub fn tables(graph: &Graph, node: &Node) -> Vec<(&'static str, Vec<f32>)> {
    match node.op {
        NodeOp::ResizeBilinear { size, inv, coord } => {
            let x = &graph.value(node.inputs[0]).shape;
            vec![("tables", bilinear::tables(coord, inv, [x[1], x[2]], size))]
        }
        _ => Vec::new(),
    }
}

/// Node `node` (a Conv or ConvTranspose) as a kernel for `n` rows: forward, or (`adjoint`)
/// its input-gradient, the adjoint convolution with the same weights. Square kernels of one
/// stride and padding run on the tiled kernels, every other shape on the general one.
#[allow(clippy::too_many_arguments)]
fn conv(
    graph: &Graph,
    node: &Node,
    n: usize,
    input: BufId,
    params: &[BufId],
    aux: Option<BufId>,
    output: BufId,
    epilogue: Epilogue,
    adjoint: bool,
) -> Op {
    let (NodeOp::Conv(a) | NodeOp::ConvTranspose(a)) = &node.op else { unreachable!("only convolutions") };
    let transpose = matches!(node.op, NodeOp::ConvTranspose(_)) != adjoint;
    let (x, y) = (&graph.value(node.inputs[0]).shape, &graph.value(node.outputs[0]).shape);
    let (from, to) = if adjoint { (y, x) } else { (x, y) };
    let what = if adjoint { "input-gradient" } else { "forward" };
    let label = format!("{} {what}", node.name);
    let bias = if adjoint { None } else { params.get(1).copied() };
    let Some((k, stride, pad)) = a.as_square() else {
        return Op::ConvGeneral(ConvGeneral {
            label,
            transpose,
            n,
            x: [from[0], from[1], from[2]],
            y: [to[0], to[1], to[2]],
            kernel: a.kernel,
            strides: a.strides,
            pads: [a.pads[0], a.pads[1]],
            dilations: a.dilations,
            group: a.group,
            input,
            weight: params[0],
            bias,
            aux,
            output,
            epilogue,
        });
    };
    let dims = ConvDims { n, cin: from[0], hin: from[1], win: from[2], cout: to[0], hout: to[1], wout: to[2], k, stride, pad };
    let args = ConvArgs { label, dims, input, weight: params[0], bias, aux, output, epilogue };
    if transpose { Op::ConvTranspose2d(ConvTranspose(args)) } else { Op::Conv2d(Conv(args)) }
}

/// The sizes of a Concat's blocks: (blocks per row, each input's block length, the output's).
fn concat_blocks(graph: &Graph, node: &Node) -> (usize, Vec<usize>, usize) {
    let NodeOp::Concat { axis } = node.op else { unreachable!("only Concat") };
    let out = &graph.value(node.outputs[0]).shape;
    let inner = |s: &[usize]| s[axis..].iter().product::<usize>();
    let lens = node.inputs.iter().map(|&v| inner(&graph.value(v).shape)).collect();
    (out[..axis].iter().product(), lens, inner(out))
}

/// A Pad node's planes, and its input's and output's last two sizes.
fn pad_planes(graph: &Graph, node: &Node) -> (usize, [usize; 2], [usize; 2]) {
    let (x, y) = (&graph.value(node.inputs[0]).shape, &graph.value(node.outputs[0]).shape);
    let k = x.len();
    (x[..k - 2].iter().product(), [x[k - 2], x[k - 1]], [y[k - 2], y[k - 1]])
}

/// Node `node` forward for `n` rows: from `inputs` (a buffer per input of the node, then per
/// [`tables`] entry) to `output`.
pub fn forward(graph: &Graph, node: &Node, n: usize, inputs: &[BufId], output: BufId) -> Vec<Op> {
    let label = format!("{} forward", node.name);
    let input = inputs[0];
    let len = n * graph.value(node.outputs[0]).len();
    let op = match &node.op {
        NodeOp::Conv(a) | NodeOp::ConvTranspose(a) => {
            conv(graph, node, n, input, &inputs[1..], None, output, Epilogue::Forward(a.act), false)
        }
        NodeOp::Act(_) | NodeOp::Affine { .. } => {
            Op::Affine(affine(graph, node, n, input, &inputs[1..], None, output, Epilogue::Forward(output_act(graph, node)), false))
        }
        NodeOp::ResizeNearest { .. } => Op::Resize(resize(graph, node, n, input, None, output, None)),
        NodeOp::ResizeBilinear { .. } => Op::Bilinear(bilinear(graph, node, n, inputs, None, output, None)),
        NodeOp::Add { act } => Op::Add(Add { label, len, a: input, b: inputs[1], aux: None, output, epilogue: Epilogue::Forward(*act) }),
        NodeOp::Binary { op, act } => Op::Binary(Binary {
            label,
            op: *op,
            len,
            operands: vec![input, inputs[1]],
            aux: None,
            output,
            epilogue: Epilogue::Forward(*act),
        }),
        NodeOp::Pad { pads, value } => {
            let (planes, [hin, win], [hout, wout]) = pad_planes(graph, node);
            let (top, left, value, epilogue) = (pads[0], pads[1], *value, Epilogue::Forward(Act::Identity));
            Op::Pad(Pad { label, planes: n * planes, hin, win, hout, wout, top, left, value, input, aux: None, output, epilogue })
        }
        NodeOp::Pool { .. } => Op::Pool(pool(graph, node, n, input, None, output, None)),
        NodeOp::Concat { .. } => {
            let (blocks, lens, total) = concat_blocks(graph, node);
            let mut offset = 0;
            return lens
                .iter()
                .enumerate()
                .map(|(k, &len)| {
                    let to = Blocks { stride: total, offset };
                    offset += len;
                    Op::Copy(Copy {
                        label: format!("{} forward (input {})", node.name, k + 1),
                        blocks: n * blocks,
                        len,
                        input: inputs[k],
                        from: Blocks { stride: len, offset: 0 },
                        aux: None,
                        output,
                        to,
                        epilogue: Epilogue::Forward(Act::Identity),
                    })
                })
                .collect();
        }
        NodeOp::BatchNorm { .. } | NodeOp::Reshape(_) => unreachable!("check refused node {}", node.name),
    };
    vec![op]
}

/// A gather kernel's label, direction and backward activation: forward (`epilogue` `None`),
/// or the input-gradient finished by `epilogue`'s activation.
fn direction(node: &Node, epilogue: Option<Epilogue>) -> (String, bool, Act) {
    match epilogue {
        None => (format!("{} forward", node.name), false, Act::Identity),
        Some(e) => (format!("{} input-gradient", node.name), true, e.act()),
    }
}

/// Resize node `node` as the `resize` kernel for `n` rows, forward (`epilogue` `None`), or
/// its input-gradient finished by `epilogue` reading `aux`.
fn resize(graph: &Graph, node: &Node, n: usize, input: BufId, aux: Option<BufId>, output: BufId, epilogue: Option<Epilogue>) -> Resize {
    let NodeOp::ResizeNearest { size, inv } = node.op else { unreachable!("only resize nodes") };
    let x = &graph.value(node.inputs[0]).shape;
    let (label, backward, act) = direction(node, epilogue);
    Resize { label, planes: n * x[0], hin: x[1], win: x[2], hout: size[0], wout: size[1], inv, input, aux, output, backward, act }
}

/// Pooling node `node` for `n` rows, forward (`epilogue` `None`), or its input-gradient from
/// `input` finished by `epilogue`, reading the pooled input `stored`.
fn pool(graph: &Graph, node: &Node, n: usize, input: BufId, stored: Option<BufId>, output: BufId, epilogue: Option<Epilogue>) -> Pool {
    let NodeOp::Pool { kind, window, .. } = node.op else { unreachable!("only pooling nodes") };
    let (x, y) = (&graph.value(node.inputs[0]).shape, &graph.value(node.outputs[0]).shape);
    let (label, backward, act) = direction(node, epilogue);
    Pool { label, kind, window, planes: n * x[0], hin: x[1], win: x[2], hout: y[1], wout: y[2], input, stored, output, backward, act }
}

/// Bilinear resize node `node` for `n` rows, forward (`epilogue` `None`) from `inputs[0]`, or
/// its input-gradient from `inputs[0]` finished by `epilogue`; its tables are `inputs[1]`.
fn bilinear(
    graph: &Graph,
    node: &Node,
    n: usize,
    inputs: &[BufId],
    aux: Option<BufId>,
    output: BufId,
    epilogue: Option<Epilogue>,
) -> Bilinear {
    let NodeOp::ResizeBilinear { size, .. } = node.op else { unreachable!("only bilinear resize nodes") };
    let x = &graph.value(node.inputs[0]).shape;
    let (label, backward, act) = direction(node, epilogue);
    Bilinear {
        label,
        planes: n * x[0],
        hin: x[1],
        win: x[2],
        hout: size[0],
        wout: size[1],
        tables: inputs[1],
        input: inputs[0],
        aux,
        output,
        backward,
        act,
    }
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

/// `output = grad * act'(aux)` over `n` rows of `len`: a gradient passed on as it is.
pub fn pass_on(label: String, n: usize, len: usize, grad: BufId, aux: Option<BufId>, output: BufId, epilogue: Epilogue) -> Op {
    Op::Affine(Affine {
        label,
        rows: n,
        row_len: len,
        channels: 1,
        spatial: len,
        input: grad,
        scale: None,
        shift: None,
        aux,
        output,
        epilogue,
    })
}

/// The input-gradient of node `node` for `n` rows with respect to its input `k`: from `grad`
/// (the gradient of its pre-activation result) to `output` (input `k`'s), finished by
/// `epilogue` reading `aux`; `inputs` are the node's buffers as [`forward`] reads them.
#[allow(clippy::too_many_arguments)]
pub fn input_gradient(
    graph: &Graph,
    node: &Node,
    k: usize,
    n: usize,
    grad: BufId,
    inputs: &[BufId],
    aux: Option<BufId>,
    output: BufId,
    epilogue: Epilogue,
) -> Op {
    let label = format!("{} input-gradient", node.name);
    let len = graph.value(node.inputs[k]).len();
    match &node.op {
        NodeOp::Conv(_) | NodeOp::ConvTranspose(_) => conv(graph, node, n, grad, &inputs[1..], aux, output, epilogue, true),
        NodeOp::Act(_) | NodeOp::Affine { .. } => Op::Affine(affine(graph, node, n, grad, &inputs[1..], aux, output, epilogue, true)),
        NodeOp::ResizeNearest { .. } => Op::Resize(resize(graph, node, n, grad, aux, output, Some(epilogue))),
        NodeOp::ResizeBilinear { .. } => Op::Bilinear(bilinear(graph, node, n, &[grad, inputs[1]], aux, output, Some(epilogue))),
        NodeOp::Add { .. } => pass_on(label, n, len, grad, aux, output, epilogue),
        NodeOp::Pool { kind, .. } => {
            // A max reads its input again; the input is also what the epilogue reads.
            let stored = if *kind == PoolKind::Max { Some(inputs[0]) } else { aux };
            Op::Pool(pool(graph, node, n, grad, stored, output, Some(epilogue)))
        }
        NodeOp::Binary { op, .. } => {
            let (a, b) = (inputs[0], inputs[1]);
            let (op, operands) = match (op, k) {
                (BinOp::Sub, 0) => return pass_on(label, n, len, grad, aux, output, epilogue),
                (BinOp::Sub, _) => (BinOp::Neg, vec![grad]),
                (BinOp::Mul, 0) => (BinOp::Mul, vec![grad, b]),
                (BinOp::Mul, _) => (BinOp::Mul, vec![grad, a]),
                (BinOp::Div, 0) => (BinOp::Div, vec![grad, b]),
                // The denominator is what the epilogue reads, when it reads anything.
                _ if aux.is_some_and(|x| x != b) => unreachable!("the epilogue of {label} reads the denominator"),
                _ => {
                    return Op::Binary(Binary {
                        label,
                        op: BinOp::DivDenominator,
                        len: n * len,
                        operands: vec![grad, a],
                        aux: Some(b),
                        output,
                        epilogue,
                    });
                }
            };
            Op::Binary(Binary { label, op, len: n * len, operands, aux, output, epilogue })
        }
        NodeOp::Pad { pads, .. } => {
            let (planes, [hin, win], [hout, wout]) = pad_planes(graph, node);
            let (top, left) = (-pads[0], -pads[1]);
            Op::Pad(Pad {
                label,
                planes: n * planes,
                hin: hout,
                win: wout,
                hout: hin,
                wout: win,
                top,
                left,
                value: 0.0,
                input: grad,
                aux,
                output,
                epilogue,
            })
        }
        NodeOp::Concat { .. } => {
            let (blocks, lens, total) = concat_blocks(graph, node);
            let offset = lens[..k].iter().sum();
            let len = lens[k];
            Op::Copy(Copy {
                label: format!("{label} (input {})", k + 1),
                blocks: n * blocks,
                len,
                input: grad,
                from: Blocks { stride: total, offset },
                aux,
                output,
                to: Blocks { stride: len, offset: 0 },
                epilogue,
            })
        }
        NodeOp::BatchNorm { .. } | NodeOp::Reshape(_) => unreachable!("check refused node {}", node.name),
    }
}
