//! The probe's program loaded once: any target, any step count up to the one it was built
//! for, on the same buffers, pipelines and weights.

use std::time::Instant;

use super::{Keep, ProbeError, ProbeOutcome, Progress, forward::check_rows, plan_capacity};
use crate::backend::Backend;
use crate::model::Network;
use crate::ops::StepParams;
use crate::ops::noise_update::UpdateRule;
use crate::program::Phase;
use crate::program::lower::{ProbeLayout, chain, probe_program};

/// The probe's program for `images` images and at most `steps` steps, loaded on a backend.
pub struct LoadedProbe<'b> {
    backend: &'b mut dyn Backend,
    layout: ProbeLayout,
}

impl<'b> LoadedProbe<'b> {
    /// Builds the program of `generator` then `classifier` for `images` images per direction
    /// and at most `steps` steps, in batches that fit (at most `max_batch` rows), and loads it.
    pub fn load(
        backend: &'b mut dyn Backend,
        generator: &Network,
        classifier: &Network,
        images: usize,
        steps: usize,
        update: UpdateRule,
        max_batch: Option<usize>,
    ) -> Result<LoadedProbe<'b>, ProbeError> {
        if images == 0 || steps == 0 {
            return Err(ProbeError::Input("a probe needs at least 1 image and 1 step".into()));
        }
        let stages = chain(generator, classifier)?;
        let capacity = plan_capacity(backend, &stages, 2 * images, steps, images, max_batch)?;
        let (program, layout) = probe_program(&stages, capacity, images, steps, update);
        backend.load(&program)?;
        Ok(LoadedProbe { backend, layout })
    }

    /// The buffers of the loaded program.
    pub fn layout(&self) -> &ProbeLayout {
        &self.layout
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
        mut progress: Option<Progress<'_>>,
    ) -> Result<ProbeOutcome, ProbeError> {
        let started = Instant::now();
        let l = &self.layout;
        let (n, zdim, features, capacity) = (l.images, l.zdim, l.features, l.capacity);
        if check_rows("the noise", z0, zdim)? != n {
            return Err(ProbeError::Input(format!("the noise holds {} images; this probe was loaded for {n}", z0.len() / zdim)));
        }
        if steps == 0 || steps > l.steps {
            return Err(ProbeError::Input(format!("steps must be between 1 and {} (the probe was loaded for {})", l.steps, l.steps)));
        }
        if target >= features {
            return Err(ProbeError::Input(format!("target feature {target} out of range: the classifier has {features}")));
        }
        let rows = 2 * n;
        let backend = &mut *self.backend;
        let (mut start_sum, mut up_sum, mut down_sum) = (0.0f64, 0.0f64, 0.0f64);
        let mut batches = 0;
        let keep_changes = keep.changes;
        let keep = keep.noise.min(n);
        let mut noise_history = if keep == 0 { Vec::new() } else { vec![vec![vec![0.0f32; keep * zdim]; steps]; 2] };
        for dir in noise_history.iter_mut() {
            dir[0].copy_from_slice(&z0[..keep * zdim]);
        }
        let zeros = vec![0.0; capacity * zdim];
        for row0 in (0..rows).step_by(capacity) {
            let batch_rows = capacity.min(rows - row0);
            let mut z = vec![0.0f32; capacity * zdim];
            for r in 0..batch_rows {
                let image = (row0 + r) % n;
                z[r * zdim..(r + 1) * zdim].copy_from_slice(&z0[image * zdim..(image + 1) * zdim]);
            }
            backend.write(l.z, &z)?;
            backend.write(l.acc, &zeros)?;
            // Read the noise back only for batches that hold a kept image of either direction.
            let holds_kept = keep > 0 && (row0..row0 + batch_rows).any(|g| g % n < keep);
            let params = |step: usize| StepParams::new(step, row0, batch_rows, target, steps);
            backend.run(Phase::Setup, params(0))?;
            for step in 0..steps {
                backend.run(Phase::Step, params(step))?;
                if holds_kept && step + 1 < steps {
                    let z = backend.read(l.z)?;
                    for r in 0..batch_rows {
                        let (dir, image) = if row0 + r < n { (0, row0 + r) } else { (1, row0 + r - n) };
                        if image < keep {
                            noise_history[dir][step + 1][image * zdim..(image + 1) * zdim].copy_from_slice(&z[r * zdim..(r + 1) * zdim]);
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
            for r in 0..batch_rows {
                let idx = r * features + target;
                if row0 + r < n {
                    start_sum += start[idx] as f64;
                    up_sum += end[idx] as f64;
                } else {
                    down_sum += end[idx] as f64;
                }
            }
            batches += 1;
            log::info!("batch {batches}: rows {row0}..{} done", row0 + batch_rows);
        }
        backend.run(Phase::Finish, StepParams::new(0, 0, rows, target, steps))?;
        let cov = backend.read(l.cov)?;
        let changes = if keep_changes {
            let mut h = backend.read(l.history)?;
            h.truncate(2 * steps * n * features);
            Some(h)
        } else {
            None
        };
        if let Some(i) = cov.iter().position(|v| !v.is_finite()) {
            return Err(ProbeError::Input(format!(
                "the covariance is not finite at ({}, {}): the logits overflowed; try fewer steps",
                i / features,
                i % features
            )));
        }
        Ok(ProbeOutcome {
            target,
            steps,
            features,
            images: n,
            cov,
            start_mean: start_sum / n as f64,
            end_mean_up: up_sum / n as f64,
            end_mean_down: down_sum / n as f64,
            batches,
            batch_rows: capacity,
            seconds: started.elapsed().as_secs_f64(),
            noise_history,
            changes,
        })
    }
}
