//! The probe's picture argument group, `--grid`: images down, steps across, least to most of
//! the target, drawn from the noise the probe kept.
//!
//! Owns: the grid's flags, their checks and turning the kept noise into the picture. Must
//! not touch: the probe command's flow (`probe.rs`) or how images are laid out and encoded
//! (the library's `pictures`).

use std::path::PathBuf;

use anyhow::{Result, bail};

use gan_bias::backend::Backend;
use gan_bias::model::Network;
use gan_bias::pictures::{self, RgbImage};
use gan_bias::probe::{self, ProbeOutcome};

use super::common::{PAD, check_channels, check_folder};

/// The probe's picture: images down, steps across, least to most of the target.
#[derive(clap::Args, Debug)]
pub struct GridArgs {
    /// Write a grid of the first --grid-images images at every --skip-th step (PNG): the steps
    /// down on the left (last first), the starting image in the middle, the steps up on the right.
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// Images (rows) of the grid.
    #[arg(long, default_value_t = 8)]
    pub grid_images: usize,
    /// Show every this many steps in the grid.
    #[arg(long, default_value_t = 2)]
    pub skip: usize,
}

impl GridArgs {
    pub fn validate(&self) -> Result<()> {
        let Some(path) = &self.grid else { return Ok(()) };
        if self.grid_images == 0 {
            bail!("--grid-images must be at least 1");
        }
        if self.skip == 0 {
            bail!("--skip must be at least 1");
        }
        check_folder(path)
    }

    /// Images whose noise the probe must keep, for `--grid` or, when `report`, an HTML page.
    pub fn keep(&self, report: bool) -> usize {
        if self.grid.is_some() || report { self.grid_images } else { 0 }
    }

    /// The grid's picture, from the noise the probe kept; `None` without `--grid` (unless
    /// `report`: the HTML page shows it too).
    pub fn picture(
        &self,
        backend: &mut dyn Backend,
        generator: &Network,
        outcome: &ProbeOutcome,
        steps: usize,
        report: bool,
    ) -> Result<Option<RgbImage>> {
        if (self.grid.is_none() && !report) || outcome.noise_history.is_empty() || self.grid_images == 0 || self.skip == 0 {
            return Ok(None);
        }
        let [c, h, w] = check_channels(generator)?;
        let rows = self.grid_images.min(outcome.images);
        let columns = pictures::probe_columns(steps, self.skip);
        let noise = pictures::probe_grid_noise(&outcome.noise_history, &columns, rows, generator.input[0]);
        let images = probe::generate(backend, &generator.graph, &noise)?;
        log::info!("grid: {rows} images x {} columns", columns.len());
        Ok(Some(pictures::image_grid(&images, rows * columns.len(), c, h, w, columns.len(), PAD)))
    }
}
