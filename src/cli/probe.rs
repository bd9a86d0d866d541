//! `gan-bias probe`: move the noise up and down one feature's gradient and report what moves
//! with it. Parses and validates the flags into a [`ProbeConfig`], loads through the
//! library's `load`, runs the library's probe, builds its `ProbeReport` and writes its views.
//!
//! Owns: the probe's flags, their checks, and the order of the outputs. Must not touch: other
//! commands, the dispatch; what the report holds and how it is laid out is the library's.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::ValueEnum;

use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::probe::{Keep, ProbeSettings, run_probe_with};
use gan_bias::report::html::{self, Provenance, probe::ProbePictures};
use gan_bias::report::probe::{ProbeReport, RunInfo};
use gan_bias::stats::{Metric, RowSet, StatsSettings};
use gan_bias::{features, host, load, pictures, probe, report, rng};

use super::common::{ClassifierArgs, DeviceArgs, GeneratorArgs, check_folder, check_html, model_facts, progress_bar, report_to};
use super::pictures::GridArgs;
use super::plots::{self, PlotArgs};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UpdateArg {
    /// The notebook's step: the gradient accumulates across steps.
    Notebook,
    /// A plain step along this step's gradient.
    Sgd,
}

impl From<UpdateArg> for UpdateRule {
    fn from(u: UpdateArg) -> UpdateRule {
        match u {
            UpdateArg::Notebook => UpdateRule::Notebook,
            UpdateArg::Sgd => UpdateRule::Sgd,
        }
    }
}

/// Which rows the table, the CSV and the ranking use.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DirectionArg {
    /// Both directions' rows, pooled (the notebook's).
    Both,
    /// Only the rows up the target's gradient.
    Up,
    /// Only the rows down it.
    Down,
}

impl From<DirectionArg> for RowSet {
    fn from(d: DirectionArg) -> RowSet {
        match d {
            DirectionArg::Both => RowSet::Pooled,
            DirectionArg::Up => RowSet::Up,
            DirectionArg::Down => RowSet::Down,
        }
    }
}

/// How a matrix is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    Exact,
    FirstOrder,
}

/// The metric the top table is ranked by.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RankArg {
    /// C[t][i], the notebook's figure.
    Covariance,
    /// C[t][i] / sqrt(C[t][t] C[i][i]).
    Correlation,
    /// C[t][i] / C[t][t], the line of the notebook's regplot.
    Slope,
    /// slope x sigma_t / sigma_i, sigma over the starting images.
    Dependency,
}

