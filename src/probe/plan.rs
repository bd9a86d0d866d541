//! How many targets' histories one load holds (slots), and how many rows run together: as
//! many as the backend's buffer limits and memory budget allow, cut into even batches.
//!
//! Owns: batch sizing. Must not touch: programs, running.

use super::ProbeError;
use crate::backend::Backend;
use crate::model::Stage;

/// Bytes of one slot's history: `2 x steps x n x features` f32 values.
fn slot_history(stages: &[&Stage], steps: usize, n: usize) -> u64 {
    let features = stages.last().map_or(0, |s| s.out_len());
    (2 * steps * n * features) as u64 * 4
}

/// Targets one load can run together, at most `wanted` and at least 1: as many histories as
/// fit one buffer and half the memory budget (the other half is for the batch rows).
pub fn plan_slots(backend: &dyn Backend, stages: &[&Stage], images: usize, steps: usize, wanted: usize) -> usize {
    let limits = backend.limits();
    let one = slot_history(stages, steps, images).max(1);
    let fit = (limits.max_buffer_bytes / one).min(limits.budget_bytes / 2 / one);
    (wanted as u64).min(fit).max(1) as usize
}

/// Rows per batch of a probe of `slots` targets of `n` images each way (`rows` = `slots x 2n`
/// in all): as many as the backend's buffer limits and memory budget allow.
pub fn plan_capacity(
    backend: &dyn Backend,
    stages: &[&Stage],
    rows: usize,
    steps: usize,
    n: usize,
    slots: usize,
    max_batch: Option<usize>,
) -> Result<usize, ProbeError> {
    let limits = backend.limits();
    let features = stages.last().map_or(0, |s| s.out_len());
    let zdim = stages[0].in_len();
    let max_in = stages.iter().skip(1).map(|s| s.in_len()).max().unwrap_or(1);
    let per_row: u64 = (3 * zdim + 2 * features + 2 * max_in + stages.iter().map(|s| s.out_len()).sum::<usize>()) as u64 * 4;
    let widest = (stages.iter().map(|s| s.out_len()).max().unwrap_or(1).max(max_in).max(zdim)) as u64 * 4;
    let history = slots as u64 * slot_history(stages, steps, n);
    let weights: u64 = stages.iter().map(|s| (s.weight.len() + s.cout) as u64 * 4).sum();
    if history > limits.max_buffer_bytes {
        return Err(ProbeError::Input(format!(
            "the history of {slots} target(s) x {n} images x {steps} steps needs {history} bytes, more than this backend's buffer limit of {}; use fewer images or steps",
            limits.max_buffer_bytes
        )));
    }
    let fixed = history + weights;
    let by_memory = limits.budget_bytes.saturating_sub(fixed) / per_row;
    let by_binding = limits.max_buffer_bytes / widest;
    let cap = (rows as u64).min(by_memory).min(by_binding).min(max_batch.unwrap_or(usize::MAX) as u64) as usize;
    if cap == 0 {
        return Err(ProbeError::Input("not even one image fits in this backend's memory limits".into()));
    }
    // Even batches, so the last one is not mostly padding.
    let batches = rows.div_ceil(cap);
    Ok(rows.div_ceil(batches))
}
