//! ONNX nodes -> graph nodes. Each supported op's attributes are read with ONNX's defaults
//! and checked; a node that cannot be read is listed with the reason, and so is every node
//! after it that depends on it, so a user sees every problem of a model at once.
//!
//! Owns: ONNX op names and attributes -> [`NodeOp`]s, inputs and outputs. Must not touch:
//! protobuf decoding, tensor bytes, passes.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rten_onnx::onnx::{AttributeProto, DataType, ModelProto, NodeProto, ValueInfoProto};

use super::fold;
use super::tensor::{self, Tensor};
use super::{OnnxError, OnnxModel, Row};
use crate::graph::{ConvAttrs, Graph, NodeOp, ValueId};
use crate::ops::act::Act;
use crate::ops::bilinear::Coord;
use crate::ops::binary::BinOp;
use crate::ops::pool::{PoolKind, Window};

/// The ONNX ops read.
pub const SUPPORTED_OPS: &[&str] = &[
    "Add",
    "AveragePool",
    "BatchNormalization",
    "Cast",
    "Clip",
    "Concat",
    "Constant",
    "ConstantOfShape",
    "Conv",
    "ConvTranspose",
    "Div",
    "Dropout",
    "Flatten",
    "Gather",
    "Gemm",
    "GlobalAveragePool",
    "HardSigmoid",
    "HardSwish",
    "Identity",
    "LeakyRelu",
    "MatMul",
    "MaxPool",
    "Mul",
    "Pad",
    "ReduceMean",
    "Relu",
    "Reshape",
    "Resize",
    "Shape",
    "Sigmoid",
    "Slice",
    "Squeeze",
    "Sub",
    "Tanh",
    "Transpose",
    "Unsqueeze",
    "Upsample",
];

/// The batch, in a shape folded from `Shape` nodes: symbolic, so it may only be moved around,
/// never computed with.
const BATCH: i64 = i64::MIN;

/// How to export a model whose input is `input` with a symbolic batch, for refusals of a fixed one.
fn dynamic_batch(input: &str) -> String {
    format!(
        "export with a dynamic batch: dynamic_axes={{\"{input}\": {{0: \"batch\"}}}} (dynamo=False) or dynamic_shapes=({{0: torch.export.Dim(\"batch\")}},) (dynamo=True)"
    )
}

/// What every node's reading needs from the model.
struct Ctx<'a> {
    path: &'a Path,
    /// The graph input's name.
    input: String,
    fixed_batch: Option<usize>,
    /// The default domain's opset.
    opset: i64,
}

/// A value by its ONNX name.
#[derive(Debug, Clone)]
enum Slot {
    Value(ValueId),
    Constant(Arc<Tensor>),
    /// Computed by a node that could not be read.
    Unknown,
}

/// `[N, d1, d2, ...]`: one row's shape with the batch in front.
pub fn shape_text(shape: &[usize]) -> String {
    let mut s = String::from("[N");
    for d in shape {
        s += &format!(", {d}");
    }
    s + "]"
}

pub fn model(proto: ModelProto, path: &Path) -> Result<OnnxModel, OnnxError> {
    let p = path.display().to_string();
    let structure = |detail: String| OnnxError::Structure { path: p.clone(), detail };
    let opset = proto
        .opset_import
        .iter()
        .find(|o| matches!(o.domain.as_deref(), None | Some("") | Some("ai.onnx")))
        .and_then(|o| o.version)
        .ok_or_else(|| structure("imports no opset of the default ONNX domain".into()))?;
    let metadata = proto.metadata_props.iter().map(|e| (e.key.clone().unwrap_or_default(), e.value.clone().unwrap_or_default())).collect();
    let producer =
        format!("{} {}", proto.producer_name.as_deref().unwrap_or("?"), proto.producer_version.as_deref().unwrap_or("")).trim().to_string();
    let g = proto.graph.ok_or_else(|| structure("holds no graph".into()))?;

    let mut slots: HashMap<String, Slot> = HashMap::new();
    for t in &g.initializer {
        let name = t.name.clone().unwrap_or_default();
        slots.insert(name, Slot::Constant(Arc::new(tensor::decode(t, path)?)));
    }
    let mut graph = Graph::default();
    let inputs: Vec<&ValueInfoProto> = g.input.iter().filter(|i| !slots.contains_key(i.name.as_deref().unwrap_or(""))).collect();
    let names = |vs: &[&ValueInfoProto]| vs.iter().map(|v| v.name.clone().unwrap_or_default()).collect::<Vec<_>>().join(", ");
    if inputs.len() != 1 {
        return Err(structure(format!("has {} inputs ({}); a model with exactly one input is supported", inputs.len(), names(&inputs))));
    }
    let (input_name, shape, fixed_batch) = input_shape(inputs[0]).map_err(&structure)?;
    let x = graph.input(input_name.clone(), shape);
    slots.insert(input_name.clone(), Slot::Value(x));
    let ctx = Ctx { path, input: input_name, fixed_batch, opset };

    let mut rows = Vec::new();
    for (index, node) in g.node.iter().enumerate() {
        let op = node.op_type.clone().unwrap_or_default();
        let name = node.name.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| format!("{op}_{index}"));
        let unknown_op = !SUPPORTED_OPS.contains(&op.as_str()) || !matches!(node.domain.as_deref(), None | Some("") | Some("ai.onnx"));
        let row = |shape: String, problem: Option<String>| Row {
            node: name.clone(),
            op: op.clone(),
            shape,
            unknown_op: unknown_op && problem.is_some(),
            problem,
        };
        if node.output.is_empty() || node.output[0].is_empty() {
            rows.push(row("?".into(), Some("has no output".into())));
            continue;
        }
        if node.input.iter().any(|i| matches!(slots.get(i), Some(Slot::Unknown))) {
            for o in &node.output {
                slots.insert(o.clone(), Slot::Unknown);
            }
            rows.push(row("?".into(), Some("reads the output of a node that is not supported".into())));
            continue;
        }
        match node_op(&mut graph, &slots, node, &name, &op, &ctx) {
            Ok(Read::Node(out)) => {
                graph.values[out.0].name = node.output.first().cloned().unwrap_or_default();
                slots.insert(node.output[0].clone(), Slot::Value(out));
                rows.push(row(shape_text(&graph.value(out).shape), None));
            }
            Ok(Read::Alias(slot)) => {
                let shape = match &slot {
                    Slot::Value(v) => shape_text(&graph.value(*v).shape),
                    Slot::Constant(t) => format!("constant {:?}", t.shape),
                    Slot::Unknown => "?".into(),
                };
                slots.insert(node.output[0].clone(), slot);
                rows.push(row(shape, None));
            }
            Err(problem) => {
                for o in &node.output {
                    slots.insert(o.clone(), Slot::Unknown);
                }
                rows.push(row("?".into(), Some(problem)));
            }
        }
    }
    if g.output.len() != 1 {
        let outs: Vec<&ValueInfoProto> = g.output.iter().collect();
        return Err(structure(format!("has {} outputs ({}); a model with exactly one output is supported", outs.len(), names(&outs))));
    }
    let out_name = g.output[0].name.clone().unwrap_or_default();
    match slots.get(&out_name) {
        Some(Slot::Value(v)) if *v != x || !rows.iter().any(|r| r.problem.is_some()) => graph.outputs.push(*v),
        Some(Slot::Unknown) => {}
        Some(Slot::Constant(_)) => return Err(structure(format!("its output {out_name} is a constant"))),
        _ if rows.iter().any(|r| r.problem.is_some()) => {}
        _ => return Err(structure(format!("its output {out_name} is computed by no node"))),
    }
    Ok(OnnxModel { path: path.to_path_buf(), opset, producer, metadata, fixed_batch, rows, graph })
}

