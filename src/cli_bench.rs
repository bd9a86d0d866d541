//! `gan-bias bench`: every kernel of a probe step timed on the chosen backend.

use std::path::PathBuf;

use anyhow::{Result, bail};

use gan_bias::backend::gpu::BackendChoice;
use gan_bias::{bench, report};

use crate::cli::{ArchArg, check_folder, load_classifier, load_generator, open_backend};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Generator weights (.safetensors or .pth).
    #[arg(long)]
    pub generator: Option<PathBuf>,
    /// Classifier weights (.safetensors or .pth).
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    #[arg(long, value_enum)]
    pub generator_arch: Option<ArchArg>,
    #[arg(long, value_enum)]
    pub classifier_arch: Option<ArchArg>,
    /// Images per direction (the notebook: 256).
    #[arg(long, default_value_t = 256)]
    pub images: usize,
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    #[arg(long)]
    pub adapter: Option<String>,
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
    let generator = load_generator(args.generator.as_deref(), args.generator_arch.map(Into::into))?;
    let classifier = load_classifier(args.classifier.as_deref(), args.classifier_arch.map(Into::into), Some(&generator))?;
    let mut backend = open_backend(args.backend, args.adapter.as_deref())?;
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
