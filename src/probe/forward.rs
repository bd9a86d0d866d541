//! Forward-only runs: a generator's images ([`generate`]), and one forward and backward pass
//! with every stage's output ([`evaluate`], for tests against PyTorch).
//!
//! Owns: forward-only programs' runs. Must not touch: the probe's loop, statistics.

use super::{ProbeError, check_target};
use crate::backend::Backend;
use crate::graph::Graph;
use crate::ops::StepParams;
use crate::program::Phase;
use crate::program::lower::{check_logits, forward_program, gradient_program};

/// Most rows one [`generate`] program holds.
pub const GENERATE_BATCH: usize = 64;

/// Fails unless `input` is a whole, non-empty number of finite `in_len`-long rows.
pub(crate) fn check_rows(what: &str, input: &[f32], in_len: usize) -> Result<usize, ProbeError> {
    if in_len == 0 || input.is_empty() || !input.len().is_multiple_of(in_len) {
        return Err(ProbeError::Input(format!("{what} holds {} values, not a whole number of {in_len}-long rows", input.len())));
    }
    if let Some(i) = input.iter().position(|v| !v.is_finite()) {
        return Err(ProbeError::Input(format!(
            "{what} holds a non-finite value ({}) at row {}, column {}",
            input[i],
            i / in_len,
            i % in_len
        )));
    }
    Ok(input.len() / in_len)
}

/// The output of `graph` (a generator: its images, NCHW) for every row of `input`, forward
/// only, at most [`GENERATE_BATCH`] rows at a time.
pub fn generate(backend: &mut dyn Backend, graph: &Graph, input: &[f32]) -> Result<Vec<f32>, ProbeError> {
    forward_rows(backend, graph, input, GENERATE_BATCH)
}

/// The output of `graph` for every row of `input`, at most `batch` rows at a time.
fn forward_rows(backend: &mut dyn Backend, graph: &Graph, input: &[f32], batch: usize) -> Result<Vec<f32>, ProbeError> {
    if graph.nodes.is_empty() {
        return Err(ProbeError::Input("the network has no layers".into()));
    }
    let (in_len, out_len) = (graph.input_len(), graph.output_len());
    let rows = check_rows("the input", input, in_len)?;
    let capacity = rows.min(batch.max(1));
    let (program, z, out) = forward_program(graph, capacity)?;
    backend.load(&program)?;
    let mut images = Vec::with_capacity(rows * out_len);
    for row0 in (0..rows).step_by(capacity) {
        let batch_rows = capacity.min(rows - row0);
        let mut chunk = input[row0 * in_len..(row0 + batch_rows) * in_len].to_vec();
        chunk.resize(capacity * in_len, 0.0);
        backend.write(z, &chunk)?;
        backend.run(Phase::Step, StepParams::new(0, row0, batch_rows, 1))?;
        images.extend_from_slice(&backend.read(out)?[..batch_rows * out_len]);
    }
    Ok(images)
}

/// Outputs of every node and the input-gradient of `mean(logits[:, target])`, for `rows`
/// inputs through `graph` (a network, or a generator and classifier chained).
pub struct Evaluation {
    pub outputs: Vec<Vec<f32>>,
    pub input_grad: Vec<f32>,
}

/// One forward and one backward pass (the first step of a probe, without chunking).
pub fn evaluate(backend: &mut dyn Backend, graph: &Graph, input: &[f32], target: usize) -> Result<Evaluation, ProbeError> {
    check_logits(graph)?;
    let in_len = graph.input_len();
    if input.is_empty() || !input.len().is_multiple_of(in_len) {
        return Err(ProbeError::Input(format!("input holds {} values, not a whole number of {in_len}-long rows", input.len())));
    }
    let rows = input.len() / in_len;
    let features = graph.output_len();
    check_target(target, features)?;
    let (program, layout) = gradient_program(graph, rows, rows, 1, 1.0 / rows as f32)?;
    backend.load(&program)?;
    backend.write(layout.z, input)?;
    backend.write(layout.targets, &[target as f32])?;
    let params = StepParams::new(0, 0, rows, 1);
    backend.run(Phase::Setup, params)?;
    backend.run(Phase::Step, params)?;
    let outputs = layout.acts.iter().map(|&a| backend.read(a)).collect::<Result<_, _>>()?;
    Ok(Evaluation { outputs, input_grad: backend.read(layout.dz)? })
}

/// The logits of `classifier` for every image of `images` (`N x C x H x W`, its input shape),
/// forward only, `batch` images at a time: `N x features`, row-major.
pub fn classify(
    backend: &mut dyn Backend,
    classifier: &crate::model::Network,
    images: &[f32],
    batch: usize,
) -> Result<Vec<f32>, ProbeError> {
    forward_rows(backend, &classifier.graph, images, batch)
}