/// (name, one row's shape, the batch when fixed) of the graph's input.
fn input_shape(v: &ValueInfoProto) -> Result<(String, Vec<usize>, Option<usize>), String> {
    let name = v.name.clone().unwrap_or_default();
    let t = v.r#type.as_ref().and_then(|t| t.tensor_type.as_ref()).ok_or_else(|| format!("input {name} is not a tensor"))?;
    if t.elem_type.is_some_and(|e| e != DataType::FLOAT) {
        return Err(format!("input {name} has element type {}, expected float", t.elem_type.unwrap_or(DataType::FLOAT)));
    }
    let dims = t.shape.as_ref().map(|s| s.dim.as_slice()).unwrap_or(&[]);
    let too_big = |shape: &[usize]| crate::graph::checked_len(shape).is_none_or(|l| l > crate::graph::MAX_ROW);
    let Some((batch, rest)) = dims.split_first() else {
        return Err(format!("input {name} declares no shape; export it with its batch as the first axis"));
    };
    let fixed = batch.dim_value.filter(|_| batch.dim_param.is_none()).map(|b| b.max(0) as usize);
    let mut shape = Vec::new();
    for (axis, d) in rest.iter().enumerate() {
        match d.dim_value {
            Some(v) if v > 0 && d.dim_param.is_none() => shape.push(v as usize),
            _ => {
                return Err(format!(
                    "input {name}: axis {} has no fixed size ({}); only the batch (axis 0) may be symbolic",
                    axis + 1,
                    d.dim_param.as_deref().unwrap_or("unknown")
                ));
            }
        }
    }
    if too_big(&shape) {
        return Err(format!("input {name}: a row of shape {shape:?} holds more than 2^31 - 1 values"));
    }
    Ok((name, shape, fixed))
}

/// What a node became.
enum Read {
    /// A new graph node, with this output.
    Node(ValueId),
    /// Its output is another name for this value.
    Alias(Slot),
}

/// A node's attributes by name.
struct Attrs<'a>(&'a [AttributeProto]);

impl Attrs<'_> {
    fn get(&self, name: &str) -> Option<&AttributeProto> {
        self.0.iter().find(|a| a.name.as_deref() == Some(name))
    }
    fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).and_then(|a| a.i).unwrap_or(default)
    }
    fn float(&self, name: &str, default: f32) -> f32 {
        self.get(name).and_then(|a| a.f).unwrap_or(default)
    }
    fn ints(&self, name: &str) -> Option<Vec<i64>> {
        self.get(name).map(|a| a.ints.clone())
    }
    fn string(&self, name: &str) -> Option<String> {
        self.get(name).and_then(|a| a.s.clone())
    }
}

/// `n` non-negative sizes of attribute `name` (default `default` each), as usize.
fn sizes(a: &Attrs, name: &str, n: usize, default: usize, min: usize) -> Result<Vec<usize>, String> {
    match a.ints(name) {
        None => Ok(vec![default; n]),
        Some(v) if v.len() == n && v.iter().all(|&x| x >= min as i64 && x < 1 << 20) => Ok(v.iter().map(|&x| x as usize).collect()),
        Some(v) => Err(format!("attribute {name} {v:?} should be {n} values of at least {min}")),
    }
}

/// A constant an elementwise op broadcasts over rows of shape `row`, as (axis of the row, one
/// value per channel along it, in f64): a scalar (one value) or a tensor whose one axis of size
/// more than 1 is an axis of the row (e.g. `(1, C, 1, 1)` or `(C, 1, 1)` over `(C, H, W)`).
fn channel_constant(c: &Tensor, row: &[usize]) -> Result<(usize, Vec<f64>), String> {
    let values: Vec<f64> = c.floats().iter().map(|&v| v as f64).collect();
    if values.len() == 1 {
        return Ok((0, values));
    }
    let rank = row.len() + 1;
    let bad =
        || format!("a constant of shape {:?} over rows of shape {row:?}: only a scalar or one value per channel is supported", c.shape);
    if c.shape.len() > rank {
        return Err(bad());
    }
    // Right-aligned against (batch, row...).
    let offset = rank - c.shape.len();
    let big: Vec<usize> = (0..c.shape.len()).filter(|&i| c.shape[i] != 1).collect();
    match big.as_slice() {
        &[i] if offset + i >= 1 && row[offset + i - 1] == c.shape[i] => Ok((offset + i - 1, values)),
        _ => Err(bad()),
    }
}

