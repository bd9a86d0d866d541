//! The ops a graph node can compute, with their attributes and shape inference.
//!
//! Attributes follow ONNX's: a convolution's `pads` are `[top, left, bottom, right]`, its
//! weight `(cout, cin / group, kh, kw)` (Conv) or `(cin, cout / group, kh, kw)`
//! (ConvTranspose). An activation fused into a convolution by a pass is its `act`.
//!
//! Owns: op attributes, output shapes, multiply-add counts. Must not touch: lowering.

use super::{Graph, GraphError, Node, Value};
use crate::ops::act::Act;
use crate::ops::bilinear::Coord;
use crate::ops::binary::BinOp;
use crate::ops::pool::{PoolKind, Window};

/// The attributes of a Conv or ConvTranspose node.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvAttrs {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    /// `[top, left, bottom, right]`.
    pub pads: [usize; 4],
    pub dilations: [usize; 2],
    /// ConvTranspose only: extra rows and columns at the bottom and right.
    pub output_padding: [usize; 2],
    pub group: usize,
    /// The activation applied to the result (bias added), fused by a pass; `Identity` as read.
    pub act: Act,
}

impl ConvAttrs {
    /// A square kernel `k` with stride `stride` and padding `pad` on every side.
    pub fn square(k: usize, stride: usize, pad: usize) -> ConvAttrs {
        ConvAttrs {
            kernel: [k, k],
            strides: [stride, stride],
            pads: [pad; 4],
            dilations: [1, 1],
            output_padding: [0, 0],
            group: 1,
            act: Act::Identity,
        }
    }

    /// `Some((k, stride, pad))` when the kernel is square, one group, undilated, with the
    /// same stride on both axes and the same padding on every side.
    pub fn as_square(&self) -> Option<(usize, usize, usize)> {
        let [k, kw] = self.kernel;
        let [s, sw] = self.strides;
        let p = self.pads[0];
        (k == kw
            && s == sw
            && self.pads.iter().all(|&q| q == p)
            && self.dilations == [1, 1]
            && self.output_padding == [0, 0]
            && self.group == 1)
            .then_some((k, s, p))
    }
}

/// What a node computes.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeOp {
    /// `nn.Conv2d`: inputs x `(cin, h, w)`, weight, optional bias `(cout)`.
    Conv(ConvAttrs),
    /// `nn.ConvTranspose2d`: inputs x `(cin, h, w)`, weight, optional bias `(cout)`.
    ConvTranspose(ConvAttrs),
    /// Eval-mode BatchNorm over axis 0 of a row: inputs x, scale, bias, mean, var, each `(c)`.
    BatchNorm { eps: f32 },
    /// An elementwise activation.
    Act(Act),
    /// `act(x * scale + shift)` per channel along `axis` of a row (a BatchNorm that follows no
    /// convolution, products and sums with constants): inputs x, then the scale if `scale`,
    /// then the shift if `shift`, each `(C)` with C the row's size along `axis`, or `(1)`.
    Affine { axis: usize, scale: bool, shift: bool, act: Act },
    /// Nearest-neighbour resizing of `(c, h, w)` to `(c, size[0], size[1])`, ONNX's
    /// asymmetric coordinates and floor rounding: output `(oy, ox)` copies input
    /// `(floor(oy * inv[0]), floor(ox * inv[1]))`, `inv` the inverse of the scale.
    ResizeNearest { size: [usize; 2], inv: [f32; 2] },
    /// `act(a + b)` of two computed tensors of one shape (a residual connection).
    Add { act: Act },
    /// `act(a - b)`, `act(a * b)` or `act(a / b)` of two computed tensors of one shape.
    Binary { op: BinOp, act: Act },
    /// The inputs, computed or constant, one after the other along `axis` of a row.
    Concat { axis: usize },
    /// The last two axes of a row padded with `value`: `[top, left, bottom, right]` rows and
    /// columns added (negative: removed).
    Pad { pads: [isize; 4], value: f32 },
    /// Max or average pooling of `(c, h, w)`: `window` (leading pads), `end_pads` the pads at
    /// the bottom and right, `ceil_mode` rounding the output size up as PyTorch does.
    Pool { kind: PoolKind, window: Window, end_pads: [usize; 2], ceil_mode: bool },
    /// Bilinear resizing of `(c, h, w)` to `(c, size[0], size[1])`, source coordinates by
    /// `coord`, `inv` the inverse of the scale along each axis.
    ResizeBilinear { size: [usize; 2], inv: [f32; 2], coord: Coord },
    /// The same values, one row seen with another shape (Reshape, Flatten, Squeeze,
    /// Unsqueeze): an alias of its input's buffer.
    Reshape(Vec<usize>),
}

