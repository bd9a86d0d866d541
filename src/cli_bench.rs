//! `gan-bias bench`: every kernel of a probe step timed on the chosen backend.

use std::path::PathBuf;

use anyhow::{Result, bail};

use gan_bias::{bench, report};

use crate::cli::{ClassifierArgs, DeviceArgs, GeneratorArgs, check_folder};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[command(flatten)]
    pub generator_args: GeneratorArgs,
    #[command(flatten)]
    pub classifier_args: ClassifierArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Images per direction (the notebook: 256).
    #[arg(long, default_value_t = 256)]
    pub images: usize,
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Write the report as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the report as CSV.
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

pub fn run(args: BenchArgs) -> Result<()> {
    if args.images == 0 || args.repeats == 0 {
        bail!("--images and --repeats must be at least 1");
    }
    for out in [&args.json, &args.csv].into_iter().flatten() {
        check_folder(out)?;
    }
    let generator = args.generator_args.load()?;
    let classifier = args.classifier_args.load(Some(&generator))?;
    let mut backend = args.device.open()?;
    let r = bench::bench(backend.as_mut(), &generator, &classifier, args.images, args.warmup, args.repeats)?;
    if let Some(p) = &args.json {
        let mut s = serde_json::to_string_pretty(&r)?;
        s.push('\n');
        report::write_atomic(p, s.as_bytes())?;
    }
    if let Some(p) = &args.csv {
        report::write_atomic(p, bench::csv(&r).as_bytes())?;
    }
    print!("{}", bench::table(&r));
    Ok(())
}
