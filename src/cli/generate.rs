//! `gan-bias generate`: a grid of the generator's images as PNG.
//!
//! Owns: the command's flags and flow. Must not touch: other commands, the dispatch.

use std::path::PathBuf;

use anyhow::{Result, bail};

use gan_bias::{pictures, probe, rng};

use super::common::{DeviceArgs, GeneratorArgs, PAD, check_channels, check_folder};

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

pub fn run(args: GenerateArgs) -> Result<()> {
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
    let images = probe::generate(backend.as_mut(), &generator.graph, &noise)?;
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
