//! `gan-bias bench`: every kernel of a probe step timed on the chosen backend or on every
//! adapter (`--all-adapters`); `gan-bias bench compare`: bench files merged into one table
//! (also reached, deprecated, as `bench --compare`).
//!
//! Owns: the command's flags and flow, and printing each adapter's section as it ends. Must
//! not touch: other commands, the dispatch; the timing is the library's `bench`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use gan_bias::backend::gpu::context::TIMESTAMP_FEATURES;
use gan_bias::backend::{AdapterIdentity, WeightPrecision};
use gan_bias::bench::{self, BenchFile, BenchSettings, Failure, Peak, compare, peak};
use gan_bias::model::Network;
use gan_bias::report;

use super::common::{ClassifierArgs, DeviceArgs, GeneratorArgs, check_folder, progress_bar, report_to};

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub action: Option<BenchCommand>,
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
    /// Measure every adapter wgpu finds on every backend, and the CPU backend, one section
    /// each; an adapter that fails is reported with its error and the others still run.
    #[arg(long, conflicts_with_all = ["backend", "adapter"])]
    pub all_adapters: bool,
    /// Time by wall clock around submit and wait even where the adapter has GPU timestamps.
    #[arg(long)]
    pub wall_clock: bool,
    /// Measure this machine's single-precision GEMM peak first (the `gemm` crate's sgemm as the
    /// CPU backend calls it: one square product per thread, all at once, the best of 3 runs
    /// of each --peak-size) and show each kernel's and the step's percentage of it. The CPU
    /// backend only: gan-bias has no GEMM kernel of its own on a GPU, so there the peak is the
    /// vendor's fp32 figure, given with --peak-gflops, or not shown.
    #[arg(long)]
    pub peak: bool,
    /// The peak in GFLOP/s to show percentages of on a wgpu adapter (e.g. the GPU vendor's
    /// fp32 figure; with --all-adapters, for every adapter), and on the CPU backend without --peak.
    #[arg(long, value_name = "GFLOP/S")]
    pub peak_gflops: Option<f64>,
    /// The square sizes --peak measures (n of the n x n x n products), comma-separated.
    #[arg(long, value_name = "N", value_delimiter = ',', default_values_t = peak::SIZES, requires = "peak")]
    pub peak_size: Vec<usize>,
    /// Deprecated: use `gan-bias bench compare JSON...`. Merges these bench JSON files into
    /// one table instead of measuring.
    #[arg(long, num_args = 1.., value_name = "JSON",
          conflicts_with_all = ["all_adapters", "wall_clock", "backend", "adapter", "generator", "classifier", "images", "warmup", "repeats", "peak", "peak_gflops"])]
    pub compare: Vec<PathBuf>,
    #[command(flatten)]
    pub outputs: Outputs,
}

#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Merge bench JSON files (from `bench --json`, on any machine, or
    /// tools/bench_pytorch.py) into one table: a row per kernel, a column per run.
    Compare(CompareArgs),
}

#[derive(clap::Args, Debug)]
pub struct CompareArgs {
    /// The bench JSON files.
    #[arg(required = true, num_args = 1.., value_name = "JSON")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub outputs: Outputs,
}

/// Where the report (or the comparison) is written besides the terminal.
#[derive(clap::Args, Debug)]
pub struct Outputs {
    /// Write the report (or the comparison) as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the report (or the comparison) as CSV.
    #[arg(long)]
    pub csv: Option<PathBuf>,
}

impl Outputs {
    fn check(&self) -> Result<()> {
        for out in [&self.json, &self.csv].into_iter().flatten() {
            check_folder(out)?;
        }
        Ok(())
    }

    fn write(&self, json: &str, csv: &str) -> Result<()> {
        if let Some(p) = &self.json {
            report::write_atomic(p, json.as_bytes())?;
        }
        if let Some(p) = &self.csv {
            report::write_atomic(p, csv.as_bytes())?;
        }
        Ok(())
    }
}