impl From<RankArg> for Metric {
    fn from(r: RankArg) -> Metric {
        match r {
            RankArg::Covariance => Metric::Covariance,
            RankArg::Correlation => Metric::Correlation,
            RankArg::Slope => Metric::Slope,
            RankArg::Dependency => Metric::Dependency,
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct ProbeArgs {
    #[command(flatten)]
    pub generator_args: GeneratorArgs,
    #[command(flatten)]
    pub classifier_args: ClassifierArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Target feature, by name (any case) or index; `all` probes every feature the classifier
    /// has, for the directed dependency matrix.
    #[arg(long, required_unless_present = "features", conflicts_with = "features")]
    pub feature: Option<String>,
    /// Target features for the matrix: comma-separated names or indices.
    #[arg(long, value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// How the matrix is measured: `exact` (the full probe of every target) or `first-order`
    /// (each image's gradients of every logit at the starting noise, no steps).
    #[arg(long, value_enum, default_value = "exact")]
    pub method: MethodArg,
    /// Matrix runs: write every (target, feature) cell as CSV
    /// (target,feature,covariance,correlation,slope,dependency,ci_low,ci_high,p,q).
    #[arg(long)]
    pub matrix_csv: Option<PathBuf>,
    /// Matrix runs: run only targets K, K+N, K+2N, ... of the list (0 <= K < N) and write this
    /// part with --json, for `gan-bias merge`.
    #[arg(long)]
    pub shard: Option<String>,
    /// First-order matrix runs: compare with this exact matrix (a --json of `--method exact`
    /// on the same models and noise): Pearson over the cells, top-5 overlap, speed-up.
    #[arg(long)]
    pub agree_with: Option<PathBuf>,
    /// Images per direction.
    #[arg(long, default_value_t = 256)]
    pub images: usize,
    /// Gradient steps per direction.
    #[arg(long, default_value_t = 30)]
    pub steps: usize,
    /// Seed of the starting noise: the same noise as `torch.manual_seed(seed); torch.randn(images, z_dim)`.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Starting noise: a safetensors file with an f32 tensor `noise` of shape (n, z_dim); overrides --images and --seed.
    #[arg(long)]
    pub noise: Option<PathBuf>,
    /// Features to report (at most the classifier's features less the target); default 10, or
    /// all of them for a classifier of fewer than 11.
    #[arg(long)]
    pub top: Option<usize>,
    /// The rows the table, the CSV and the ranking use; the JSON holds all three.
    #[arg(long, value_enum, default_value = "both")]
    pub direction: DirectionArg,
    /// The metric the top table is ranked by (and whose interval it shows).
    #[arg(long, value_enum, default_value = "covariance")]
    pub rank_by: RankArg,
    /// Level of the bootstrap intervals.
    #[arg(long, default_value_t = 0.95)]
    pub ci: f64,
    /// Resamples of the images for the intervals (0: none).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Seed of the bootstrap's resampling.
    #[arg(long, default_value_t = 0)]
    pub bootstrap_seed: u64,
    /// Features whose q-value is at most this are marked significant.
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    #[arg(long, value_enum, default_value = "notebook")]
    pub update: UpdateArg,
    /// Largest number of rows (images x directions) run together; by default as many as fit.
    #[arg(long)]
    pub max_batch: Option<usize>,
    /// Write the top table as CSV (rank,feature,index,covariance,correlation,slope,dependency,ci_low,ci_high,p,q).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write the recorded logits as safetensors: `start` (n, F) and `history` (2 x steps, n, F),
    /// the notebook's `classification_history` (the steps up, then the steps down).
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Write the full covariance matrix as CSV.
    #[arg(long)]
    pub cov_csv: Option<PathBuf>,
    /// Write settings, adapter, timings, means, the top table, the matrix and every statistic as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Grade the run against a synthetic world's planted correlations (a `demo-world.json`):
    /// adds each top feature's measured and planted correlation with the target and a verdict.
    /// Used automatically when both models are the bundled ones.
    #[arg(long)]
    pub planted: Option<PathBuf>,
    /// Write one self-contained HTML page of the run (.html): provenance, verdict, tables,
    /// pictures and the JSON, readable offline.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub grid: GridArgs,
    #[command(flatten)]
    pub plots: PlotArgs,
}

/// Whether the flags ask for a matrix (`--feature all` or `--features`).
fn is_matrix(args: &ProbeArgs) -> bool {
    args.features.is_some() || args.feature.as_deref().is_some_and(|f| f.trim().eq_ignore_ascii_case("all"))
}

/// The flags, checked: everything cheap is refused before any work starts.
pub struct ProbeConfig {
    pub args: ProbeArgs,
    pub update: UpdateRule,
    pub statistics: StatsSettings,
}

impl ProbeConfig {
    pub fn validate(args: ProbeArgs) -> Result<ProbeConfig> {
        if args.steps == 0 {
            bail!("--steps must be at least 1");
        }
        if args.images == 0 && args.noise.is_none() {
            bail!("--images must be at least 1");
        }
        if args.top == Some(0) {
            bail!("--top must be at least 1");
        }
        if args.max_batch == Some(0) {
            bail!("--max-batch must be at least 1");
        }
        if !(args.ci > 0.0 && args.ci < 1.0) {
            bail!("--ci must be between 0 and 1 (exclusive), not {}", args.ci);
        }
        if !(0.0..=1.0).contains(&args.alpha) {
            bail!("--alpha must be between 0 and 1, not {}", args.alpha);
        }
        args.grid.validate()?;
        args.plots.validate()?;
        for out in [&args.csv, &args.cov_csv, &args.json, &args.history, &args.matrix_csv].into_iter().flatten() {
            check_folder(out)?;
        }
        if let Some(p) = &args.report {
            check_html(p)?;
        }
        if is_matrix(&args) {
            let single_only = [
                ("--csv", args.csv.is_some()),
                ("--cov-csv", args.cov_csv.is_some()),
                ("--history", args.history.is_some()),
                ("--plot", args.plots.plot.is_some()),
                ("--grid", args.grid.grid.is_some()),
            ];
            if let Some((flag, _)) = single_only.iter().find(|(_, given)| *given) {
                bail!("{flag} is for one target; a matrix run (--feature all or --features) writes --matrix-csv, --json and --heatmap");
            }
            if args.shard.is_some() && args.json.is_none() {
                bail!("--shard writes its part with --json PATH; give one (then `gan-bias merge` the parts)");
            }
            if args.agree_with.is_some() && args.method != MethodArg::FirstOrder {
                bail!("--agree-with compares a first-order matrix with an exact one: add --method first-order");
            }
        } else {
            let matrix_only = [
                ("--matrix-csv", args.matrix_csv.is_some()),
                ("--shard", args.shard.is_some()),
                ("--agree-with", args.agree_with.is_some()),
                ("--method first-order", args.method == MethodArg::FirstOrder),
            ];
            if let Some((flag, _)) = matrix_only.iter().find(|(_, given)| *given) {
                bail!("{flag} is for a matrix run: use --feature all or --features A,B,C");
            }
        }
        let statistics = StatsSettings { ci: args.ci, bootstrap: args.bootstrap, seed: args.bootstrap_seed, alpha: args.alpha };
        Ok(ProbeConfig { update: args.update.into(), statistics, args })
    }

    /// Whether this is a matrix run (`--feature all` or `--features`).
    pub fn matrix(&self) -> bool {
        is_matrix(&self.args)
    }

    /// Whether both models are the bundled ones (then the bundled world grades the run).
    pub fn bundled_models(&self) -> bool {
        self.args.generator_args.generator.is_none() && self.args.classifier_args.classifier.is_none()
    }
}

/// The starting noise and how the report names it: from `--noise`, or PyTorch-compatible
/// normal draws from `--seed`; refused, naming the sizes, when a probe of that many images
/// of a classifier of `features` logits would not fit the host's memory (checked before the
/// noise is drawn).
pub fn starting_noise(args: &ProbeArgs, z_dim: usize, features: usize) -> Result<(Vec<f32>, String)> {
    let fits = |n: usize| probe::check_host_memory(n, z_dim, features, args.steps, 1, host::available_bytes());
    match &args.noise {
        None => {
            fits(args.images)?;
            Ok((rng::torch_randn(args.seed, args.images * z_dim), format!("seed {}", args.seed)))
        }
        Some(path) => {
            let noise = load::noise(path, z_dim)?;
            fits(noise.len() / z_dim)?;
            Ok((noise, format!("file {}", path.display())))
        }
    }
}

pub fn run(args: ProbeArgs, quiet: bool) -> Result<()> {
    let config = ProbeConfig::validate(args)?;
    if config.matrix() {
        return super::matrix::run(config, quiet);
    }
    let args = &config.args;
    let generator = args.generator_args.load()?;
    let classifier = args.classifier_args.load(Some(&generator))?;
    let names = &classifier.features;
    let target = features::resolve(args.feature.as_deref().unwrap_or_default(), names)?;
    let top = match args.top {
        Some(t) if t >= names.len() => bail!("--top {t} is more than the {} features other than the target", names.len() - 1),
        Some(t) => t,
        None => 10.min(names.len() - 1),
    };
    let planted = load::planted_world(args.planted.as_deref(), config.bundled_models(), names)?;
    let plot_features = args.plots.resolve(names, target)?;
    let (noise, noise_source) = starting_noise(args, generator.input[0], names.len())?;
    let mut backend = args.device.open()?;
    let settings = ProbeSettings { target, steps: args.steps, update: config.update, max_batch: args.max_batch };
    let bar = progress_bar(quiet, "image-steps");
    let mut report_progress = report_to(&bar);
    let progress: Option<gan_bias::probe::Progress<'_>> = if bar.is_hidden() { None } else { Some(&mut report_progress) };
    // The statistics are computed from the recorded changes: always kept.
    let keep = Keep { noise: args.grid.keep(args.report.is_some()), changes: true };
    let outcome = run_probe_with(backend.as_mut(), &generator, &classifier, &noise, &settings, keep, progress)?;
    bar.finish_and_clear();
    let grid = args.grid.picture(backend.as_mut(), &generator, &outcome, args.steps, args.report.is_some())?;
    let plot_pictures = args.plots.render(&outcome, names, target, plot_features.as_deref())?;
    let run = RunInfo {
        update: settings.update,
        noise: noise_source,
        top,
        backend: args.device.choice().name(),
        adapter: backend.describe(),
        weight_precision: backend.weight_precision(),
        direction: args.direction.into(),
        rank_by: args.rank_by.into(),
        statistics: config.statistics,
    };
    let world = planted.as_ref().map(|(shown, w)| (shown.as_str(), w));
    let report = ProbeReport::new(&outcome, &generator, &classifier, run, world)?;
    let history = match &args.history {
        Some(_) => Some(report::history::safetensors(&outcome, names, target, args.steps, config.update)?),
        None => None,
    };

    let page = match &args.report {
        Some(_) => {
            let pictures = ProbePictures {
                regplot: Some(plots::regplot_svg_of(&outcome, names, target, plot_features.as_deref())?),
                heatmap: Some(plots::heatmap_svg_of(&outcome, names)?),
                grid: grid.as_ref().map(pictures::encode_png).transpose()?,
            };
            let provenance = model_facts(Provenance::of_this_run(), &generator, &classifier)?
                .fact("adapter", report.settings.adapter.clone())
                .fact("images x steps", format!("{} x {} each way", report.settings.images, args.steps))
                .fact("noise", report.settings.noise.clone())
                .fact("update rule", report.settings.update.clone())
                .fact("bootstrap", format!("{} resamples, seed {}, {}% intervals", args.bootstrap, args.bootstrap_seed, 100.0 * args.ci));
            Some(html::probe::page(&report, &provenance, &pictures))
        }
        None => None,
    };
    let grid = if args.grid.grid.is_some() { grid } else { None };

    // Everything is computed; now the outputs, each whole or not at all.
    if let Some(p) = &args.csv {
        report::write_atomic(p, report.top_csv().as_bytes())?;
    }
    if let (Some(p), Some(page)) = (&args.report, &page) {
        report::write_atomic(p, page.as_bytes())?;
    }
    if let Some(p) = &args.cov_csv {
        report::write_atomic(p, report.matrix_csv().as_bytes())?;
    }
    if let Some(p) = &args.json {
        report::write_atomic(p, report.to_json().as_bytes())?;
    }
    if let (Some(p), Some(bytes)) = (&args.history, &history) {
        report::write_atomic(p, bytes)?;
    }
    if let (Some(p), Some(image)) = (&args.grid.grid, &grid) {
        pictures::write_png(p, image)?;
    }
    plots::write(&plot_pictures)?;
    print!("{}", report.text());
    Ok(())
}