/// `shape` with a 1 inserted at each of `axes` (axes of the result, negative from its end).
fn unsqueezed(shape: &[usize], axes: &[i64]) -> Result<Vec<usize>, String> {
    let rank = shape.len() + axes.len();
    let mut ax = axes.iter().map(|&x| axis(x, rank)).collect::<Result<Vec<_>, _>>()?;
    ax.sort_unstable();
    let mut out = shape.to_vec();
    for x in ax {
        out.insert(x, 1);
    }
    Ok(out)
}

/// An integer constant's values, if `slot` is one.
fn ints(slot: Option<&Slot>) -> Option<(Vec<usize>, Vec<i64>)> {
    match slot {
        Some(Slot::Constant(t)) => t.ints().map(|v| (t.shape.clone(), v.to_vec())),
        _ => None,
    }
}

fn int_slot(shape: Vec<usize>, values: Vec<i64>) -> Read {
    Read::Alias(Slot::Constant(Arc::new(Tensor { shape, values: tensor::Values::Int(values) })))
}

/// Axis `a` of a tensor of rank `rank`, negative counting from the end.
fn axis(a: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    if a < -r || a >= r {
        return Err(format!("axis {a} is out of range for rank {rank}"));
    }
    Ok(if a < 0 { (a + r) as usize } else { a as usize })
}

/// The row shape a Reshape to `target` gives a row of shape `row`: the target's first entry
/// must be the batch (folded from Shape, 0 to copy it, -1 inferred, or the fixed batch the
/// model was exported with); 0 copies the input's size, one -1 is inferred.
fn reshape(target: &[i64], row: &[usize], ctx: &Ctx) -> Result<Vec<usize>, String> {
    let len: usize = row.iter().product();
    let fixed = |why: &str| format!("reshapes to {target:?}, which {why}; {}", dynamic_batch(&ctx.input));
    let Some((&first, rest)) = target.split_first() else {
        return Err("reshapes to a scalar".into());
    };
    let mut out = Vec::with_capacity(rest.len());
    let mut infer = None;
    for (i, &t) in rest.iter().enumerate() {
        match t {
            0 => out.push(*row.get(i).ok_or_else(|| format!("copies axis {} of a row of rank {}", i + 1, row.len() + 1))?),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            t if t > 0 => out.push(t as usize),
            BATCH => return Err(fixed("moves the batch off the first axis")),
            t => return Err(format!("reshapes to {target:?}: size {t} is not allowed")),
        }
    }
    let known = crate::graph::checked_len(&out).ok_or_else(|| format!("reshapes to {target:?}, more values than fit"))?;
    if let Some(i) = infer {
        if known == 0 || !len.is_multiple_of(known) {
            return Err(format!("cannot view a row of {len} values as {target:?}"));
        }
        out[i] = len / known;
    }
    let fits = crate::graph::checked_len(&out) == Some(len);
    match first {
        BATCH | 0 if fits => Ok(out),
        -1 if fits && infer.is_none() => Ok(out),
        // A number where the batch belongs: the export traced `len(x)` or the fixed batch as a
        // constant. Each row is still viewed whole, so the number stands for the batch.
        n if n > 0 && fits => Ok(out),
        _ if ctx.fixed_batch.is_some() => Err(fixed("mixes the rows of the batch the model was exported with")),
        _ => Err(format!("reshapes to {target:?}, which does not keep each row of shape {row:?} whole with the batch first")),
    }
}