pub fn run(args: BenchArgs, quiet: bool) -> Result<()> {
    if let Some(BenchCommand::Compare(c)) = &args.action {
        c.outputs.check()?;
        return run_compare(&c.files, &c.outputs);
    }
    if !args.compare.is_empty() {
        if !quiet {
            eprintln!("note: `bench --compare` is deprecated; use `gan-bias bench compare JSON...`");
        }
        args.outputs.check()?;
        return run_compare(&args.compare, &args.outputs);
    }
    args.outputs.check()?;
    if args.images == 0 || args.repeats == 0 {
        bail!("--images and --repeats must be at least 1");
    }
    if args.peak_gflops.is_some_and(|p| !(p.is_finite() && p > 0.0)) {
        bail!("--peak-gflops must be a positive number of GFLOP/s");
    }
    if args.peak_size.contains(&0) {
        bail!("--peak-size must be at least 1");
    }
    let generator = args.generator_args.load()?;
    let classifier = args.classifier_args.load(Some(&generator))?;
    let settings = BenchSettings { images: args.images, warmup: args.warmup, repeats: args.repeats };
    let peaks = Peaks { measure: args.peak.then_some(args.peak_size.as_slice()), given: args.peak_gflops, quiet };
    let features = if args.wall_clock { wgpu::Features::empty() } else { TIMESTAMP_FEATURES };
    let file = if args.all_adapters {
        all_adapters(&generator, &classifier, settings, features, args.device.weight_precision(), &peaks)
    } else {
        let mut backend = args.device.open_with(features)?;
        let peak = peaks.for_adapter(&backend.identity(), peaks.measure_if(backend.identity().backend.starts_with("cpu")).as_ref());
        let bar = progress_bar(quiet, "timed runs");
        let mut report = report_to(&bar);
        let progress: Option<gan_bias::probe::Progress<'_>> = if bar.is_hidden() { None } else { Some(&mut report) };
        let mut run = bench::bench_with(backend.as_mut(), &generator, &classifier, settings, progress)?;
        bar.finish_and_clear();
        run.peak = peak;
        print!("{}", bench::table(&run));
        BenchFile::new(vec![run], Vec::new())
    };
    args.outputs.write(&file.to_json(), &bench::csv(&file))
}

/// The peaks asked for: sizes to measure on the CPU backend (`--peak`), a figure given
/// (`--peak-gflops`).
struct Peaks<'a> {
    measure: Option<&'a [usize]>,
    given: Option<f64>,
    quiet: bool,
}

impl Peaks<'_> {
    /// The measured CPU peak, where asked for and `on_cpu` (measured before the bench, whose
    /// peak RSS starts after it).
    fn measure_if(&self, on_cpu: bool) -> Option<Peak> {
        let sizes = self.measure.filter(|_| on_cpu)?;
        log::info!("measuring the single-precision GEMM peak on sizes {sizes:?}");
        Some(peak::measure(sizes, peak::REPEATS))
    }

    /// The peak of a run on `adapter`, with a note where `--peak` cannot give it one.
    fn for_adapter(&self, adapter: &AdapterIdentity, measured: Option<&Peak>) -> Option<Peak> {
        let chosen = peak::choose(adapter, measured, self.given);
        if chosen.is_none() && self.measure.is_some() && !self.quiet {
            eprintln!(
                "note: {}: no GEMM kernel of gan-bias's own runs there, so its peak is not measured; give the vendor's fp32 figure with --peak-gflops N",
                adapter.label()
            );
        }
        chosen
    }
}

/// Every run printed as soon as it ends, sections separated by a blank line.
struct Sections {
    first: bool,
}

impl Sections {
    fn print(&mut self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{}{text}", if self.first { "" } else { "\n" });
        let _ = out.flush();
        self.first = false;
    }
}

/// `bench --all-adapters`: each adapter's run (with its peak) or failure printed as soon as
/// it ends, all of them gathered into one file.
fn all_adapters(
    generator: &Network,
    classifier: &Network,
    settings: BenchSettings,
    features: wgpu::Features,
    weights: WeightPrecision,
    peaks: &Peaks<'_>,
) -> BenchFile {
    let (mut runs, mut failures) = (Vec::new(), Vec::new());
    let mut sections = Sections { first: true };
    let measured = peaks.measure_if(true);
    bench::all_adapters(generator, classifier, settings, features, weights, |adapter, result| match result {
        Ok(mut run) => {
            run.peak = peaks.for_adapter(&adapter, measured.as_ref());
            sections.print(&bench::table(&run));
            runs.push(run);
        }
        Err(error) => {
            let failure = Failure { adapter, error };
            sections.print(&bench::failure_table(&failure));
            failures.push(failure);
        }
    });
    BenchFile::new(runs, failures)
}

/// `bench compare`: the files merged, warnings logged, the table printed.
fn run_compare(files: &[PathBuf], outputs: &Outputs) -> Result<()> {
    let paths: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let c = compare::compare_files(&paths)?;
    for w in &c.warnings {
        log::warn!("{w}");
    }
    outputs.write(&compare::json(&c), &compare::csv(&c))?;
    print!("{}", compare::table(&c));
    Ok(())
}
