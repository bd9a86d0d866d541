//! The probe's program loaded once: any targets, several in the same dispatches, any step
//! count up to the one it was built for, on the same buffers, pipelines and weights.
//!
//! Owns: the run loop of a loaded program, the divergence check. Must not touch: lowering, statistics.

use std::time::Instant;

use super::plan::{plan_capacity, plan_slots};
use super::{Keep, ProbeError, ProbeOutcome, Progress, batch_noise, check_target, forward::check_rows};
use crate::backend::Backend;
use crate::model::Network;
use crate::ops::StepParams;
use crate::ops::noise_update::UpdateRule;
use crate::program::Phase;
use crate::program::lower::{ProbeLayout, ProbeShape, chain, probe_program};

/// The probe's program for `images` images, at most `steps` steps and up to
/// [`slots`](LoadedProbe::slots) targets at once, loaded on a backend.
pub struct LoadedProbe<'b> {
    backend: &'b mut dyn Backend,
    layout: ProbeLayout,
    /// The classifier's feature names, for errors.
    names: Vec<String>,
}

impl<'b> LoadedProbe<'b> {
    /// Builds the program of `generator` then `classifier` for `images` images per direction
    /// and at most `steps` steps, one target at a time, in batches that fit (at most
    /// `max_batch` rows), and loads it.
    pub fn load(
        backend: &'b mut dyn Backend,
        generator: &Network,
        classifier: &Network,
        images: usize,
        steps: usize,
        update: UpdateRule,
        max_batch: Option<usize>,
    ) -> Result<LoadedProbe<'b>, ProbeError> {
        Self::load_targets(backend, generator, classifier, images, steps, update, max_batch, 1)
    }

    /// [`load`](Self::load) for up to `targets` targets at once: their rows (`targets x 2 x
    /// images`) share the same dispatches, as many targets as the backend's memory holds
    /// ([`slots`](Self::slots)).
    #[allow(clippy::too_many_arguments)]
    pub fn load_targets(
        backend: &'b mut dyn Backend,
        generator: &Network,
        classifier: &Network,
        images: usize,
        steps: usize,
        update: UpdateRule,
        max_batch: Option<usize>,
        targets: usize,
    ) -> Result<LoadedProbe<'b>, ProbeError> {
        if images == 0 || steps == 0 {
            return Err(ProbeError::Input("a probe needs at least 1 image and 1 step".into()));
        }
        let graph = chain(generator, classifier)?;
        let slots = plan_slots(backend, &graph, images, steps, targets.max(1));
        let build = |capacity| probe_program(&graph, ProbeShape { capacity, images, steps, slots }, update);
        let capacity = plan_capacity(backend, &|c| Ok(build(c)?.0), slots * 2 * images, max_batch)?;
        let (program, layout) = build(capacity)?;
        backend.load(&program)?;
        log::info!("probe loaded: {slots} target(s) at once, batches of {capacity} rows");
        Ok(LoadedProbe { backend, layout, names: classifier.features.clone() })
    }

    /// The buffers of the loaded program.
    pub fn layout(&self) -> &ProbeLayout {
        &self.layout
    }

    /// Targets one run takes at most.
    pub fn slots(&self) -> usize {
        self.layout.slots
    }

    /// The backend the program is loaded on.
    pub fn backend(&mut self) -> &mut dyn Backend {
        self.backend
    }

    /// Probes `target` for `steps` steps from the starting noise `z0` (`images x zdim`).
    pub fn run(
        &mut self,
        z0: &[f32],
        target: usize,
        steps: usize,
        keep: Keep,
        progress: Option<Progress<'_>>,
    ) -> Result<ProbeOutcome, ProbeError> {
        let mut outcomes = self.run_slots(z0, &[target], steps, keep, progress)?;
        Ok(outcomes.remove(0))
    }

    /// Probes every one of `targets` (at most [`slots`](Self::slots)) for `steps` steps from
    /// the same starting noise `z0`, in the same dispatches, keeping their changes: the
    /// outcomes in the order of `targets`, each what [`run`](Self::run) of that target gives.
    pub fn run_targets(
        &mut self,
        z0: &[f32],
        targets: &[usize],
        steps: usize,
        progress: Option<Progress<'_>>,
    ) -> Result<Vec<ProbeOutcome>, ProbeError> {
        self.run_slots(z0, targets, steps, Keep { noise: 0, changes: true }, progress)
    }

    fn run_slots(
        &mut self,
        z0: &[f32],
        targets: &[usize],
        steps: usize,
        keep: Keep,
        mut progress: Option<Progress<'_>>,
    ) -> Result<Vec<ProbeOutcome>, ProbeError> {
        let started = Instant::now();
        let l = &self.layout;
        let (n, zdim, features, capacity) = (l.images, l.zdim, l.features, l.capacity);
        if check_rows("the noise", z0, zdim)? != n {
            return Err(ProbeError::Input(format!("the noise holds {} images; this probe was loaded for {n}", z0.len() / zdim)));
        }
        if steps == 0 || steps > l.steps {
            return Err(ProbeError::Input(format!("steps must be between 1 and {} (the probe was loaded for {})", l.steps, l.steps)));
        }
        if targets.is_empty() || targets.len() > l.slots {
            return Err(ProbeError::Input(format!("a run takes 1 to {} targets, not {}", l.slots, targets.len())));
        }
        for &t in targets {
            check_target(t, features)?;
        }
        let slots = targets.len();
        let slot_rows = 2 * n;
        let rows = slots * slot_rows;
        let backend = &mut *self.backend;
        let mut slot_targets = vec![0.0f32; l.slots];
        for (k, &t) in targets.iter().enumerate() {
            slot_targets[k] = t as f32;
        }
        backend.write(l.targets, &slot_targets)?;
        // Per slot: the sums of its target's logit at the start, and at the last step up and down.
        let (mut start_sum, mut up_sum, mut down_sum) = (vec![0.0f64; slots], vec![0.0f64; slots], vec![0.0f64; slots]);
        let mut batches = 0;
        let keep_changes = keep.changes;
        let keep = keep.noise.min(n);
        let mut start_logits = vec![0.0f32; n * features];
        let mut noise_history = vec![if keep == 0 { Vec::new() } else { vec![vec![vec![0.0f32; keep * zdim]; steps]; 2] }; slots];
        for dir in noise_history.iter_mut().flatten() {
            dir[0].copy_from_slice(&z0[..keep * zdim]);
        }
        let zeros = vec![0.0; capacity * zdim];
        for row0 in (0..rows).step_by(capacity) {
            let batch_rows = capacity.min(rows - row0);
            let z = batch_noise(z0, zdim, n, row0, batch_rows, capacity);
            backend.write(l.z, &z)?;
            backend.write(l.acc, &zeros)?;
            // Read the noise back only for batches that hold a kept image of either direction.
            let holds_kept = keep > 0 && (row0..row0 + batch_rows).any(|g| g % n < keep);
            let params = |step: usize| StepParams::new(step, row0, batch_rows, steps);
            backend.run(Phase::Setup, params(0))?;
            for step in 0..steps {
                backend.run(Phase::Step, params(step))?;
                if holds_kept && step + 1 < steps {
                    let z = backend.read(l.z)?;
                    for r in 0..batch_rows {
                        let g = row0 + r;
                        let (slot, dir, image) = (g / slot_rows, (g / n) % 2, g % n);
                        if image < keep {
                            noise_history[slot][dir][step + 1][image * zdim..(image + 1) * zdim]
                                .copy_from_slice(&z[r * zdim..(r + 1) * zdim]);
                        }
                    }
                }
                log::debug!("batch {batches}: step {} of {steps} recorded", step + 1);
                if let Some(report) = progress.as_mut() {
                    backend.wait()?;
                    report((row0 * steps + batch_rows * (step + 1)) as u64, (rows * steps) as u64);
                }
            }
            let start = backend.read(l.start)?;
            let end = backend.read(l.logits())?;
            // The up rows of the first slot hold every image's starting logits (every other
            // slot's rows the same again).
            for r in (0..batch_rows).filter(|r| row0 + r < n) {
                let image = row0 + r;
                start_logits[image * features..(image + 1) * features].copy_from_slice(&start[r * features..(r + 1) * features]);
            }
            for r in 0..batch_rows {
                let g = row0 + r;
                let slot = g / slot_rows;
                let idx = r * features + targets[slot];
                if (g / n).is_multiple_of(2) {
                    start_sum[slot] += start[idx] as f64;
                    up_sum[slot] += end[idx] as f64;
                } else {
                    down_sum[slot] += end[idx] as f64;
                }
            }
            batches += 1;
            log::info!("batch {batches}: rows {row0}..{} done", row0 + batch_rows);
        }
        let history = backend.read(l.history)?;
        let block = 2 * steps * n * features;
        let mut outcomes = Vec::with_capacity(slots);
        let seconds = started.elapsed().as_secs_f64() / slots as f64;
        for (k, noise_history) in noise_history.into_iter().enumerate() {
            let target = targets[k];
            let changes = &history[k * block..(k + 1) * block];
            check_finite(&start_logits, changes, n, steps, &self.names)?;
            backend.run(Phase::Finish, StepParams::new(0, k * slot_rows, slot_rows, steps))?;
            let cov = backend.read(l.cov)?;
            if let Some(i) = cov.iter().position(|v| !v.is_finite()) {
                return Err(ProbeError::Input(format!(
                    "the covariance is not finite at ({}, {}): the logits overflowed; try fewer steps",
                    i / features,
                    i % features
                )));
            }
            outcomes.push(ProbeOutcome {
                target,
                steps,
                features,
                images: n,
                cov,
                start_mean: start_sum[k] / n as f64,
                end_mean_up: up_sum[k] / n as f64,
                end_mean_down: down_sum[k] / n as f64,
                batches,
                batch_rows: capacity,
                seconds,
                noise_history,
                changes: keep_changes.then(|| changes.to_vec()),
                start_logits: start_logits.clone(),
            });
        }
        Ok(outcomes)
    }
}