impl NodeOp {
    /// The op's name, as ONNX spells it.
    pub fn name(&self) -> &'static str {
        match self {
            NodeOp::Conv(_) => "Conv",
            NodeOp::ConvTranspose(_) => "ConvTranspose",
            NodeOp::BatchNorm { .. } => "BatchNormalization",
            NodeOp::Reshape(_) => "Reshape",
            NodeOp::Affine { .. } => "Affine",
            NodeOp::ResizeNearest { .. } | NodeOp::ResizeBilinear { .. } => "Resize",
            NodeOp::Add { .. } => "Add",
            NodeOp::Binary { op, .. } => op.name(),
            NodeOp::Concat { .. } => "Concat",
            NodeOp::Pool { kind: PoolKind::Max, .. } => "MaxPool",
            NodeOp::Pool { .. } => "AveragePool",
            NodeOp::Pad { .. } => "Pad",
            NodeOp::Act(a) => match a {
                Act::Identity => "Identity",
                Act::Relu => "Relu",
                Act::LeakyRelu(_) => "LeakyRelu",
                Act::Tanh => "Tanh",
                Act::Sigmoid => "Sigmoid",
                Act::Clip(_) => "Clip",
                Act::HardSigmoid(_) => "HardSigmoid",
            },
        }
    }

    /// The op with its attributes, on one line.
    pub fn describe(&self) -> String {
        match self {
            NodeOp::Conv(a) | NodeOp::ConvTranspose(a) => {
                let mut s = format!("{} kernel {}x{} strides {:?} pads {:?}", self.name(), a.kernel[0], a.kernel[1], a.strides, a.pads);
                if a.dilations != [1, 1] {
                    s += &format!(" dilations {:?}", a.dilations);
                }
                if a.output_padding != [0, 0] {
                    s += &format!(" output_padding {:?}", a.output_padding);
                }
                if a.group != 1 {
                    s += &format!(" group {}", a.group);
                }
                if a.act != Act::Identity {
                    s += &format!(" + {}", NodeOp::Act(a.act).name());
                }
                s
            }
            NodeOp::BatchNorm { eps } => format!("{} eps {eps}", self.name()),
            NodeOp::Add { act } if *act != Act::Identity => format!("Add + {}", NodeOp::Act(*act).name()),
            NodeOp::Add { .. } => "Add".into(),
            NodeOp::Binary { op, act } if *act != Act::Identity => format!("{} + {}", op.name(), NodeOp::Act(*act).name()),
            NodeOp::Binary { op, .. } => op.name().into(),
            NodeOp::Concat { axis } => format!("Concat along axis {}", axis + 1),
            NodeOp::Pool { kind, window: w, end_pads, ceil_mode } => {
                let mut s = format!(
                    "{} kernel {}x{} strides {:?} pads {:?}",
                    self.name(),
                    w.kernel[0],
                    w.kernel[1],
                    w.strides,
                    [w.pads[0], w.pads[1], end_pads[0], end_pads[1]]
                );
                if w.dilations != [1, 1] {
                    s += &format!(" dilations {:?}", w.dilations);
                }
                if *ceil_mode {
                    s += " ceil_mode";
                }
                if let PoolKind::Average { include_pad: true } = kind {
                    s += " count_include_pad";
                }
                s
            }
            NodeOp::Pad { pads, value } => format!("Pad [top, left, bottom, right] {pads:?} with {value}"),
            NodeOp::ResizeBilinear { size, inv, coord } => {
                format!("Resize bilinear to {}x{} ({}, inverse scales {:?})", size[0], size[1], coord.name(), inv)
            }
            NodeOp::ResizeNearest { size, inv } => format!("Resize nearest to {}x{} (source = floor(out * {:?}))", size[0], size[1], inv),
            NodeOp::Affine { axis, scale, shift, act } => {
                let mut s = format!("Affine along axis {}", axis + 1);
                s += match (scale, shift) {
                    (true, true) => " (scale, shift)",
                    (true, false) => " (scale)",
                    (false, true) => " (shift)",
                    (false, false) => "",
                };
                if *act != Act::Identity {
                    s += &format!(" + {}", NodeOp::Act(*act).name());
                }
                s
            }
            NodeOp::Reshape(shape) => format!("Reshape to (N, {})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
            NodeOp::Act(Act::LeakyRelu(s)) => format!("LeakyRelu alpha {s}"),
            NodeOp::Act(Act::Clip(hi)) => format!("Clip to [0, {hi}]"),
            NodeOp::Act(Act::HardSigmoid(alpha)) => format!("HardSigmoid alpha {alpha}"),
            NodeOp::Act(_) => self.name().to_string(),
        }
    }

    /// The shape of one row of the node's output, from its inputs' shapes.
    pub fn infer(&self, node: &str, inputs: &[&Value]) -> Result<Vec<usize>, GraphError> {
        let op = self.name();
        let arity = |range: std::ops::RangeInclusive<usize>, expected: &'static str| {
            if range.contains(&inputs.len()) {
                Ok(())
            } else {
                Err(GraphError::Arity { node: node.into(), op, expected, found: inputs.len() })
            }
        };
        let shape_err = |detail: String| GraphError::Shape { node: node.into(), op, detail };
        let constant = |i: usize| {
            if inputs[i].is_constant() {
                Ok(())
            } else {
                Err(GraphError::NotConstant { node: node.into(), op, input: inputs[i].name.clone() })
            }
        };
        match self {
            NodeOp::Conv(a) | NodeOp::ConvTranspose(a) => {
                arity(2..=3, "2 or 3")?;
                constant(1)?;
                let transpose = matches!(self, NodeOp::ConvTranspose(_));
                let x = &inputs[0].shape;
                let w = &inputs[1].shape;
                if x.len() != 3 || w.len() != 4 {
                    return Err(shape_err(format!("input {:?} and weight {:?} must be (c, h, w) and 4-D", x, w)));
                }
                if a.group == 0 || a.strides.contains(&0) || a.dilations.contains(&0) || a.kernel.contains(&0) {
                    return Err(shape_err("zero kernel, stride, dilation or group".into()));
                }
                let (cin, cout) = if transpose { (w[0], w[1] * a.group) } else { (w[1] * a.group, w[0]) };
                if cin != x[0] || [w[2], w[3]] != a.kernel || cout % a.group != 0 || cin % a.group != 0 {
                    return Err(shape_err(format!(
                        "weight {:?} does not fit input channels {}, kernel {:?} and group {}",
                        w, x[0], a.kernel, a.group
                    )));
                }
                if inputs.len() == 3 {
                    constant(2)?;
                    if inputs[2].shape != [cout] {
                        return Err(shape_err(format!("bias {:?} should be [{cout}]", inputs[2].shape)));
                    }
                }
                let mut out = vec![cout, 0, 0];
                for axis in 0..2 {
                    let span = a.dilations[axis] * (a.kernel[axis] - 1) + 1;
                    let (pad, size) = (a.pads[axis] + a.pads[axis + 2], x[axis + 1]);
                    let o = if transpose {
                        ((size - 1) * a.strides[axis] + span + a.output_padding[axis]).checked_sub(pad)
                    } else {
                        (size + pad).checked_sub(span).map(|d| d / a.strides[axis] + 1)
                    };
                    out[axis + 1] = match o {
                        Some(o) if o > 0 && size > 0 => o,
                        _ => {
                            return Err(shape_err(format!(
                                "input of {}x{} is too small for kernel {:?} with pads {:?}",
                                x[1], x[2], a.kernel, a.pads
                            )));
                        }
                    };
                }
                Ok(out)
            }
            NodeOp::BatchNorm { eps } => {
                arity(5..=5, "5")?;
                let c = inputs[0].shape.first().copied().unwrap_or(0);
                for (i, v) in inputs.iter().enumerate().skip(1) {
                    constant(i)?;
                    if v.shape != [c] {
                        return Err(shape_err(format!("{} has shape {:?}, expected [{c}]", v.name, v.shape)));
                    }
                }
                let var = inputs[4].data.as_ref().expect("checked constant");
                if !eps.is_finite() || var.iter().any(|&v| (v as f64 + *eps as f64).is_nan() || v as f64 + *eps as f64 <= 0.0) {
                    return Err(shape_err(format!("running variance + epsilon ({eps}) must be positive")));
                }
                Ok(inputs[0].shape.clone())
            }
            NodeOp::Act(a) => {
                arity(1..=1, "1")?;
                if !a.slope().is_finite() {
                    return Err(shape_err(format!("slope {} is not finite", a.slope())));
                }
                Ok(inputs[0].shape.clone())
            }
            NodeOp::Affine { axis, scale, shift, act } => {
                let want = 1 + *scale as usize + *shift as usize;
                if inputs.len() != want {
                    return Err(GraphError::Arity { node: node.into(), op, expected: "1 to 3", found: inputs.len() });
                }
                for i in 1..want {
                    constant(i)?;
                    let c = inputs[i].len();
                    if inputs[i].shape.len() != 1 || (c != 1 && inputs[0].shape.get(*axis) != Some(&c)) {
                        return Err(shape_err(format!(
                            "{} of shape {:?} does not fit axis {} of rows of shape {:?}",
                            inputs[i].name,
                            inputs[i].shape,
                            axis + 1,
                            inputs[0].shape
                        )));
                    }
                }
                if !act.slope().is_finite() {
                    return Err(shape_err(format!("slope {} is not finite", act.slope())));
                }
                Ok(inputs[0].shape.clone())
            }
            NodeOp::Add { act } => {
                arity(2..=2, "2")?;
                if inputs.iter().any(|v| v.is_constant()) || inputs[0].shape != inputs[1].shape || !act.slope().is_finite() {
                    return Err(shape_err(format!(
                        "adds rows of shapes {:?} and {:?}: two computed tensors of one shape are added",
                        inputs[0].shape, inputs[1].shape
                    )));
                }
                Ok(inputs[0].shape.clone())
            }
            NodeOp::Binary { act, .. } => {
                arity(2..=2, "2")?;
                if inputs.iter().any(|v| v.is_constant()) || inputs[0].shape != inputs[1].shape || !act.slope().is_finite() {
                    return Err(shape_err(format!(
                        "combines rows of shapes {:?} and {:?}: two computed tensors of one shape are supported",
                        inputs[0].shape, inputs[1].shape
                    )));
                }
                Ok(inputs[0].shape.clone())
            }
            NodeOp::Concat { axis } => {
                if inputs.is_empty() {
                    return Err(GraphError::Arity { node: node.into(), op, expected: "1 or more", found: 0 });
                }
                let first = &inputs[0].shape;
                let fits = |s: &[usize]| s.len() == first.len() && (0..s.len()).all(|i| i == *axis || s[i] == first[i]);
                if *axis >= first.len() || !inputs.iter().all(|v| fits(&v.shape)) || inputs.iter().all(|v| v.is_constant()) {
                    let shapes: Vec<_> = inputs.iter().map(|v| v.shape.clone()).collect();
                    return Err(shape_err(format!("cannot join rows of shapes {shapes:?} along axis {}", axis + 1)));
                }
                let mut out = first.clone();
                out[*axis] = inputs.iter().map(|v| v.shape[*axis]).sum();
                Ok(out)
            }
            NodeOp::Pad { pads, value } => {
                arity(1..=1, "1")?;
                let x = &inputs[0].shape;
                let grow = |size: usize, a: isize, b: isize| size as isize + a + b;
                if x.len() < 2 || !value.is_finite() || pads.iter().any(|p| p.unsigned_abs() > 1 << 20) {
                    return Err(shape_err(format!("pads {pads:?} of rows of shape {x:?} with value {value}")));
                }
                let (h, w) = (grow(x[x.len() - 2], pads[0], pads[2]), grow(x[x.len() - 1], pads[1], pads[3]));
                if h <= 0 || w <= 0 {
                    return Err(shape_err(format!("pads {pads:?} remove all of rows of shape {x:?}")));
                }
                let mut out = x.clone();
                let k = out.len();
                out[k - 2] = h as usize;
                out[k - 1] = w as usize;
                Ok(out)
            }
            NodeOp::Pool { kind, window: w, end_pads, ceil_mode } => {
                arity(1..=1, "1")?;
                let x = &inputs[0].shape;
                let bad = w.kernel.contains(&0) || w.strides.contains(&0) || w.dilations.contains(&0);
                // PyTorch's rule: a pad at most half the window, so every window holds an input.
                let pads_fit = (0..2).all(|a| 2 * w.pads[a].max(end_pads[a]) <= w.kernel[a]);
                if x.len() != 3 || bad || !pads_fit || (matches!(kind, PoolKind::Average { .. }) && w.dilations != [1, 1]) {
                    return Err(shape_err(format!("pooling rows of shape {x:?} with {}", self.describe())));
                }
                let mut out = vec![x[0], 0, 0];
                for a in 0..2 {
                    let span = w.dilations[a] * (w.kernel[a] - 1) + 1;
                    let padded = x[a + 1] + w.pads[a] + end_pads[a];
                    let Some(room) = padded.checked_sub(span) else {
                        return Err(shape_err(format!("input of {}x{} is smaller than the window", x[1], x[2])));
                    };
                    let mut o = if *ceil_mode { room.div_ceil(w.strides[a]) } else { room / w.strides[a] } + 1;
                    // The last window must start inside the input or its leading pad.
                    if *ceil_mode && (o - 1) * w.strides[a] >= x[a + 1] + w.pads[a] {
                        o -= 1;
                    }
                    out[a + 1] = o;
                }
                Ok(out)
            }
            NodeOp::ResizeBilinear { size, inv, .. } => {
                arity(1..=1, "1")?;
                let x = &inputs[0].shape;
                if x.len() != 3 || size.contains(&0) || !inv.iter().all(|v| v.is_finite() && *v > 0.0) || size.iter().any(|&s| s > 1 << 16)
                {
                    return Err(shape_err(format!("resizing rows of shape {x:?} to {size:?} with inverse scales {inv:?}")));
                }
                Ok(vec![x[0], size[0], size[1]])
            }
            NodeOp::ResizeNearest { size, inv } => {
                arity(1..=1, "1")?;
                let x = &inputs[0].shape;
                if x.len() != 3 || size.contains(&0) || !inv.iter().all(|v| v.is_finite() && *v > 0.0) {
                    return Err(shape_err(format!("resizing rows of shape {x:?} to {size:?} with inverse scales {inv:?}")));
                }
                if size[0] > 64 * x[1] || size[1] > 64 * x[2] {
                    return Err(shape_err("scales above 64 are not supported".into()));
                }
                Ok(vec![x[0], size[0], size[1]])
            }
            NodeOp::Reshape(shape) => {
                arity(1..=1, "1")?;
                if super::checked_len(shape) != Some(inputs[0].len()) {
                    return Err(shape_err(format!("cannot view a row of shape {:?} as {:?}", inputs[0].shape, shape)));
                }
                Ok(shape.clone())
            }
        }
    }

    /// Multiply-adds of node `n` for one row.
    pub fn macs(&self, g: &Graph, n: &Node) -> u64 {
        match self {
            NodeOp::Conv(_) => g.value(n.outputs[0]).len() as u64 * g.value(n.inputs[1]).shape[1..].iter().product::<usize>() as u64,
            NodeOp::ConvTranspose(_) => {
                g.value(n.inputs[0]).len() as u64 * g.value(n.inputs[1]).shape[1..].iter().product::<usize>() as u64
            }
            NodeOp::BatchNorm { .. }
            | NodeOp::Act(_)
            | NodeOp::Reshape(_)
            | NodeOp::Affine { .. }
            | NodeOp::ResizeNearest { .. }
            | NodeOp::ResizeBilinear { .. }
            | NodeOp::Binary { .. }
            | NodeOp::Concat { .. }
            | NodeOp::Pad { .. }
            | NodeOp::Pool { .. }
            | NodeOp::Add { .. } => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn conv_out(transpose: bool, x: [usize; 3], w: [usize; 4], attrs: ConvAttrs) -> Result<Vec<usize>, GraphError> {
        let mut g = Graph::default();
        let i = g.input("x", x.to_vec());
        let wv = g.constant("w", w.to_vec(), Arc::new(vec![0.0; w.iter().product()]));
        let op = if transpose { NodeOp::ConvTranspose(attrs) } else { NodeOp::Conv(attrs) };
        let y = g.node("n", op, vec![i, wv])?;
        Ok(g.value(y).shape.clone())
    }

    /// Output sizes as `torch.nn.Conv2d` / `ConvTranspose2d` document them (worked by hand).
    #[test]
    fn convolution_shapes_follow_pytorch() {
        let mut a = ConvAttrs::square(3, 2, 1);
        assert_eq!(conv_out(false, [3, 7, 10], [5, 3, 3, 3], a.clone()).unwrap(), [5, 4, 5]);
        // kernel 3x2, strides (2, 3), pads top 1 left 0 bottom 2 right 1, dilation (2, 1):
        // h: (7 + 3 - 2*2 - 1) / 2 + 1 = 3; w: (10 + 1 - 1 - 1) / 3 + 1 = 4.
        a = ConvAttrs { kernel: [3, 2], strides: [2, 3], pads: [1, 0, 2, 1], dilations: [2, 1], ..a };
        assert_eq!(conv_out(false, [3, 7, 10], [5, 3, 3, 2], a.clone()).unwrap(), [5, 3, 4]);
        // Transposed: h (7-1)*2 - 3 + 2*(3-1) + 1 + 1 = 15; w (10-1)*3 - 1 + 1*(2-1) + 0 + 1 = 28.
        a.output_padding = [1, 0];
        assert_eq!(conv_out(true, [3, 7, 10], [3, 5, 3, 2], a).unwrap(), [5, 15, 28]);
        // Groups: weight (cout, cin / group, k, k).
        let g2 = ConvAttrs { group: 3, ..ConvAttrs::square(1, 1, 0) };
        assert_eq!(conv_out(false, [6, 4, 4], [9, 2, 1, 1], g2).unwrap(), [9, 4, 4]);
    }

    #[test]
    fn misfit_convolutions_are_refused_naming_the_node() {
        let e = conv_out(false, [4, 7, 7], [5, 3, 3, 3], ConvAttrs::square(3, 1, 0)).unwrap_err().to_string();
        assert!(e.contains("node n (Conv)") && e.contains("input channels 4"), "{e}");
        let e = conv_out(false, [3, 2, 2], [5, 3, 3, 3], ConvAttrs::square(3, 1, 0)).unwrap_err().to_string();
        assert!(e.contains("too small"), "{e}");
        let e = conv_out(false, [3, 7, 7], [5, 3, 4, 4], ConvAttrs::square(3, 1, 0)).unwrap_err().to_string();
        assert!(e.contains("kernel [3, 3]"), "{e}");
    }
}
