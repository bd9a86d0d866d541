//! Many targets on one load: the exact probe of every target of a list, as many at a time as
//! one load holds ([`probe_targets`]), and each image's gradient of every logit at the
//! starting noise, the first-order probe's input ([`jacobians`]).
//!
//! Owns: the rounds over target lists, the Jacobian's batches. Must not touch: statistics, the CLI.

use std::time::Instant;

use super::{LoadedProbe, ProbeError, ProbeOutcome, Progress, batch_noise, check_target, forward::check_rows, plan_capacity};
use crate::backend::Backend;
use crate::model::Network;
use crate::ops::StepParams;
use crate::ops::noise_update::UpdateRule;
use crate::program::Phase;
use crate::program::lower::{chain, gradient_program};

/// What a run over many targets did, beside its outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetsRun {
    /// Targets run together in one round.
    pub slots: usize,
    /// Rounds (each one set of batches through every step).
    pub rounds: usize,
    /// Rows per batch.
    pub batch_rows: usize,
    pub seconds: f64,
}

/// Probes every one of `targets` for `steps` steps from the same starting noise `z0`, on one
/// load of the program, as many targets at a time as it holds; hands each target's outcome
/// (with its changes) to `sink` as soon as its round is done, in the order of `targets`, so
/// only one round's changes are held at a time. Each outcome is what a single-target
/// [`run_probe`](super::run_probe) of that target gives. `progress` counts image-steps over
/// every target.
#[allow(clippy::too_many_arguments)]
pub fn probe_targets<E: From<ProbeError>>(
    backend: &mut dyn Backend,
    generator: &Network,
    classifier: &Network,
    z0: &[f32],
    targets: &[usize],
    steps: usize,
    update: UpdateRule,
    max_batch: Option<usize>,
    mut progress: Option<Progress<'_>>,
    mut sink: impl FnMut(ProbeOutcome) -> Result<(), E>,
) -> Result<TargetsRun, E> {
    let started = Instant::now();
    let zdim = generator.graph.input_len();
    let n = check_rows("the noise", z0, zdim)?;
    if targets.is_empty() {
        return Err(ProbeError::Input("no targets to probe".into()).into());
    }
    for &t in targets {
        check_target(t, classifier.output[0])?;
    }
    let mut loaded = LoadedProbe::load_targets(backend, generator, classifier, n, steps, update, max_batch, targets.len())?;
    let slots = loaded.slots();
    let total = (targets.len() * 2 * n * steps) as u64;
    let mut rounds = 0;
    for (r, round) in targets.chunks(slots).enumerate() {
        let before = (r * slots * 2 * n * steps) as u64;
        let outcomes = match progress.as_mut() {
            Some(p) => {
                let mut report = |done: u64, _: u64| p(before + done, total);
                loaded.run_targets(z0, round, steps, Some(&mut report))?
            }
            None => loaded.run_targets(z0, round, steps, None)?,
        };
        rounds += 1;
        log::info!("round {rounds}: targets {round:?} done");
        for outcome in outcomes {
            sink(outcome)?;
        }
    }
    let batch_rows = loaded.layout().capacity;
    Ok(TargetsRun { slots, rounds, batch_rows, seconds: started.elapsed().as_secs_f64() })
}

/// Every image's gradient of every logit with respect to its noise, at the starting noise.
#[derive(Debug, Clone)]
pub struct Jacobians {
    pub images: usize,
    pub features: usize,
    pub zdim: usize,
    /// `(images, features, zdim)` row-major: row (j, i) is d logit_i / d z at image j.
    pub grads: Vec<f32>,
    /// Every image's starting logits, `images x features`.
    pub start_logits: Vec<f32>,
    pub batches: usize,
    pub batch_rows: usize,
    pub seconds: f64,
}

/// The Jacobian of all F logits with respect to the noise at each image of `z0`: F
/// input-gradient passes (slot i of `n` rows follows logit i with scale 1), no steps, in
/// batches that fit (at most `max_batch` rows). `progress` counts rows done out of F n.
pub fn jacobians(
    backend: &mut dyn Backend,
    generator: &Network,
    classifier: &Network,
    z0: &[f32],
    max_batch: Option<usize>,
    mut progress: Option<Progress<'_>>,
) -> Result<Jacobians, ProbeError> {
    let started = Instant::now();
    let graph = chain(generator, classifier)?;
    let zdim = graph.input_len();
    let n = check_rows("the noise", z0, zdim)?;
    let features = classifier.output[0];
    let rows = features * n;
    let build = |capacity| gradient_program(&graph, capacity, n, features, 1.0);
    let capacity = plan_capacity(backend, &|c| Ok(build(c)?.0), rows, max_batch)?;
    let (program, layout) = build(capacity)?;
    backend.load(&program)?;
    backend.write(layout.targets, &(0..features).map(|i| i as f32).collect::<Vec<_>>())?;
    let logits = layout.output;
    let mut grads = vec![0.0f32; rows * zdim];
    let mut start_logits = vec![0.0f32; n * features];
    let mut batches = 0;
    for row0 in (0..rows).step_by(capacity) {
        let batch_rows = capacity.min(rows - row0);
        let z = batch_noise(z0, zdim, n, row0, batch_rows, capacity);
        backend.write(layout.z, &z)?;
        let params = StepParams::new(0, row0, batch_rows, 1);
        backend.run(Phase::Setup, params)?;
        backend.run(Phase::Step, params)?;
        let dz = backend.read(layout.dz)?;
        let y = backend.read(logits)?;
        for r in 0..batch_rows {
            let (feature, image) = ((row0 + r) / n, (row0 + r) % n);
            let at = (image * features + feature) * zdim;
            grads[at..at + zdim].copy_from_slice(&dz[r * zdim..(r + 1) * zdim]);
            if feature == 0 {
                start_logits[image * features..(image + 1) * features].copy_from_slice(&y[r * features..(r + 1) * features]);
            }
        }
        batches += 1;
        if let Some(report) = progress.as_mut() {
            report((row0 + batch_rows) as u64, rows as u64);
        }
    }
    if let Some(i) = start_logits.iter().position(|v| !v.is_finite()) {
        return Err(ProbeError::Input(format!(
            "the starting logit of feature {} is not finite for image {}: the models overflow on this noise",
            i % features,
            i / features
        )));
    }
    if let Some(i) = grads.iter().position(|v| !v.is_finite()) {
        let (image, feature) = (i / zdim / features, (i / zdim) % features);
        return Err(ProbeError::Input(format!("the gradient of feature {feature} is not finite for image {image}")));
    }
    Ok(Jacobians {
        images: n,
        features,
        zdim,
        grads,
        start_logits,
        batches,
        batch_rows: capacity,
        seconds: started.elapsed().as_secs_f64(),
    })
}