fn node_op(graph: &mut Graph, slots: &HashMap<String, Slot>, node: &NodeProto, name: &str, op: &str, ctx: &Ctx) -> Result<Read, String> {
    if !matches!(node.domain.as_deref(), None | Some("") | Some("ai.onnx")) {
        return Err(format!("op {op} of domain {} is not supported", node.domain.as_deref().unwrap_or("")));
    }
    let a = Attrs(&node.attribute);
    // Input `i` (an empty name is a missing optional input).
    let input = |i: usize| -> Result<Option<&Slot>, String> {
        match node.input.get(i).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(n) => slots
                .get(n)
                .map(Some)
                .ok_or_else(|| format!("reads {n}, which no earlier node computes (nodes must be in topological order)")),
        }
    };
    let value = |i: usize| -> Result<ValueId, String> {
        match input(i)? {
            Some(Slot::Value(v)) => Ok(*v),
            Some(_) => Err(format!("input {} is a constant; a computed tensor is expected", node.input[i])),
            None => Err(format!("input {i} is missing")),
        }
    };
    let constant = |graph: &mut Graph, i: usize| -> Result<Option<ValueId>, String> {
        match input(i)? {
            Some(Slot::Constant(t)) => Ok(Some(graph.constant(node.input[i].clone(), t.shape.clone(), Arc::new(t.floats())))),
            Some(_) => Err(format!("input {} must be a constant (an initializer)", node.input[i])),
            None => Ok(None),
        }
    };
    let add = |graph: &mut Graph, op: NodeOp, inputs: Vec<ValueId>| graph.node(name, op, inputs).map(Read::Node).map_err(|e| e.to_string());
    match op {
        "Conv" | "ConvTranspose" => {
            let x = value(0)?;
            let w = constant(graph, 1)?.ok_or("has no weight")?;
            let wshape = graph.value(w).shape.clone();
            if wshape.len() != 4 {
                return Err(format!("weight {:?} is not 4-D: only 2-D convolutions are supported", wshape));
            }
            let auto_pad = a.string("auto_pad").unwrap_or_else(|| "NOTSET".into());
            if !matches!(auto_pad.as_str(), "NOTSET" | "VALID") {
                return Err(format!("auto_pad {auto_pad} is not supported; export with explicit padding"));
            }
            if a.get("output_shape").is_some() {
                return Err("attribute output_shape is not supported; export with pads and output_padding".into());
            }
            let kernel = sizes(&a, "kernel_shape", 2, 0, 1).map(|k| if k == [0, 0] { vec![wshape[2], wshape[3]] } else { k })?;
            let strides = sizes(&a, "strides", 2, 1, 1)?;
            let pads = sizes(&a, "pads", 4, 0, 0)?;
            let dilations = sizes(&a, "dilations", 2, 1, 1)?;
            let output_padding = sizes(&a, "output_padding", 2, 0, 0)?;
            if op == "Conv" && output_padding != [0, 0] {
                return Err("attribute output_padding belongs to ConvTranspose".into());
            }
            let group = a.int("group", 1);
            if !(1..1 << 20).contains(&group) {
                return Err(format!("group {group} is not positive"));
            }
            let attrs = ConvAttrs {
                kernel: [kernel[0], kernel[1]],
                strides: [strides[0], strides[1]],
                pads: [pads[0], pads[1], pads[2], pads[3]],
                dilations: [dilations[0], dilations[1]],
                output_padding: [output_padding[0], output_padding[1]],
                group: group as usize,
                act: Act::Identity,
            };
            let mut inputs = vec![x, w];
            inputs.extend(constant(graph, 2)?);
            add(graph, if op == "Conv" { NodeOp::Conv(attrs) } else { NodeOp::ConvTranspose(attrs) }, inputs)
        }
        "BatchNormalization" => {
            // Before opset 7 the mode is the attribute is_test (default 0: training).
            let training = a.int("training_mode", 0) != 0 || (ctx.opset < 7 && a.int("is_test", 0) == 0);
            if training || node.output.iter().skip(1).any(|o| !o.is_empty()) {
                return Err("BatchNormalization in training mode is not supported; export the model in eval mode (model.eval())".into());
            }
            // Before opset 9, spatial=0 keeps statistics per activation rather than per channel.
            if ctx.opset < 9 && a.int("spatial", 1) == 0 {
                return Err("BatchNormalization with spatial=0 (statistics per activation) is not supported".into());
            }
            let x = value(0)?;
            let mut inputs = vec![x];
            for i in 1..5 {
                inputs.push(constant(graph, i)?.ok_or_else(|| format!("input {i} is missing"))?);
            }
            add(graph, NodeOp::BatchNorm { eps: a.float("epsilon", 1e-5) }, inputs)
        }
        "Relu" | "Tanh" | "LeakyRelu" | "Sigmoid" => {
            let act = match op {
                "Relu" => Act::Relu,
                "Tanh" => Act::Tanh,
                "Sigmoid" => Act::Sigmoid,
                _ => Act::LeakyRelu(a.float("alpha", 0.01)),
            };
            let x = value(0)?;
            add(graph, NodeOp::Act(act), vec![x])
        }
        "Clip" => {
            let x = value(0)?;
            // Opset 11 on: the bounds are optional inputs; before, attributes.
            let bound = |i: usize, attr: &str, default: f32| -> Result<f32, String> {
                if ctx.opset < 11 {
                    return Ok(a.float(attr, default));
                }
                match input(i)? {
                    None => Ok(default),
                    Some(Slot::Constant(t)) if t.len() == 1 => Ok(t.floats()[0]),
                    Some(_) => Err(format!("Clip's {attr} must be one constant value")),
                }
            };
            let (lo, hi) = (bound(1, "min", f32::NEG_INFINITY)?, bound(2, "max", f32::INFINITY)?);
            let act = match (lo, hi) {
                (lo, hi) if lo == f32::NEG_INFINITY && hi == f32::INFINITY => return Ok(Read::Alias(Slot::Value(x))),
                (0.0, hi) if hi == f32::INFINITY => Act::Relu,
                (0.0, hi) if hi > 0.0 && hi.is_finite() => Act::Clip(hi),
                _ => return Err(format!("Clip to [{lo}, {hi}] is not supported (a lower bound of 0, as ReLU6, is)")),
            };
            add(graph, NodeOp::Act(act), vec![x])
        }
        "HardSigmoid" | "HardSwish" => {
            let x = value(0)?;
            let (alpha, beta) = if op == "HardSwish" { (1.0 / 6.0, 0.5) } else { (a.float("alpha", 0.2), a.float("beta", 0.5)) };
            if beta != 0.5 || !(alpha.is_finite() && alpha > 0.0) {
                return Err(format!("HardSigmoid with alpha {alpha} and beta {beta} is not supported (beta 0.5, as PyTorch's, is)"));
            }
            if op == "HardSigmoid" {
                return add(graph, NodeOp::Act(Act::HardSigmoid(alpha)), vec![x]);
            }
            // x * hardsigmoid(x): the product's input-gradient and the sum of the two
            // contributions to x's gradient give HardSwish's.
            let gate = graph.node(format!("{name} (gate)"), NodeOp::Act(Act::HardSigmoid(alpha)), vec![x]).map_err(|e| e.to_string())?;
            add(graph, NodeOp::Binary { op: BinOp::Mul, act: Act::Identity }, vec![x, gate])
        }
        "Identity" | "Dropout" => {
            // Before opset 7 a Dropout is in training mode unless is_test is set.
            if op == "Dropout" && ctx.opset < 7 && a.int("is_test", 0) == 0 {
                return Err("Dropout without is_test=1 (opset < 7) runs in training mode: only inference is supported".into());
            }
            if node.output.iter().skip(1).any(|o| !o.is_empty()) {
                return Err("Dropout's mask output is read: only inference is supported".into());
            }
            Ok(Read::Alias(input(0)?.ok_or("input 0 is missing")?.clone()))
        }
        // Shape arithmetic, folded: the batch stays symbolic.
        "Shape" => {
            let row = graph.value(value(0)?).shape.clone();
            let mut dims: Vec<i64> = std::iter::once(BATCH).chain(row.iter().map(|&d| d as i64)).collect();
            let rank = dims.len() as i64;
            let clamp = |v: i64| (if v < 0 { v.saturating_add(rank) } else { v }).clamp(0, rank) as usize;
            let (start, end) = (clamp(a.int("start", 0)), clamp(a.int("end", rank)));
            dims = dims[start..end.max(start)].to_vec();
            Ok(int_slot(vec![dims.len()], dims))
        }
        "Gather" => {
            let (dshape, data) = ints(input(0)?).ok_or("only Gather of a folded shape (integer constants) is supported")?;
            let (ishape, indices) = ints(input(1)?).ok_or("Gather's indices must be integer constants")?;
            if dshape.len() != 1 || axis(a.int("axis", 0), 1)? != 0 {
                return Err("only Gather along the one axis of a 1-D shape is supported".into());
            }
            let picked = indices.iter().map(|&i| axis(i, data.len()).map(|k| data[k])).collect::<Result<Vec<_>, _>>()?;
            Ok(int_slot(ishape, picked))
        }
        "Concat" => {
            let slots = (0..node.input.len()).map(input).collect::<Result<Vec<_>, _>>()?;
            if slots.iter().any(|s| matches!(s, Some(Slot::Value(_)))) {
                // A tensor Concat: every input computed, joined along an axis of the rows.
                let values = (0..node.input.len()).map(value).collect::<Result<Vec<_>, _>>()?;
                let rank = graph.value(values[0]).shape.len() + 1;
                let k = axis(a.int("axis", 1), rank)?;
                if k == 0 {
                    return Err(format!("joins along the batch axis; {}", dynamic_batch(&ctx.input)));
                }
                return add(graph, NodeOp::Concat { axis: k - 1 }, values);
            }
            let mut all = Vec::new();
            for slot in slots {
                let (shape, v) =
                    ints(slot).ok_or("only Concat of folded shapes (integer constants) or of computed tensors is supported")?;
                if shape.len() != 1 {
                    return Err("only Concat of 1-D shapes is supported".into());
                }
                all.extend(v);
            }
            Ok(int_slot(vec![all.len()], all))
        }
        "MaxPool" | "AveragePool" | "GlobalAveragePool" | "ReduceMean" => {
            let x = value(0)?;
            let row = graph.value(x).shape.clone();
            if row.len() != 3 {
                return Err(format!("{op} of rows of shape {row:?}: only images (c, h, w) are pooled"));
            }
            let whole = Window { kernel: [row[1], row[2]], strides: [1, 1], pads: [0, 0], dilations: [1, 1] };
            let average = PoolKind::Average { include_pad: false };
            if op == "GlobalAveragePool" {
                return add(graph, NodeOp::Pool { kind: average, window: whole, end_pads: [0, 0], ceil_mode: false }, vec![x]);
            }
            if op == "ReduceMean" {
                let axes = match a.ints("axes") {
                    Some(v) => v,
                    None => ints(input(1)?).map(|(_, v)| v).ok_or("ReduceMean's axes must be a constant")?,
                };
                let mut axes = axes.iter().map(|&k| axis(k, 4)).collect::<Result<Vec<_>, _>>()?;
                axes.sort_unstable();
                if axes != [2, 3] {
                    return Err(format!("ReduceMean over axes {axes:?}: only the mean over the image's height and width is supported"));
                }
                let pooled = graph
                    .node(name.to_string(), NodeOp::Pool { kind: average, window: whole, end_pads: [0, 0], ceil_mode: false }, vec![x])
                    .map_err(|e| e.to_string())?;
                if a.int("keepdims", 1) != 0 {
                    return Ok(Read::Node(pooled));
                }
                return graph
                    .node(format!("{name} (squeezed)"), NodeOp::Reshape(vec![row[0]]), vec![pooled])
                    .map(Read::Node)
                    .map_err(|e| e.to_string());
            }
            if node.output.iter().skip(1).any(|o| !o.is_empty()) {
                return Err("MaxPool's Indices output is read; only its values are supported".into());
            }
            let auto_pad = a.string("auto_pad").unwrap_or_else(|| "NOTSET".into());
            if !matches!(auto_pad.as_str(), "NOTSET" | "VALID") || a.int("storage_order", 0) != 0 {
                return Err(format!("auto_pad {auto_pad} or a column-major storage_order is not supported; export with explicit padding"));
            }
            let kernel = sizes(&a, "kernel_shape", 2, 0, 1)?;
            if kernel.contains(&0) {
                return Err("has no kernel_shape of two positive values".into());
            }
            let strides = sizes(&a, "strides", 2, 1, 1)?;
            let pads = sizes(&a, "pads", 4, 0, 0)?;
            let dilations = sizes(&a, "dilations", 2, 1, 1)?;
            let kind = if op == "MaxPool" { PoolKind::Max } else { PoolKind::Average { include_pad: a.int("count_include_pad", 0) != 0 } };
            let window = Window {
                kernel: [kernel[0], kernel[1]],
                strides: [strides[0], strides[1]],
                pads: [pads[0], pads[1]],
                dilations: [dilations[0], dilations[1]],
            };
            add(graph, NodeOp::Pool { kind, window, end_pads: [pads[2], pads[3]], ceil_mode: a.int("ceil_mode", 0) != 0 }, vec![x])
        }
        "Pad" => {
            let x = value(0)?;
            let row = graph.value(x).shape.clone();
            let rank = row.len() + 1;
            let mode = a.string("mode").unwrap_or_else(|| "constant".into());
            if mode != "constant" {
                return Err(format!("Pad mode {mode} is not supported (constant is)"));
            }
            // Opset 11 on: pads, the value and the axes are inputs; before, attributes.
            let (pads, value) = if ctx.opset >= 11 {
                let (_, pads) = ints(input(1)?).ok_or("Pad's pads must be a constant")?;
                let value = match input(2)? {
                    None => 0.0,
                    Some(Slot::Constant(t)) if t.len() == 1 => t.floats()[0],
                    Some(_) => return Err("Pad's constant_value must be one constant value".into()),
                };
                (pads, value)
            } else {
                (a.ints("pads").ok_or("Pad has no pads")?, a.float("value", 0.0))
            };
            let axes: Vec<usize> = match input(3)? {
                None => (0..rank).collect(),
                Some(slot) => {
                    let (_, v) = ints(Some(slot)).ok_or("Pad's axes must be a constant")?;
                    v.iter().map(|&k| axis(k, rank)).collect::<Result<_, _>>()?
                }
            };
            if pads.len() != 2 * axes.len() {
                return Err(format!("Pad has {} pads for {} axes", pads.len(), axes.len()));
            }
            let mut full = vec![0i64; 2 * rank];
            for (j, &k) in axes.iter().enumerate() {
                full[k] = pads[j];
                full[rank + k] = pads[axes.len() + j];
            }
            if rank < 3 || (0..rank - 2).any(|k| full[k] != 0 || full[rank + k] != 0) || full.iter().any(|p| p.unsigned_abs() > 1 << 20) {
                return Err(format!("pads {full:?} of a tensor of rank {rank}: only the last two axes may be padded"));
            }
            let at = |k: usize| full[k] as isize;
            let pads = [at(rank - 2), at(rank - 1), at(2 * rank - 2), at(2 * rank - 1)];
            add(graph, NodeOp::Pad { pads, value }, vec![x])
        }
        "Cast" => match input(0)? {
            Some(Slot::Constant(t)) => {
                let to = a.int("to", 1);
                let values = if to == 1 || to == 10 || to == 11 || to == 16 {
                    tensor::Values::Float(t.floats())
                } else {
                    tensor::Values::Int(t.ints().map_or_else(|| t.floats().iter().map(|&f| f as i64).collect(), |v| v.to_vec()))
                };
                Ok(Read::Alias(Slot::Constant(Arc::new(Tensor { shape: t.shape.clone(), values }))))
            }
            Some(v) if a.int("to", 1) == 1 => Ok(Read::Alias(v.clone())),
            _ => Err("only a Cast of a constant, or to float, is supported".into()),
        },
        "Unsqueeze" | "Squeeze" => {
            let axes = match a.ints("axes") {
                Some(v) => Some(v),
                None => ints(input(1)?).map(|(_, v)| v),
            };
            match input(0)? {
                Some(Slot::Constant(t)) => {
                    let shape = if op == "Unsqueeze" {
                        unsqueezed(&t.shape, &axes.ok_or("Unsqueeze needs axes")?)?
                    } else {
                        t.shape.iter().copied().filter(|&d| d != 1).collect()
                    };
                    Ok(Read::Alias(Slot::Constant(Arc::new(Tensor { shape, values: t.values.clone() }))))
                }
                _ => {
                    let x = value(0)?;
                    let mut full: Vec<usize> = std::iter::once(0).chain(graph.value(x).shape.iter().copied()).collect();
                    if op == "Unsqueeze" {
                        // The batch is the 0 in front: an axis put before it moves it.
                        full = unsqueezed(&full, &axes.ok_or("Unsqueeze needs axes")?)?;
                        if full[0] != 0 {
                            return Err(format!("unsqueezes the batch axis; {}", dynamic_batch(&ctx.input)));
                        }
                    } else {
                        let rank = full.len();
                        let ax = match axes {
                            Some(v) => v.iter().map(|&x| axis(x, rank)).collect::<Result<Vec<_>, _>>()?,
                            None => (1..rank).filter(|&i| full[i] == 1).collect(),
                        };
                        if ax.contains(&0) || ax.iter().any(|&i| full[i] != 1) {
                            return Err(format!("squeezes an axis that is not 1, or the batch; {}", dynamic_batch(&ctx.input)));
                        }
                        full = full.iter().enumerate().filter(|(i, _)| !ax.contains(i)).map(|(_, &d)| d).collect();
                    }
                    add(graph, NodeOp::Reshape(full[1..].to_vec()), vec![x])
                }
            }
        }
        "ConstantOfShape" => {
            let (_, shape) = ints(input(0)?).ok_or("ConstantOfShape's shape must be a constant or folded from Shape")?;
            let v = match a.get("value").and_then(|v| v.t.as_ref()) {
                Some(t) => Some(tensor::decode(t, ctx.path).map_err(|e| e.to_string())?),
                None => None,
            };
            Ok(Read::Alias(Slot::Constant(Arc::new(fold::constant_of_shape(&shape, v.as_ref())?))))
        }
        "Slice" | "Transpose" => {
            let Some(Slot::Constant(t)) = input(0)? else {
                return Err(format!("only a {op} of constants (shape arithmetic) is supported"));
            };
            let folded = if op == "Transpose" {
                fold::transpose(t, a.ints("perm").as_deref())?
            } else {
                let list = |i: usize, what: &str| -> Result<Option<Vec<i64>>, String> {
                    match input(i)? {
                        None => Ok(None),
                        slot => ints(slot).map(|(_, v)| Some(v)).ok_or(format!("Slice's {what} must be constant")),
                    }
                };
                let starts = list(1, "starts")?.ok_or("Slice has no starts")?;
                let ends = list(2, "ends")?.ok_or("Slice has no ends")?;
                fold::slice(t, &starts, &ends, list(3, "axes")?.as_deref(), list(4, "steps")?.as_deref())?
            };
            Ok(Read::Alias(Slot::Constant(Arc::new(folded))))
        }
        "Reshape" if matches!(input(0)?, Some(Slot::Constant(_))) => {
            let Some(Slot::Constant(t)) = input(0)? else { unreachable!("matched") };
            let (_, target) = ints(input(1)?).ok_or("Reshape's shape must be a constant or folded from Shape")?;
            Ok(Read::Alias(Slot::Constant(Arc::new(fold::reshape(t, &target)?))))
        }
        "Reshape" => {
            let x = value(0)?;
            let (_, target) = ints(input(1)?).ok_or("Reshape's shape must be a constant or folded from Shape")?;
            if a.int("allowzero", 0) != 0 && target.contains(&0) {
                return Err("Reshape to a size 0 with allowzero is not supported".into());
            }
            let row = graph.value(x).shape.clone();
            let out = reshape(&target, &row, ctx)?;
            add(graph, NodeOp::Reshape(out), vec![x])
        }
        "Gemm" | "MatMul" => {
            // y = x W^T + b over rows (k) -> (m): a 1x1 convolution of (k, 1, 1) to (m, 1, 1),
            // the row seen through reshapes, so it runs on the convolution kernels.
            let x = value(0)?;
            let row = graph.value(x).shape.clone();
            let Some(Slot::Constant(b)) = input(1)? else {
                return Err(format!("{op} with a computed second input is not supported (only a constant weight)"));
            };
            if row.len() != 1 || b.shape.len() != 2 {
                return Err(format!(
                    "{op} of rows of shape {row:?} by a weight of shape {:?}: only (batch, k) x (k, m) is supported",
                    b.shape
                ));
            }
            let (alpha, beta) = if op == "Gemm" { (a.float("alpha", 1.0) as f64, a.float("beta", 1.0) as f64) } else { (1.0, 1.0) };
            if op == "Gemm" && a.int("transA", 0) != 0 {
                return Err("Gemm with transA is not supported".into());
            }
            // W as (m, k): Gemm's B is (k, m) unless transB; MatMul's is (k, m).
            let trans_b = op == "Gemm" && a.int("transB", 0) != 0;
            let (k, m) = if trans_b { (b.shape[1], b.shape[0]) } else { (b.shape[0], b.shape[1]) };
            if k != row[0] {
                return Err(format!("its weight of shape {:?} does not take rows of {}", b.shape, row[0]));
            }
            let bv = b.floats();
            let w: Vec<f32> = (0..m * k)
                .map(|i| {
                    let (o, j) = (i / k, i % k);
                    let v = if trans_b { bv[o * k + j] } else { bv[j * m + o] };
                    (v as f64 * alpha) as f32
                })
                .collect();
            let bias = match input(2)? {
                None => None,
                Some(Slot::Constant(c)) => {
                    let cv = c.floats();
                    // One value, or one per output, the same for every row: (m), (1, m), (1, 1)...
                    // Before opset 7, C is (batch, m) unless broadcast is set.
                    if ctx.opset < 7 && a.int("broadcast", 0) == 0 && c.shape.len() != 2 {
                        return Err(format!("Gemm without broadcast=1 (opset < 7) takes C of shape (batch, {m}), not {:?}", c.shape));
                    }
                    if !c.shape.iter().rev().skip(1).all(|&d| d == 1) || (cv.len() != 1 && cv.len() != m) {
                        return Err(format!("its bias of shape {:?} is not one value or {m} for every row", c.shape));
                    }
                    Some((0..m).map(|o| (cv[if cv.len() == 1 { 0 } else { o }] as f64 * beta) as f32).collect::<Vec<f32>>())
                }
                Some(_) => return Err("Gemm with a computed bias is not supported".into()),
            };
            let column = graph.node(format!("{name} (as a column)"), NodeOp::Reshape(vec![k, 1, 1]), vec![x]).map_err(|e| e.to_string())?;
            let wv = graph.constant(format!("{name} weight"), vec![m, k, 1, 1], Arc::new(w));
            let mut inputs = vec![column, wv];
            if let Some(b) = bias {
                inputs.push(graph.constant(format!("{name} bias"), vec![m], Arc::new(b)));
            }
            let y = graph.node(name.to_string(), NodeOp::Conv(ConvAttrs::square(1, 1, 0)), inputs).map_err(|e| e.to_string())?;
            graph.node(format!("{name} (as rows)"), NodeOp::Reshape(vec![m]), vec![y]).map(Read::Node).map_err(|e| e.to_string())
        }
        "Resize" | "Upsample" => {
            let x = value(0)?;
            let row = graph.value(x).shape.clone();
            if row.len() != 3 {
                return Err(format!("resizes rows of shape {row:?}; only images (c, h, w) are resized"));
            }
            let mode = a.string("mode").unwrap_or_else(|| "nearest".into());
            // Opset 10's Resize and Upsample compute sources as asymmetric does.
            let old = op == "Upsample" || ctx.opset < 11;
            let default_transform = if old { "asymmetric" } else { "half_pixel" };
            let transform = a.string("coordinate_transformation_mode").unwrap_or_else(|| default_transform.into());
            let rounding = a.string("nearest_mode").unwrap_or_else(|| if old { "floor" } else { "round_prefer_floor" }.into());
            if a.int("antialias", 0) != 0 {
                return Err("Resize with antialias is not supported (F.interpolate's antialias=False is)".into());
            }
            let coord = match (mode.as_str(), transform.as_str()) {
                ("nearest", "asymmetric") if rounding == "floor" => None,
                ("linear" | "bilinear", "half_pixel") => Some(Coord::HalfPixel),
                ("linear" | "bilinear", "pytorch_half_pixel") => Some(Coord::PytorchHalfPixel),
                ("linear" | "bilinear", "align_corners") => Some(Coord::AlignCorners),
                ("linear" | "bilinear", "asymmetric") => Some(Coord::Asymmetric),
                _ => {
                    return Err(format!(
                        "Resize mode {mode}, coordinates {transform}, rounding {rounding} is not supported (nearest with asymmetric coordinates and floor rounding, as F.interpolate(mode=\"nearest\") exports, and linear with half_pixel, pytorch_half_pixel, align_corners or asymmetric coordinates are)"
                    ));
                }
            };
            // Scales: Upsample's attribute (opset 7) or input 1; Resize's input 2; or Resize's sizes (input 3).
            let scales: Option<Vec<f32>> = match (op, a.get("scales")) {
                ("Upsample", Some(s)) => Some(s.floats.clone()),
                ("Upsample", None) => match input(1)? {
                    Some(Slot::Constant(t)) => Some(t.floats()),
                    _ => return Err("Upsample's scales must be a constant".into()),
                },
                _ => match input(if ctx.opset < 11 { 1 } else { 2 })? {
                    Some(Slot::Constant(t)) if !t.is_empty() => Some(t.floats()),
                    Some(Slot::Constant(_)) | None => None,
                    Some(_) => return Err("Resize's scales must be a constant".into()),
                },
            };
            let (size, inv) = match scales {
                Some(s) => {
                    if s.len() != 4 || s[0] != 1.0 || s[1] != 1.0 || !s[2..].iter().all(|v| v.is_finite() && *v > 0.0) {
                        return Err(format!("scales {s:?}: only the height and width may be scaled"));
                    }
                    let out = |i: usize| (row[i] as f64 * s[i + 1] as f64).floor() as usize;
                    ([out(1), out(2)], [(1.0 / s[2] as f64) as f32, (1.0 / s[3] as f64) as f32])
                }
                None => {
                    let (_, sizes) = ints(input(3)?).ok_or("Resize needs constant scales or sizes")?;
                    if sizes.len() != 4
                        || sizes[1] != row[0] as i64
                        || sizes[2] <= 0
                        || sizes[3] <= 0
                        || sizes[2] > 1 << 20
                        || sizes[3] > 1 << 20
                    {
                        return Err(format!("sizes {sizes:?}: only the height and width may be resized"));
                    }
                    let (h, w) = (sizes[2] as usize, sizes[3] as usize);
                    ([h, w], [row[1] as f32 / h as f32, row[2] as f32 / w as f32])
                }
            };
            match coord {
                None => add(graph, NodeOp::ResizeNearest { size, inv }, vec![x]),
                Some(coord) => add(graph, NodeOp::ResizeBilinear { size, inv, coord }, vec![x]),
            }
        }
        "Flatten" => {
            let x = value(0)?;
            let row = graph.value(x).shape.clone();
            // axis is in [-r, r], negative counting from the end; r flattens all into the outer axis.
            let (rank, k) = (row.len() as i64 + 1, a.int("axis", 1));
            if !(-rank..=rank).contains(&k) {
                return Err(format!("axis {k} is out of range for rank {rank}"));
            }
            let k = if k < 0 { k + rank } else { k } as usize;
            if k == 0 {
                return Err(format!("flattens the batch into the rows; {}", dynamic_batch(&ctx.input)));
            }
            let out = vec![row[..k - 1].iter().product::<usize>(), row[k - 1..].iter().product()];
            let out = if k == 1 { vec![out[1]] } else { out };
            add(graph, NodeOp::Reshape(out), vec![x])
        }
        "Mul" | "Add" | "Sub" | "Div" => {
            let (a0, a1) = (input(0)?, input(1)?);
            let (x, c, constant_first) = match (a0, a1) {
                (Some(Slot::Value(x)), Some(Slot::Constant(c))) => (*x, c.clone(), false),
                (Some(Slot::Constant(c)), Some(Slot::Value(x))) if op != "Div" => (*x, c.clone(), true),
                (Some(Slot::Constant(_)), Some(Slot::Constant(_))) => return Err(format!("{op} of two constants is not folded yet")),
                (Some(Slot::Value(a0)), Some(Slot::Value(a1))) => {
                    let (a0, a1) = (*a0, *a1);
                    let (s0, s1) = (&graph.value(a0).shape, &graph.value(a1).shape);
                    if s0 != s1 {
                        return Err(format!(
                            "{op} of computed tensors of shapes {} and {} is not supported (two of one shape are)",
                            shape_text(s0),
                            shape_text(s1)
                        ));
                    }
                    let node_op = match op {
                        "Add" => NodeOp::Add { act: Act::Identity },
                        "Sub" => NodeOp::Binary { op: BinOp::Sub, act: Act::Identity },
                        "Mul" => NodeOp::Binary { op: BinOp::Mul, act: Act::Identity },
                        _ => NodeOp::Binary { op: BinOp::Div, act: Act::Identity },
                    };
                    return add(graph, node_op, vec![a0, a1]);
                }
                (Some(Slot::Constant(_)), Some(Slot::Value(_))) => {
                    return Err("Div of a constant by a computed tensor is not supported".into());
                }
                _ => return Err(format!("{op} reads an input that is missing")),
            };
            let row = graph.value(x).shape.clone();
            let (axis, values) = channel_constant(&c, &row)?;
            let channels = values.len();
            let same = |v: f64| vec![v as f32; channels];
            let (scale, shift): (Option<Vec<f32>>, Option<Vec<f32>>) = match (op, constant_first) {
                ("Mul", _) => (Some(values.iter().map(|&v| v as f32).collect()), None),
                ("Add", _) => (None, Some(values.iter().map(|&v| v as f32).collect())),
                ("Sub", false) => (None, Some(values.iter().map(|&v| -v as f32).collect())),
                ("Sub", true) => (Some(same(-1.0)), Some(values.iter().map(|&v| v as f32).collect())),
                _ => {
                    if values.contains(&0.0) {
                        return Err("divides by a constant that holds 0".into());
                    }
                    (Some(values.iter().map(|&v| (1.0 / v) as f32).collect()), None)
                }
            };
            let mut inputs = vec![x];
            let node_op = NodeOp::Affine { axis, scale: scale.is_some(), shift: shift.is_some(), act: Act::Identity };
            for (what, v) in [("scale", scale), ("shift", shift)] {
                if let Some(v) = v {
                    inputs.push(graph.constant(format!("{name} {what}"), vec![v.len()], Arc::new(v)));
                }
            }
            add(graph, node_op, inputs)
        }
        "Constant" => {
            let t = a.get("value").and_then(|v| v.t.as_ref()).ok_or("only a Constant with a tensor value is supported")?;
            Ok(Read::Alias(Slot::Constant(Arc::new(tensor::decode(t, ctx.path).map_err(|e| e.to_string())?))))
        }
        _ => Err(format!("op {op} is not supported")),
    }
}
