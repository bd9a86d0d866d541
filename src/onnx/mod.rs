//! ONNX models, read safely into a [`Graph`](crate::graph::Graph).
//!
//! Both PyTorch exporters' files are read: the TorchScript exporter's (weights inside the
//! file) and the dynamo exporter's (weights in `MODEL.onnx.data` beside it, ONNX external
//! data). Decoding is `rten-onnx`'s, through a reader that bounds every declared length
//! ([`proto`]); tensors are read by [`tensor`], external data only from inside the model's
//! folder; nodes become graph nodes in [`convert`], which lists what it cannot read instead
//! of guessing. Nothing in a model is executed.
//!
//! Owns: `.onnx` files -> graphs, the graph's listing. Must not touch: passes, programs.

mod convert;
mod fold;
pub mod proto;
pub mod tensor;

use std::path::{Path, PathBuf};

pub use convert::SUPPORTED_OPS;

use crate::graph::{Graph, GraphError};

/// Why a model could not be read. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("cannot read {path}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a readable ONNX model: {detail}")]
    Corrupt { path: String, detail: String },
    #[error("{path}: tensor {tensor} {detail}")]
    Tensor { path: String, tensor: String, detail: String },
    #[error("{path}: node {node} ({op}): {detail}")]
    Node { path: String, node: String, op: String, detail: String },
    #[error("{path}: {detail}")]
    Structure { path: String, detail: String },
    #[error("{path}")]
    Graph { path: String, source: GraphError },
}

/// One node of a model as read: its name, op, output shape (`N` the batch) and whether it
/// was read (`None`) or why not.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub node: String,
    pub op: String,
    pub shape: String,
    pub problem: Option<String>,
    /// The op itself is not one of [`SUPPORTED_OPS`].
    pub unknown_op: bool,
}

/// A model as read.
#[derive(Debug, Clone)]
pub struct OnnxModel {
    pub path: PathBuf,
    /// The default domain's opset.
    pub opset: i64,
    pub producer: String,
    /// The model's metadata properties, in file order.
    pub metadata: Vec<(String, String)>,
    /// The batch size the input declares when it is fixed (not symbolic).
    pub fixed_batch: Option<usize>,
    /// Every node, read or not.
    pub rows: Vec<Row>,
    /// The graph of the nodes read; whole only when every row was read ([`read`] checks).
    pub graph: Graph,
}

impl OnnxModel {
    /// The metadata property `key`.
    pub fn property(&self, key: &str) -> Option<&str> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The listing: a header, then one line per node, unsupported ones marked.
    pub fn listing(&self) -> String {
        let mut s = format!("# {}: opset {}, produced by {}\n", self.path.display(), self.opset, self.producer);
        for &i in &self.graph.inputs {
            let v = self.graph.value(i);
            let fixed = self
                .fixed_batch
                .map_or(String::new(), |b| format!(" (exported with a fixed batch of {b}; N may be any batch where no node mixes rows)"));
            s += &format!("input {} {}{fixed}\n", v.name, convert::shape_text(&v.shape));
        }
        let width = self.rows.iter().map(|r| r.node.chars().count()).max().unwrap_or(0);
        let op_width = self.rows.iter().map(|r| r.op.chars().count()).max().unwrap_or(0);
        for r in &self.rows {
            let mark = r.problem.as_ref().map_or(String::new(), |p| format!("  UNSUPPORTED: {p}"));
            s += &format!("{:width$}  {:op_width$}  {}{mark}\n", r.node, r.op, r.shape);
        }
        let bad = self.rows.iter().filter(|r| r.problem.is_some()).count();
        s += &if bad == 0 {
            format!("# all {} nodes are supported\n", self.rows.len())
        } else {
            format!("# {bad} of {} nodes are not supported; supported ops: {}\n", self.rows.len(), SUPPORTED_OPS.join(", "))
        };
        s
    }

    /// The first node that was not read, as an error.
    pub fn check(&self) -> Result<(), OnnxError> {
        match self.rows.iter().find(|r| r.problem.is_some()) {
            Some(r) => Err(OnnxError::Node {
                path: self.path.display().to_string(),
                node: r.node.clone(),
                op: r.op.clone(),
                detail: match r.unknown_op {
                    true => format!("{}; supported ops: {}", r.problem.clone().unwrap_or_default(), SUPPORTED_OPS.join(", ")),
                    false => r.problem.clone().unwrap_or_default(),
                },
            }),
            None => Ok(()),
        }
    }
}

/// Reads the model at `path`, listing every node whether it can be read or not.
pub fn open(path: &Path) -> Result<OnnxModel, OnnxError> {
    let bytes = std::fs::read(path).map_err(|source| OnnxError::Io { path: path.display().to_string(), source })?;
    from_bytes(&bytes, path)
}

/// Reads the model at `path`; fails on the first node that cannot be read.
pub fn read(path: &Path) -> Result<OnnxModel, OnnxError> {
    let model = open(path)?;
    model.check()?;
    Ok(model)
}

/// Reads a model from `bytes`, as if read from `path` (external data is looked for beside it).
pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<OnnxModel, OnnxError> {
    let p = path.display().to_string();
    let proto = proto::decode(bytes).map_err(|e| OnnxError::Corrupt { path: p.clone(), detail: e.to_string() })?;
    convert::model(proto, path)
}
