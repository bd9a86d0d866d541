//! The single-precision GEMM peak a bench run's kernels are measured against (`bench --peak`).
//!
//! On the CPU backend the peak is measured: square products `C = A B` of each size, one on
//! each thread the fast path uses, all at once, each through the very sgemm call the fast
//! convolutions make (`backend::cpu::fast::sgemm::gemm`: the `gemm` crate, row-major). The best of
//! `repeats` runs of a size gives that size's rate (threads x 2 n^3 FLOP over the run's wall
//! time); the best size is the peak. `A` and `B` are shared by the threads (as the fast path
//! shares a layer's weights), `C` is each thread's own: `(2 + threads) n^2` floats in all.
//!
//! On a wgpu adapter nothing is measured: gan-bias has no GEMM kernel of its own there (its
//! convolutions are implicit GEMMs, and timing them would measure them against themselves),
//! so the peak is a figure given on the command line, such as the vendor's fp32 figure.
//!
//! Owns: the peak and the choice of it per run. Must not touch: the step's timing.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::backend::AdapterIdentity;
use crate::backend::cpu::fast::sgemm::{self, Strided};

/// The square sizes `bench --peak` measures unless told otherwise.
pub const SIZES: [usize; 3] = [1024, 2048, 3072];
/// Runs of each size; the best counts.
pub const REPEATS: usize = 3;

/// Where a peak comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PeakSource {
    /// Timed on this machine, by [`measure`].
    Measured,
    /// Given (`--peak-gflops`), e.g. the vendor's fp32 figure.
    Given,
}

/// One size of a measured peak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeakShape {
    /// `n` of the `n x n x n` products.
    pub size: usize,
    /// The best run's wall time, every thread's product included.
    pub best_ms: f64,
    pub gflop_per_s: f64,
}

/// The GFLOP/s a run's fractions are taken of.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Peak {
    pub gflop_per_s: f64,
    pub source: PeakSource,
    /// How it was measured or where it comes from, in words.
    pub detail: String,
    /// Threads running a product each at once (measured peaks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<usize>,
    /// Runs of each size (measured peaks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<usize>,
    /// Every size measured, in order (empty for a given peak).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shapes: Vec<PeakShape>,
}

impl Peak {
    /// A peak given as `gflop_per_s`.
    pub fn given(gflop_per_s: f64) -> Peak {
        Peak {
            gflop_per_s,
            source: PeakSource::Given,
            detail: "given on the command line (e.g. the vendor's fp32 figure), not measured".into(),
            threads: None,
            repeats: None,
            shapes: Vec::new(),
        }
    }

    /// `gflop_per_s` as a fraction of the peak.
    pub fn fraction(&self, gflop_per_s: f64) -> f64 {
        gflop_per_s / self.gflop_per_s
    }

    /// One line for a table's header.
    pub fn describe(&self) -> String {
        let shapes: Vec<String> = self.shapes.iter().map(|s| format!("{}: {:.1}", s.size, s.gflop_per_s)).collect();
        let sizes = if shapes.is_empty() { String::new() } else { format!(" ({} GFLOP/s)", shapes.join(", ")) };
        let source = match self.source {
            PeakSource::Measured => "measured",
            PeakSource::Given => "given",
        };
        format!("{:.1} GFLOP/s single-precision GEMM, {source}: {}{sizes}", self.gflop_per_s, self.detail)
    }
}

/// The peak of `sgemm` on this machine as the CPU backend runs it: for each of `sizes`, one
/// `n x n x n` product per fast-path thread at once, the best of `repeats` runs. Panics on
/// an empty `sizes` or a zero size (the command checks them).
pub fn measure(sizes: &[usize], repeats: usize) -> Peak {
    assert!(!sizes.is_empty() && sizes.iter().all(|&n| n > 0), "peak sizes must be at least 1");
    let threads = sgemm::threads();
    let repeats = repeats.max(1);
    let shapes: Vec<PeakShape> = sizes
        .iter()
        .map(|&n| {
            let best = time_size(n, threads, repeats);
            PeakShape { size: n, best_ms: best * 1e3, gflop_per_s: threads as f64 * 2.0 * (n as f64).powi(3) / 1e9 / best.max(1e-9) }
        })
        .collect();
    let gflop_per_s = shapes.iter().map(|s| s.gflop_per_s).fold(0.0, f64::max);
    Peak {
        gflop_per_s,
        source: PeakSource::Measured,
        detail: format!(
            "gemm crate sgemm as the CPU backend calls it, one n x n x n product on each of {threads} thread(s) at once, best of {repeats}"
        ),
        threads: Some(threads),
        repeats: Some(repeats),
        shapes,
    }
}

