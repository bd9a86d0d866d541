//! The picture commands: `generate` (a sample grid) and the probe's `--grid`.

use std::path::PathBuf;

use anyhow::{Result, bail};

use gan_bias::backend::Backend;
use gan_bias::model::{Network, Stage};
use gan_bias::pictures::{self, RgbImage};
use gan_bias::probe::{self, ProbeOutcome};
use gan_bias::rng;

use crate::cli::{DeviceArgs, GeneratorArgs, check_folder};

/// Pixels between tiles.
const PAD: usize = 2;

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub generator_args: GeneratorArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Images to draw.
    #[arg(long, default_value_t = 64)]
    pub n: usize,
    /// Seed of the noise: the same noise as `torch.manual_seed(seed); torch.randn(n, z_dim)`.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to write the grid (PNG).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Images per row of the grid.
    #[arg(long, default_value_t = 8)]
    pub nrow: usize,
}

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

    /// Images whose noise the probe must keep.
    pub fn keep(&self) -> usize {
        if self.grid.is_some() { self.grid_images } else { 0 }
    }

    /// The grid's picture, from the noise the probe kept; `None` without `--grid`.
    pub fn picture(
        &self,
        backend: &mut dyn Backend,
        generator: &Network,
        outcome: &ProbeOutcome,
        steps: usize,
    ) -> Result<Option<RgbImage>> {
        if self.grid.is_none() || outcome.noise_history.is_empty() {
            return Ok(None);
        }
        let [c, h, w] = check_channels(generator)?;
        let rows = self.grid_images.min(outcome.images);
        let columns = pictures::probe_columns(steps, self.skip);
        let noise = pictures::probe_grid_noise(&outcome.noise_history, &columns, rows, generator.input[0]);
        let stages: Vec<&Stage> = generator.stages.iter().collect();
        let images = probe::generate(backend, &stages, &noise)?;
        log::info!("grid: {rows} images x {} columns", columns.len());
        Ok(Some(pictures::image_grid(&images, rows * columns.len(), c, h, w, columns.len(), PAD)))
    }
}

fn check_channels(generator: &Network) -> Result<[usize; 3]> {
    let [c, h, w] = generator.output;
    if c == 2 || c == 0 {
        bail!("{}: the generator makes {c}-channel images; only 1 (grey) or 3 and more (RGB) can be shown", generator.source);
    }
    Ok([c, h, w])
}

pub fn generate(args: GenerateArgs) -> Result<()> {
    if args.n == 0 {
        bail!("--n must be at least 1");
    }
    if args.nrow == 0 {
        bail!("--nrow must be at least 1");
    }
    check_folder(&args.output)?;
    let generator = args.generator_args.load()?;
    let [c, h, w] = check_channels(&generator)?;
    let noise = rng::torch_randn(args.seed, args.n * generator.input[0]);
    let mut backend = args.device.open()?;
    let stages: Vec<&Stage> = generator.stages.iter().collect();
    let images = probe::generate(backend.as_mut(), &stages, &noise)?;
    let grid = pictures::image_grid(&images, args.n, c, h, w, args.nrow, PAD);
    pictures::write_png(&args.output, &grid)?;
    println!(
        "wrote {} images ({c}x{h}x{w}, seed {}) as a {}x{} grid to {}",
        args.n,
        args.seed,
        grid.width,
        grid.height,
        args.output.display()
    );
    Ok(())
}
