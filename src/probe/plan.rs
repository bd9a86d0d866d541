//! How many targets' histories one load holds (slots), and how many rows run together: as
//! many as the backend's buffer limits and memory budget allow, cut into even batches.
//! Rows are planned from the lowered program itself: built for one row and for two, the
//! difference of every buffer is what a row costs, the rest is fixed (weights, histories).
//!
//! Owns: batch sizing. Must not touch: lowering (it asks for programs), running.

use super::ProbeError;
use crate::backend::Backend;
use crate::graph::Graph;
use crate::program::Program;
use crate::program::lower::LowerError;

/// Bytes of one slot's history: `2 x steps x n x features` f32 values.
fn slot_history(graph: &Graph, steps: usize, n: usize) -> u64 {
    (2 * steps * n * graph.output_len()) as u64 * 4
}

/// Targets one load can run together, at most `wanted` and at least 1: as many histories as
/// fit one buffer and half the memory budget (the other half is for the batch rows).
pub fn plan_slots(backend: &dyn Backend, graph: &Graph, images: usize, steps: usize, wanted: usize) -> usize {
    let limits = backend.limits();
    let one = slot_history(graph, steps, images).max(1);
    let fit = (limits.max_buffer_bytes / one).min(limits.budget_bytes / 2 / one);
    (wanted as u64).min(fit).max(1) as usize
}

/// What a program's buffers cost: bytes per row of the batch, fixed bytes, and the bytes per
/// row of its widest batch buffer, from `build` (the program for a given row count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowCost {
    pub per_row: u64,
    pub fixed: u64,
    pub widest_row: u64,
    /// The largest part of one buffer that does not grow with the rows: (buffer, bytes).
    pub largest_fixed: (usize, u64),
}

impl RowCost {
    /// Builds the program for one row and for two and compares every buffer.
    pub fn of(build: &dyn Fn(usize) -> Result<Program, LowerError>) -> Result<(RowCost, Program), LowerError> {
        let (one, two) = (build(1)?, build(2)?);
        let mut cost = RowCost { per_row: 0, fixed: 0, widest_row: 0, largest_fixed: (0, 0) };
        for (i, (a, b)) in one.buffers.iter().zip(&two.buffers).enumerate() {
            let row = (b.len - a.len) as u64 * 4;
            let fixed = a.len as u64 * 4 - row;
            cost.per_row += row;
            cost.fixed += fixed;
            cost.widest_row = cost.widest_row.max(row);
            if fixed > cost.largest_fixed.1 {
                cost.largest_fixed = (i, fixed);
            }
        }
        Ok((cost, one))
    }
}

/// Rows per batch of the program `build` makes for a row count, for `rows` rows in all: as
/// many as the backend's buffer limits and memory budget allow, at most `max_batch`.
pub fn plan_capacity(
    backend: &dyn Backend,
    build: &dyn Fn(usize) -> Result<Program, LowerError>,
    rows: usize,
    max_batch: Option<usize>,
) -> Result<usize, ProbeError> {
    let limits = backend.limits();
    let (cost, one) = RowCost::of(build)?;
    // A buffer that does not grow with the rows (the histories) must fit on its own.
    let (i, bytes) = cost.largest_fixed;
    if bytes > limits.max_buffer_bytes {
        return Err(ProbeError::Input(format!(
            "the {} needs {bytes} bytes, more than this backend's buffer limit of {}; use fewer images or steps",
            one.buffers[i].label, limits.max_buffer_bytes
        )));
    }
    let by_memory = limits.budget_bytes.saturating_sub(cost.fixed) / cost.per_row.max(1);
    let by_binding = limits.max_buffer_bytes / cost.widest_row.max(1);
    let cap = (rows as u64).min(by_memory).min(by_binding).min(max_batch.unwrap_or(usize::MAX) as u64) as usize;
    if cap == 0 {
        return Err(ProbeError::Input(format!(
            "not even one image fits: the weights and histories take {}, each row {} more, within a memory budget of {} (--memory-budget) and buffers of at most {}",
            size(cost.fixed as u128),
            size(cost.per_row as u128),
            size(limits.budget_bytes as u128),
            size(limits.max_buffer_bytes as u128)
        )));
    }
    // Even batches, so the last one is not mostly padding.
    let batches = rows.div_ceil(cap);
    log::info!(
        "{} rows in {batches} batch(es): {} bytes per row, {} fixed, within a memory budget of {} and buffers of at most {}",
        rows,
        cost.per_row,
        cost.fixed,
        size(limits.budget_bytes as u128),
        size(limits.max_buffer_bytes as u128)
    );
    Ok(rows.div_ceil(batches))
}

/// What a probe of `images` images of noise `zdim`, `features` logits and `steps` steps each
/// way holds in host memory at once, in bytes, by part: the starting noise, the recorded
/// changes and starting logits of `targets` targets run together as they are read back (f32),
/// and the statistics' per-image sums (six f64 per image and feature).
pub fn host_bytes(images: usize, zdim: usize, features: usize, steps: usize, targets: usize) -> [(&'static str, u128); 3] {
    let (n, f) = (images as u128, features as u128);
    [
        ("noise", n * zdim as u128 * 4),
        ("recorded changes", targets.max(1) as u128 * (2 * steps as u128 + 1) * n * f * 4),
        ("per-image sums", 6 * n * f * 8),
    ]
}

/// `bytes` for a person: `25.6 GB`.
fn size(bytes: u128) -> String {
    let b = bytes as f64;
    match b {
        b if b >= 1e12 => format!("{:.1} TB", b / 1e12),
        b if b >= 1e9 => format!("{:.1} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        b => format!("{:.0} kB", b / 1e3),
    }
}

/// Fails, naming the sizes, when a probe ([`host_bytes`]) needs more host memory than
/// `available` (what the system can give, where it says): checked before anything is
/// allocated.
pub fn check_host_memory(
    images: usize,
    zdim: usize,
    features: usize,
    steps: usize,
    targets: usize,
    available: Option<u64>,
) -> Result<(), ProbeError> {
    let Some(available) = available else { return Ok(()) };
    let parts = host_bytes(images, zdim, features, steps, targets);
    let total: u128 = parts.iter().map(|p| p.1).sum();
    if total <= available as u128 {
        return Ok(());
    }
    let each: Vec<String> = parts.iter().map(|(what, b)| format!("{what} {}", size(*b))).collect();
    Err(ProbeError::Input(format!(
        "a probe of {images} images x {steps} steps needs about {} of host memory ({}), more than the {} available; use fewer images or steps",
        size(total),
        each.join(", "),
        size(available as u128)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_memory_is_planned_before_anything_is_allocated() {
        // 10^8 images of z 64, 40 features, 30 steps: 25.6 GB of noise, 976 GB of changes.
        let parts = host_bytes(100_000_000, 64, 40, 30, 1);
        assert_eq!(parts[0].1, 25_600_000_000);
        assert_eq!(parts[1].1, 61 * 100_000_000 * 40 * 4);
        let e = check_host_memory(100_000_000, 64, 40, 30, 1, Some(24 << 30)).unwrap_err().to_string();
        assert!(e.contains("100000000 images x 30 steps") && e.contains("noise 25.6 GB") && e.contains("25.8 GB available"), "{e}");
        assert!(check_host_memory(256, 64, 40, 30, 1, Some(24 << 30)).is_ok());
        assert!(check_host_memory(100_000_000, 64, 40, 30, 1, None).is_ok(), "no figure from the system: no refusal");
        assert!(check_host_memory(usize::MAX, usize::MAX, 40, 30, 1, Some(1)).is_err(), "no overflow");
    }
}