/// The best wall time, in seconds, of `repeats` runs of `threads` products of size `n` at once.
fn time_size(n: usize, threads: usize, repeats: usize) -> f64 {
    // Values in [-0.5, 0.5): no denormals, no overflow at any size.
    let fill = |seed: usize| -> Vec<f32> { (0..n * n).map(|i| ((i * 7919 + seed) % 1000) as f32 / 1000.0 - 0.5).collect() };
    let (a, b) = (fill(1), fill(2));
    let mut cs: Vec<Vec<f32>> = (0..threads).map(|_| vec![0.0; n * n]).collect();
    let mut best = f64::INFINITY;
    for _ in 0..repeats {
        let start = Instant::now();
        std::thread::scope(|s| {
            for c in cs.iter_mut() {
                let (a, b) = (&a, &b);
                s.spawn(move || sgemm::gemm(n, n, n, Strided::rows(a, n), Strided::rows(b, n), c, n, 1));
            }
        });
        best = best.min(start.elapsed().as_secs_f64());
    }
    best
}

/// The peak a run on `adapter` is measured against: on the CPU backend the `measured` one
/// where there is one, else `given`; on a wgpu adapter (GPU or software) `given` only.
pub fn choose(adapter: &AdapterIdentity, measured: Option<&Peak>, given: Option<f64>) -> Option<Peak> {
    let on_cpu_backend = adapter.backend.starts_with("cpu");
    match (on_cpu_backend, measured) {
        (true, Some(p)) => Some(p.clone()),
        _ => given.map(Peak::given),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_measured_peak_is_the_best_of_its_sizes() {
        let p = measure(&[8, 16], 2);
        assert_eq!(p.source, PeakSource::Measured);
        assert_eq!(p.shapes.iter().map(|s| s.size).collect::<Vec<_>>(), [8, 16]);
        assert!(p.shapes.iter().all(|s| s.gflop_per_s > 0.0 && s.best_ms > 0.0));
        assert_eq!(p.gflop_per_s, p.shapes.iter().map(|s| s.gflop_per_s).fold(0.0, f64::max));
        // Each size's rate is its work over its best time.
        let threads = p.threads.unwrap() as f64;
        for s in &p.shapes {
            let rate = threads * 2.0 * (s.size as f64).powi(3) / 1e9 / (s.best_ms / 1e3);
            assert!((rate - s.gflop_per_s).abs() <= 1e-9 * rate, "{s:?}");
        }
        let back: Peak = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn the_cpu_backend_takes_the_measured_peak_and_adapters_the_given_one() {
        let identity = |backend: &str| AdapterIdentity {
            name: "x".into(),
            backend: backend.into(),
            device_type: "Cpu".into(),
            vendor_id: 0,
            vendor_name: String::new(),
            device_id: 0,
            driver: String::new(),
            driver_info: String::new(),
        };
        let measured = Peak { gflop_per_s: 200.0, ..Peak::given(0.0) };
        assert_eq!(choose(&identity("cpu"), Some(&measured), Some(5.0)), Some(measured.clone()));
        assert_eq!(choose(&identity("cpu"), None, Some(5.0)), Some(Peak::given(5.0)));
        assert_eq!(choose(&identity("Vulkan"), Some(&measured), Some(5.0)), Some(Peak::given(5.0)));
        assert_eq!(choose(&identity("Vulkan"), Some(&measured), None), None);
        assert_eq!(Peak::given(400.0).fraction(100.0), 0.25);
    }
}
