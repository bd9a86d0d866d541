//! Stage 4 of the pipeline: the notebook's probe, run batch by batch on a backend.
//!
//! Both directions run as one doubled batch: row `g < n` is image `g` moving up the target's
//! gradient, row `g >= n` is image `g - n` moving down. In eval mode every image is
//! independent of the others, so the doubled batch may be cut into any number of batches,
//! each run through all its steps on its own; only the covariance, computed once over the
//! whole history at the end, sees every row.
//!
//! A [`LoadedProbe`] is the probe's program loaded once on a backend: it probes any target
//! (a step parameter) without rebuilding the program or uploading any weight again.
//!
//! Owns: batching, the run loop, what a run returns. Must not touch: wgpu, the CLI, statistics
//! beyond the covariance the program computes.

mod forward;
mod loaded;
mod plan;
mod targets;

pub use forward::{Evaluation, GENERATE_BATCH, classify, evaluate, generate};
pub use loaded::LoadedProbe;
pub use plan::{check_host_memory, host_bytes, plan_capacity, plan_slots};
pub use targets::{Jacobians, TargetsRun, jacobians, probe_targets};

use crate::backend::{Backend, BackendError};
use crate::model::Network;
use crate::ops::noise_update::UpdateRule;
use crate::program::lower::LowerError;

/// Why a probe could not run.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Lower(#[from] LowerError),
    #[error("{0}")]
    Input(String),
}

/// What the probe does, beyond the models and the noise.
#[derive(Debug, Clone)]
pub struct ProbeSettings {
    pub target: usize,
    pub steps: usize,
    pub update: UpdateRule,
    /// Largest batch (rows of the doubled batch run together); `None`: as large as fits.
    pub max_batch: Option<usize>,
}

/// What a probe measured.
#[derive(Debug, Clone)]
pub struct ProbeOutcome {
    pub target: usize,
    pub steps: usize,
    pub features: usize,
    pub images: usize,
    /// Covariance of the recorded changes, `features x features`, row-major.
    pub cov: Vec<f32>,
    /// Mean target logit of the starting images.
    pub start_mean: f64,
    /// Mean target logit at the last recorded step up, and down (before its update, as the
    /// notebook's history ends).
    pub end_mean_up: f64,
    pub end_mean_down: f64,
    pub batches: usize,
    pub batch_rows: usize,
    pub seconds: f64,
    /// The noise of the first kept images at every recorded step, when asked for
    /// ([`Keep::noise`]): `[direction: 0 up, 1 down][step]`, each `kept x zdim`
    /// row-major; step 0 is the starting noise, step `i` the noise after `i` updates.
    pub noise_history: Vec<Vec<Vec<f32>>>,
    /// The recorded changes of every logit from its starting value, when asked for
    /// ([`Keep::changes`]): layout `(2, steps, n, features)` row-major, direction
    /// major (0 up, 1 down), the notebook's `classification_changes`; `None` otherwise.
    pub changes: Option<Vec<f32>>,
    /// Every image's starting logits, `n x features` row-major (the notebook's `C(G(z0))`).
    pub start_logits: Vec<f32>,
}

/// What a probe keeps beyond its result, for pictures. Keeping changes no number.
#[derive(Debug, Clone, Copy, Default)]
pub struct Keep {
    /// Keep the noise of the first `noise` images (at most `n`) of both directions at every
    /// recorded step, in [`ProbeOutcome::noise_history`]; 0 keeps none.
    pub noise: usize,
    /// Return the recorded changes in [`ProbeOutcome::changes`] (they are always read back, to
    /// check the run did not diverge).
    pub changes: bool,
}

/// Called after every step with (image-steps done, image-steps in all).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// The noise of a batch of `capacity` rows whose first `rows` are global rows `row0..`: row
/// `g` holds image `g % n` of `z0` (`n x zdim`), the padding rows 0.
pub(crate) fn batch_noise(z0: &[f32], zdim: usize, n: usize, row0: usize, rows: usize, capacity: usize) -> Vec<f32> {
    let mut z = vec![0.0f32; capacity * zdim];
    for r in 0..rows {
        let image = (row0 + r) % n;
        z[r * zdim..(r + 1) * zdim].copy_from_slice(&z0[image * zdim..(image + 1) * zdim]);
    }
    z
}

/// Fails unless `target` is one of the classifier's `features`.
pub(crate) fn check_target(target: usize, features: usize) -> Result<(), ProbeError> {
    if target >= features {
        return Err(ProbeError::Input(format!("target feature {target} out of range: the classifier has {features}")));
    }
    Ok(())
}

/// Runs the probe on `n` images of starting noise `z0` (`n x zdim`, row-major).
pub fn run_probe(
    backend: &mut dyn Backend,
    generator: &Network,
    classifier: &Network,
    z0: &[f32],
    settings: &ProbeSettings,
) -> Result<ProbeOutcome, ProbeError> {
    run_probe_with(backend, generator, classifier, z0, settings, Keep::default(), None)
}

/// [`run_probe`], keeping what `keep` asks for and reporting progress after every step. With a
/// progress callback the host waits for each step to finish, so the count is true on a GPU too.
/// Loads the program for this one run; [`LoadedProbe`] runs many targets on one load.
pub fn run_probe_with(
    backend: &mut dyn Backend,
    generator: &Network,
    classifier: &Network,
    z0: &[f32],
    settings: &ProbeSettings,
    keep: Keep,
    progress: Option<Progress<'_>>,
) -> Result<ProbeOutcome, ProbeError> {
    let started = std::time::Instant::now();
    let zdim = generator.graph.input_len();
    let n = forward::check_rows("the noise", z0, zdim)?;
    if settings.steps == 0 {
        return Err(ProbeError::Input("steps must be at least 1".into()));
    }
    let features = classifier.output[0];
    check_target(settings.target, features)?;
    let mut loaded = LoadedProbe::load(backend, generator, classifier, n, settings.steps, settings.update, settings.max_batch)?;
    let mut outcome = loaded.run(z0, settings.target, settings.steps, keep, progress)?;
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}
