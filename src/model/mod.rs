//! Named tensors -> a model's graph: the notebook's architectures are presets that build a
//! [`Graph`] from their tensors (see [`presets`]), checking every tensor's presence and shape.
//! Building a [`Network`] then runs the [`passes`](crate::passes) over it (BatchNorm folded
//! into the convolution before it, each activation fused into its producer), so the graph a
//! network holds is what the backends run.
//!
//! Owns: architectures, tensor checks, what a network is. Must not touch: programs, backends,
//! the probe (it knows what a network is, not how it runs).

pub mod presets;

use crate::graph::{Graph, GraphError};
use crate::passes;
use crate::weights::{TensorFile, WeightsError};

pub use presets::{ArchKind, Role};

/// Why a network could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(
        "{path}: cannot recognise the architecture from its tensor names (expected gen.0.0.weight, main.0.weight or classifier.0.0.weight); pass {flag} coursera|dcgan|classifier"
    )]
    UnknownArch { path: String, flag: &'static str },
    #[error("unknown architecture '{name}' (from {source_of}); known: coursera, dcgan, classifier")]
    BadArchName { name: String, source_of: String },
    #[error("{path}: architecture '{arch}' is a {found}, but a {wanted} is needed here")]
    WrongRole { path: String, arch: &'static str, found: &'static str, wanted: &'static str },
    #[error("{path}")]
    Graph { path: String, source: GraphError },
    #[error("{path}: {detail}")]
    Structure { path: String, detail: String },
    #[error("the classifier {classifier} expects {expected} images but the generator {generator} makes {found}")]
    Mismatch { classifier: String, generator: String, expected: String, found: String },
}

/// `a, b, c`.
fn dims(shape: &[usize]) -> String {
    shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
}

/// A built network: its graph after the passes, and its input/output shapes (channels, h, w).
#[derive(Debug, Clone)]
pub struct Network {
    /// The architecture's name: a preset's ([`ArchKind::name`]) or `onnx`.
    pub arch: &'static str,
    pub source: String,
    pub input: [usize; 3],
    pub output: [usize; 3],
    /// The model as the backends run it: BatchNorm folded, activations fused, dead nodes gone.
    pub graph: Graph,
    /// Feature names, for a classifier (one per output channel).
    pub features: Vec<String>,
    /// What was changed in reading the model, for the report's header (a classifier's final
    /// Sigmoid dropped).
    pub notes: Vec<String>,
}

impl Network {
    /// Builds the network of architecture `arch` from `file`, for inputs of shape `input`.
    pub fn build(arch: ArchKind, file: &TensorFile, input: [usize; 3]) -> Result<Network, ModelError> {
        let path = file.path.display().to_string();
        let graph = passes::optimise(presets::graph(arch, file, input)?);
        let out = &graph.value(graph.outputs[0]).shape;
        let output = match out.as_slice() {
            &[c, h, w] => [c, h, w],
            other => return Err(ModelError::Structure { path, detail: format!("the output has shape {other:?}, expected (c, h, w)") }),
        };
        Ok(Network { arch: arch.name(), source: path, input, output, graph, features: Vec::new(), notes: Vec::new() })
    }

    /// The network of a graph read from `source` (an ONNX model), in `role`: a generator takes
    /// noise `(z)` or `(z, 1, 1)` and outputs images `(c, h, w)`; a classifier takes images
    /// `(c, h, w)` and outputs logits `(F)` or `(F, 1, 1)`. The passes run over it.
    pub fn from_graph(mut graph: Graph, source: &str, role: Role) -> Result<Network, ModelError> {
        let structure = |detail: String| ModelError::Structure { path: source.to_string(), detail };
        // The probe works on logits: a classifier that ends in a Sigmoid is read without it.
        let mut notes = Vec::new();
        if role == Role::Classifier
            && let Some(&out) = graph.outputs.first()
            && let Some(p) = graph.producer(out)
            && graph.nodes[p].op == crate::graph::NodeOp::Act(crate::ops::act::Act::Sigmoid)
        {
            graph.outputs[0] = graph.nodes[p].inputs[0];
            notes.push(format!("its final Sigmoid ({}) is dropped: the probe works on the logits before it", graph.nodes[p].name));
        }
        let (Some(&x), Some(&y)) = (graph.inputs.first(), graph.outputs.first()) else {
            return Err(structure("the model has no input or no output".into()));
        };
        let (xs, ys) = (graph.value(x).shape.clone(), graph.value(y).shape.clone());
        let (input, output) = match role {
            Role::Generator => {
                let input = match xs.as_slice() {
                    &[z] | &[z, 1, 1] => [z, 1, 1],
                    other => {
                        return Err(structure(format!(
                            "a generator's input must be noise (batch, z) or (batch, z, 1, 1), not (batch, {})",
                            dims(other)
                        )));
                    }
                };
                let output = match ys.as_slice() {
                    &[c, h, w] => [c, h, w],
                    other => {
                        return Err(structure(format!(
                            "a generator's output must be images (batch, c, h, w), not (batch, {})",
                            dims(other)
                        )));
                    }
                };
                (input, output)
            }
            Role::Classifier => {
                let input = match xs.as_slice() {
                    &[c, h, w] => [c, h, w],
                    other => {
                        return Err(structure(format!(
                            "a classifier's input must be images (batch, c, h, w), not (batch, {})",
                            dims(other)
                        )));
                    }
                };
                let output = match ys.as_slice() {
                    &[f] | &[f, 1, 1] => [f, 1, 1],
                    other => {
                        return Err(structure(format!("a classifier's output must be logits (batch, F), not (batch, {})", dims(other))));
                    }
                };
                (input, output)
            }
        };
        Ok(Network { arch: "onnx", source: source.to_string(), input, output, graph: passes::optimise(graph), features: Vec::new(), notes })
    }

    /// Multiply-adds of one forward pass for one image.
    pub fn macs(&self) -> u64 {
        self.graph.macs()
    }
}