/// Fails, naming the direction, the step, the image and the first feature, when a recorded
/// logit of `n` images over `steps` steps is not finite: the probe diverged (a non-finite
/// logit, gradient or noise at one step shows in the logits of the next).
fn check_finite(start: &[f32], history: &[f32], n: usize, steps: usize, names: &[String]) -> Result<(), ProbeError> {
    let features = names.len().max(1);
    let name = |f: usize| names.get(f).map_or_else(|| format!("feature {f}"), |s| format!("{s} (feature {f})"));
    if let Some(i) = start.iter().position(|v| !v.is_finite()) {
        return Err(ProbeError::Input(format!(
            "the starting logit of {} is not finite for image {}: the models overflow on this noise",
            name(i % features),
            i / features
        )));
    }
    // Earliest step first, either direction: where the divergence began.
    for step in 0..steps {
        for (direction, way) in ["up", "down"].iter().enumerate() {
            let at = (direction * steps + step) * n * features;
            if let Some(i) = history[at..at + n * features].iter().position(|v| !v.is_finite()) {
                return Err(ProbeError::Input(format!(
                    "the probe diverged going {way} at step {} of {steps}: the logit of {} is not finite for image {}; try fewer steps",
                    step + 1,
                    name(i % features),
                    i / features
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_finite;

    #[test]
    fn the_first_non_finite_logit_is_named() {
        let names: Vec<String> = ["A", "B", "C"].iter().map(|s| s.to_string()).collect();
        let (n, steps, f) = (2, 4, 3);
        let start = vec![0.5f32; n * f];
        let mut history = vec![0.25f32; 2 * steps * n * f];
        assert!(check_finite(&start, &history, n, steps, &names).is_ok());
        // Down at step index 3, image 1, feature C; and later up at step index 3 too: the
        // earliest step wins, up before down within a step.
        history[((steps + 2) * n + 1) * f + 2] = f32::NAN;
        history[(3 * n) * f + 1] = f32::INFINITY;
        let msg = check_finite(&start, &history, n, steps, &names).unwrap_err().to_string();
        assert_eq!(
            msg,
            "the probe diverged going down at step 3 of 4: the logit of C (feature 2) is not finite for image 1; try fewer steps"
        );
        let mut bad_start = start.clone();
        bad_start[f] = f32::NEG_INFINITY;
        let msg = check_finite(&bad_start, &history, n, steps, &names).unwrap_err().to_string();
        assert_eq!(msg, "the starting logit of A (feature 0) is not finite for image 1: the models overflow on this noise");
    }
}
