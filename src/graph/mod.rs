//! Stage 2 of the pipeline: a model as a graph of values and nodes.
//!
//! A [`Graph`] is what every model becomes, whatever file it came from: the notebook's
//! presets build one from their tensors ([`crate::model::presets`]), an ONNX file is read
//! into one. Its values are either activations, whose first dimension is the batch (left
//! symbolic: [`Value::shape`] holds one row's shape), or constants (weights, held whole).
//! Nodes are kept in topological order: every node's inputs are graph inputs, constants or
//! outputs of earlier nodes, so walking `nodes` forward is a forward pass and walking it
//! backward is the reverse pass.
//!
//! Owns: the IR, its builder with shape inference, its listing. Must not touch: passes,
//! programs, backends (a graph says what is computed, not how).

pub mod node;

use std::fmt::Write as _;
use std::sync::Arc;

pub use node::{ConvAttrs, NodeOp};

/// Most values one row of a graph's value may hold (the kernels index with 32-bit offsets).
pub const MAX_ROW: usize = i32::MAX as usize;

/// The product of `shape`, if it does not overflow.
pub fn checked_len(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

/// Index of a value of a graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub usize);

/// One value: an activation (one row's shape; the batch is the symbolic first dimension) or a
/// constant (its whole shape and its data, shared, never copied).
#[derive(Debug, Clone)]
pub struct Value {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Option<Arc<Vec<f32>>>,
}

impl Value {
    /// Elements of one row (an activation) or of the whole tensor (a constant).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn is_constant(&self) -> bool {
        self.data.is_some()
    }
}

/// One node: an op over input values, producing output values.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub op: NodeOp,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
}

/// Why a graph could not be built.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("node {node} ({op}): {detail}")]
    Shape { node: String, op: &'static str, detail: String },
    #[error("node {node} ({op}) takes {expected} inputs, got {found}")]
    Arity { node: String, op: &'static str, expected: &'static str, found: usize },
    #[error("node {node} ({op}): input {input} must be a constant")]
    NotConstant { node: String, op: &'static str, input: String },
    #[error("graph inputs {0} and {1} cannot be joined: {2}")]
    Join(String, String, String),
}

/// A model: values, nodes in topological order, inputs and outputs.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    pub inputs: Vec<ValueId>,
    pub outputs: Vec<ValueId>,
}

impl Graph {
    pub fn value(&self, id: ValueId) -> &Value {
        &self.values[id.0]
    }

    /// A graph input of one row's `shape`.
    pub fn input(&mut self, name: impl Into<String>, shape: Vec<usize>) -> ValueId {
        let id = self.add_value(name.into(), shape, None);
        self.inputs.push(id);
        id
    }

    /// A constant of `shape` holding `data` (shared, not copied).
    pub fn constant(&mut self, name: impl Into<String>, shape: Vec<usize>, data: Arc<Vec<f32>>) -> ValueId {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        self.add_value(name.into(), shape, Some(data))
    }

    pub(crate) fn add_value(&mut self, name: String, shape: Vec<usize>, data: Option<Arc<Vec<f32>>>) -> ValueId {
        self.values.push(Value { name, shape, data });
        ValueId(self.values.len() - 1)
    }

    /// Appends node `name` computing `op` of `inputs`; its one output is a new activation named
    /// after the node, of the shape `op` infers.
    pub fn node(&mut self, name: impl Into<String>, op: NodeOp, inputs: Vec<ValueId>) -> Result<ValueId, GraphError> {
        let name = name.into();
        let shape = op.infer(&name, &inputs.iter().map(|&i| self.value(i)).collect::<Vec<_>>())?;
        if checked_len(&shape).is_none_or(|l| l > MAX_ROW) {
            return Err(GraphError::Shape {
                node: name,
                op: op.name(),
                detail: format!("a row of shape {shape:?} holds more than 2^31 - 1 values"),
            });
        }
        let out = self.add_value(name.clone(), shape, None);
        self.nodes.push(Node { name, op, inputs, outputs: vec![out] });
        Ok(out)
    }

    /// The node computing `v`, if any (inputs and constants have none).
    pub fn producer(&self, v: ValueId) -> Option<usize> {
        self.nodes.iter().position(|n| n.outputs.contains(&v))
    }

    /// The nodes reading `v`, once each, in order.
    pub fn consumers(&self, v: ValueId) -> Vec<usize> {
        self.nodes.iter().enumerate().filter(|(_, n)| n.inputs.contains(&v)).map(|(i, _)| i).collect()
    }

    /// The data of constant `v`.
    pub fn data(&self, v: ValueId) -> Option<&Arc<Vec<f32>>> {
        self.value(v).data.as_ref()
    }

    /// Elements of one row of the (single) input.
    pub fn input_len(&self) -> usize {
        self.inputs.first().map_or(0, |&v| self.value(v).len())
    }

    /// Elements of one row of the (single) output.
    pub fn output_len(&self) -> usize {
        self.outputs.first().map_or(0, |&v| self.value(v).len())
    }

    /// Multiply-adds of one forward pass for one row.
    pub fn macs(&self) -> u64 {
        self.nodes.iter().map(|n| n.op.macs(self, n)).sum()
    }

    /// `self` followed by `next`: `next`'s input becomes `self`'s output, which must have its
    /// shape. Names are kept as they are.
    pub fn then(&self, next: &Graph) -> Result<Graph, GraphError> {
        let (Some(&out), Some(&inp), 1, 1) = (self.outputs.first(), next.inputs.first(), self.outputs.len(), next.inputs.len()) else {
            return Err(GraphError::Join(
                "(outputs)".into(),
                "(inputs)".into(),
                "each graph needs exactly one output and one input".into(),
            ));
        };
        if self.value(out).shape != next.value(inp).shape {
            return Err(GraphError::Join(
                self.value(out).name.clone(),
                next.value(inp).name.clone(),
                format!("shapes {:?} and {:?} differ", self.value(out).shape, next.value(inp).shape),
            ));
        }
        let mut g = self.clone();
        let base = g.values.len();
        let map = |v: ValueId| if v == inp { out } else { ValueId(base + v.0) };
        g.values.extend(next.values.iter().cloned());
        g.nodes.extend(next.nodes.iter().map(|n| Node {
            name: n.name.clone(),
            op: n.op.clone(),
            inputs: n.inputs.iter().map(|&v| map(v)).collect(),
            outputs: n.outputs.iter().map(|&v| map(v)).collect(),
        }));
        g.outputs = next.outputs.iter().map(|&v| map(v)).collect();
        Ok(g)
    }

    /// One line per node: name, op, output shape (`N` the batch), inputs.
    pub fn listing(&self) -> String {
        let mut s = String::new();
        let shape = |v: ValueId| {
            let val = self.value(v);
            if val.is_constant() {
                format!("{:?}", val.shape)
            } else {
                format!("[N, {}]", val.shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "))
            }
        };
        for &i in &self.inputs {
            let _ = writeln!(s, "input {} {}", self.value(i).name, shape(i));
        }
        for n in &self.nodes {
            let outs: Vec<String> = n.outputs.iter().map(|&o| shape(o)).collect();
            let _ = writeln!(s, "{} {} -> {}", n.name, n.op.describe(), outs.join(", "));
        }
        s
    }
}
