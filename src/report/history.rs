//! The probe's recorded logits as a safetensors file, the notebook's `classification_history`:
//! `start` (n, F) and `history` (2 x steps, n, F), f32, the steps up the gradient then the
//! steps down, each recorded before its update; metadata name the features, the target, the
//! steps, the images and the update rule. `np.cov((history - start).reshape(-1, F).T)` is the
//! probe's covariance.
//!
//! Owns: the layout of the history file. Must not touch: the probe, the statistics.

use std::collections::HashMap;

use safetensors::tensor::TensorView;

use crate::ops::noise_update::UpdateRule;
use crate::probe::ProbeOutcome;

/// Why the history could not be laid out.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("the probe's outcome holds no recorded changes (run it keeping them)")]
    NoChanges,
    #[error("cannot lay out the history as safetensors: {0}")]
    Encode(String),
}

/// The bytes of the history file of `outcome`, a probe of `target` over `steps` steps.
pub fn safetensors(
    outcome: &ProbeOutcome,
    names: &[String],
    target: usize,
    steps: usize,
    update: UpdateRule,
) -> Result<Vec<u8>, HistoryError> {
    let changes = outcome.changes.as_deref().ok_or(HistoryError::NoChanges)?;
    let (n, f) = (outcome.images, outcome.features);
    let start = &outcome.start_logits;
    // The recorded logits: each change plus its image's starting logits.
    let history: Vec<f32> = changes.iter().enumerate().map(|(k, &c)| c + start[k % (n * f)]).collect();
    let (start_bytes, history_bytes): (&[u8], &[u8]) = (bytemuck::cast_slice(start), bytemuck::cast_slice(&history));
    let encode = |e: safetensors::SafeTensorError| HistoryError::Encode(e.to_string());
    let tensors = [
        ("start", TensorView::new(safetensors::Dtype::F32, vec![n, f], start_bytes).map_err(encode)?),
        ("history", TensorView::new(safetensors::Dtype::F32, vec![2 * steps, n, f], history_bytes).map_err(encode)?),
    ];
    let metadata = HashMap::from([
        ("features".to_string(), serde_json::to_string(names).expect("names serialise")),
        ("target".to_string(), names.get(target).cloned().unwrap_or_default()),
        ("target_index".to_string(), target.to_string()),
        ("steps".to_string(), steps.to_string()),
        ("images".to_string(), n.to_string()),
        ("update".to_string(), super::probe::update_name(update)),
    ]);
    safetensors::serialize(tensors, Some(metadata)).map_err(encode)
}
