//! Command-line arguments (clap derive), their validation into a [`ProbeConfig`], and the commands.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::json;

use gan_bias::backend::cpu::CpuBackend;
use gan_bias::backend::gpu::context::{self, BackendChoice};
use gan_bias::backend::gpu::{self, GpuBackend, GpuContext, GpuError};
use gan_bias::backend::{Backend, WeightPrecision};
use gan_bias::model::presets::{self, ArchKind, Role};
use gan_bias::model::{ModelError, Network};
use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::probe::{Keep, ProbeSettings, run_probe_with};

use crate::cli_pictures::{self, GenerateArgs, GridArgs};
use gan_bias::planted::PlantedWorld;
use gan_bias::weights::TensorFile;
use gan_bias::{features, report, rng, stats};

#[derive(Parser, Debug)]
#[command(name = "gan-bias", version, about = "Audits a face generator for entangled attributes, on any GPU")]
pub struct Args {
    /// More log output (-v: progress, -vv: every step).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Move the noise up and down one feature's gradient and report what moves with it.
    Probe(Box<ProbeArgs>),
    /// List the classifier's features.
    Features(ClassifierArgs),
    /// List the adapters wgpu finds, and the one `--backend auto` picks.
    Info,
    /// Time every kernel of a probe step, and the step, on one backend or every adapter
    /// (--all-adapters); or merge bench files into one table (--compare).
    Bench(crate::cli_bench::BenchArgs),
    /// Convert a PyTorch checkpoint (.pth, zip or legacy format) to safetensors, safely:
    /// nothing in the file is executed.
    Import(ImportArgs),
    /// Write a grid of the generator's images as PNG.
    Generate(GenerateArgs),
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The PyTorch checkpoint.
    pub input: PathBuf,
    /// Where to write the safetensors file.
    #[arg(short, long, required_unless_present = "list")]
    pub output: Option<PathBuf>,
    /// The architecture, when it cannot be recognised from the tensor names.
    #[arg(long, value_enum)]
    pub arch: Option<ArchArg>,
    /// Entry of the checkpoint's top dict that holds the state dict (e.g. gen, netG_state_dict).
    #[arg(long)]
    pub key: Option<String>,
    /// Print the tensors (name, dtype, shape) without writing anything.
    #[arg(long)]
    pub list: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ArchArg {
    Coursera,
    Dcgan,
    Classifier,
}

impl From<ArchArg> for ArchKind {
    fn from(a: ArchArg) -> ArchKind {
        match a {
            ArchArg::Coursera => ArchKind::Coursera,
            ArchArg::Dcgan => ArchKind::Dcgan,
            ArchArg::Classifier => ArchKind::Classifier,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum UpdateArg {
    /// The notebook's step: the gradient accumulates across steps.
    Notebook,
    /// A plain step along this step's gradient.
    Sgd,
}

/// Where the generator's weights come from.
#[derive(clap::Args, Debug)]
pub struct GeneratorArgs {
    /// Generator weights (.safetensors or .pth); default: the bundled weights.
    #[arg(long)]
    pub generator: Option<PathBuf>,
    /// The generator's architecture, when neither its metadata nor its tensor names tell.
    #[arg(long, value_enum)]
    pub generator_arch: Option<ArchArg>,
}

impl GeneratorArgs {
    pub fn load(&self) -> Result<Network> {
        load_generator(self.generator.as_deref(), self.generator_arch.map(Into::into))
    }
}

/// Where the classifier's weights come from.
#[derive(clap::Args, Debug)]
pub struct ClassifierArgs {
    /// Classifier weights (.safetensors or .pth); default: the bundled weights.
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    /// The classifier's architecture, when neither its metadata nor its tensor names tell.
    #[arg(long, value_enum)]
    pub classifier_arch: Option<ArchArg>,
}

impl ClassifierArgs {
    /// The classifier, checked against the generator's images when there is a generator.
    pub fn load(&self, generator: Option<&Network>) -> Result<Network> {
        load_classifier(self.classifier.as_deref(), self.classifier_arch.map(Into::into), generator)
    }
}

/// Which backend and adapter run the kernels.
#[derive(clap::Args, Debug)]
pub struct DeviceArgs {
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// Use the adapter whose name contains this (case-insensitive).
    #[arg(long)]
    pub adapter: Option<String>,
    /// Store the convolution weights on the GPU as f16 (half their memory), widened to f32 as
    /// the kernels stage them; sums and activations stay f32. Packed two to a 32-bit word and
    /// read with WGSL's unpack2x16float: no shader-f16 feature is requested, but wgpu allows
    /// that builtin only where the adapter has its SHADER_F16_IN_F32 downlevel flag (all but
    /// llvmpipe without shader-f16). WGSL backends only (the CPU backend keeps f32 weights).
    #[arg(long)]
    pub weights_f16: bool,
}

impl DeviceArgs {
    pub fn open(&self) -> Result<Box<dyn Backend>> {
        self.open_with(wgpu::Features::empty())
    }

    /// The backend, a GPU device opened with those of `features` its adapter has.
    pub fn open_with(&self, features: wgpu::Features) -> Result<Box<dyn Backend>> {
        open_backend_with(self.backend, self.adapter.as_deref(), features, self.weight_precision())
    }

    /// The weight precision asked for.
    pub fn weight_precision(&self) -> WeightPrecision {
        if self.weights_f16 { WeightPrecision::F16 } else { WeightPrecision::F32 }
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
    /// Target feature, by name (any case) or index.
    #[arg(long)]
    pub feature: String,
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
    /// Features to report.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    #[arg(long, value_enum, default_value = "notebook")]
    pub update: UpdateArg,
    /// Largest number of rows (images x directions) run together; by default as many as fit.
    #[arg(long)]
    pub max_batch: Option<usize>,
    /// Write the top table as CSV (rank,feature,index,covariance).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write the full covariance matrix as CSV.
    #[arg(long)]
    pub cov_csv: Option<PathBuf>,
    /// Write settings, adapter, timings, means, the top table and the matrix as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Grade the run against a synthetic world's planted correlations (a `demo-world.json`):
    /// adds each top feature's measured and planted correlation with the target and a verdict.
    /// Used automatically when both models are the bundled ones.
    #[arg(long)]
    pub planted: Option<PathBuf>,
    #[command(flatten)]
    pub grid: GridArgs,
    #[command(flatten)]
    pub plots: crate::cli_plots::PlotArgs,
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Probe(p) => probe(*p, args.quiet),
        Command::Features(c) => {
            let cls = c.load(None)?;
            for (i, name) in cls.features.iter().enumerate() {
                println!("{i:>3}  {name}");
            }
            Ok(())
        }
        Command::Info => info(),
        Command::Bench(a) => crate::cli_bench::run(a, args.quiet),
        Command::Import(a) => crate::cli_import::import(a),
        Command::Generate(a) => cli_pictures::generate(a),
    }
}

/// The bundled synthetic world's record of its planted correlations.
const BUNDLED_WORLD: &str = "demo-world.json";

/// Bundled default weights, when the project ships them.
fn bundled(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("weights").join(name);
    p.exists().then_some(p)
}

fn weights_path(given: Option<&Path>, role: Role) -> Result<PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let (file, flag) = match role {
        Role::Generator => ("demo_generator.safetensors", "--generator"),
        Role::Classifier => ("demo_classifier.safetensors", "--classifier"),
    };
    bundled(file).ok_or_else(|| {
        anyhow::anyhow!(
            "no {} weights given and none are bundled: pass {flag} PATH (a .safetensors or PyTorch .pth file; see README)",
            role.name()
        )
    })
}

/// Entries of a `.pth` holding several state dicts that hold the generator / the classifier.
const GENERATOR_KEYS: [&str; 4] = ["gen", "netG_state_dict", "generator", "netG"];
const CLASSIFIER_KEYS: [&str; 2] = ["classifier", "model"];

pub(crate) fn load_generator(path: Option<&Path>, arch: Option<ArchKind>) -> Result<Network> {
    let path = weights_path(path, Role::Generator)?;
    let file = TensorFile::load_preferring(&path, &GENERATOR_KEYS)?;
    let arch = ArchKind::resolve(&file, arch, Role::Generator)?;
    let z = presets::z_dim(arch, &file)?;
    Ok(Network::build(arch, &file, [z, 1, 1])?)
}

/// The classifier, built for the generator's images when there is a generator, else for 64x64 RGB.
pub(crate) fn load_classifier(path: Option<&Path>, arch: Option<ArchKind>, generator: Option<&Network>) -> Result<Network> {
    let path = weights_path(path, Role::Classifier)?;
    let file = TensorFile::load_preferring(&path, &CLASSIFIER_KEYS)?;
    let arch = ArchKind::resolve(&file, arch, Role::Classifier)?;
    let cin = presets::z_dim(arch, &file)?;
    let expected = [cin, 64, 64];
    if let Some(g) = generator
        && g.output != expected
    {
        let fmt = |s: [usize; 3]| format!("{}x{}x{}", s[0], s[1], s[2]);
        return Err(ModelError::Mismatch {
            classifier: path.display().to_string(),
            generator: g.source.clone(),
            expected: fmt(expected),
            found: fmt(g.output),
        }
        .into());
    }
    let mut net = Network::build(arch, &file, expected)?;
    if net.output[1] * net.output[2] != 1 {
        bail!("{}: the classifier outputs {}x{} maps for 64x64 images, expected 1x1 logits", path.display(), net.output[1], net.output[2]);
    }
    net.features = presets::feature_names(&file, net.output[0])?;
    Ok(net)
}

/// The starting noise: from `--noise`, or PyTorch-compatible normal draws from `--seed`.
fn starting_noise(args: &ProbeArgs, z_dim: usize) -> Result<(Vec<f32>, String)> {
    let Some(path) = &args.noise else {
        return Ok((rng::torch_randn(args.seed, args.images * z_dim), format!("seed {}", args.seed)));
    };
    let file = TensorFile::load(path)?;
    let t = file.tensors.get("noise").with_context(|| format!("{}: missing tensor noise", path.display()))?;
    if t.shape.len() != 2 || t.shape[1] != z_dim || t.shape[0] == 0 {
        bail!("{}: tensor noise has shape {:?}, expected (n, {z_dim}) with n >= 1", path.display(), t.shape);
    }
    Ok((t.data.clone(), format!("file {}", path.display())))
}

/// The backend `choice` and `adapter` name, a GPU device opened with those of `features` its
/// adapter has (the probe asks for none; `bench` for timestamp queries) and storing weights as
/// `weights`. `auto`: a real GPU; else, unless `--adapter` names one, the CPU backend, which
/// runs these kernels far faster than a software rasteriser's Vulkan or GL.
pub(crate) fn open_backend_with(
    choice: BackendChoice,
    adapter: Option<&str>,
    features: wgpu::Features,
    weights: WeightPrecision,
) -> Result<Box<dyn Backend>> {
    let open = |a: wgpu::Adapter| -> Result<Box<dyn Backend>> {
        if weights == WeightPrecision::F16 {
            // Before the device opens; `load` checks again for library callers.
            gpu::weights::check_support(&a.get_info().name, a.get_downlevel_capabilities().flags)?;
        }
        Ok(Box::new(GpuBackend::new(GpuContext::with_features(a, features)?).with_weights(weights)))
    };
    let cpu = |why: &str| -> Box<dyn Backend> {
        log::info!("{why}; running on the CPU backend");
        if weights != WeightPrecision::F32 {
            log::warn!("--weights-f16 applies to the WGSL kernels only: the CPU backend keeps f32 weights");
        }
        Box::new(CpuBackend::fast())
    };
    match choice {
        BackendChoice::Cpu if weights != WeightPrecision::F32 => {
            bail!(
                "--weights-f16 applies to the WGSL kernels only; the CPU backend keeps f32 weights (use --backend vulkan, metal, dx12 or gl)"
            )
        }
        BackendChoice::Cpu => Ok(Box::new(CpuBackend::fast())),
        BackendChoice::Auto => match context::pick_adapter(choice, adapter) {
            Ok(a) if adapter.is_some() || a.get_info().device_type != wgpu::DeviceType::Cpu => open(a),
            Ok(a) => Ok(cpu(&format!("only a software adapter ({})", a.get_info().name))),
            Err(GpuError::NoAdapter { .. }) if adapter.is_none() => Ok(cpu("no adapter found")),
            Err(e) => Err(e.into()),
        },
        _ => open(context::pick_adapter(choice, adapter)?),
    }
}

fn probe(args: ProbeArgs, quiet: bool) -> Result<()> {
    // Validate everything cheap before any work starts.
    if args.steps == 0 {
        bail!("--steps must be at least 1");
    }
    if args.images == 0 && args.noise.is_none() {
        bail!("--images must be at least 1");
    }
    if args.top == 0 {
        bail!("--top must be at least 1");
    }
    if args.max_batch == Some(0) {
        bail!("--max-batch must be at least 1");
    }
    args.grid.validate()?;
    args.plots.validate()?;
    for out in [&args.csv, &args.cov_csv, &args.json].into_iter().flatten() {
        check_folder(out)?;
    }
    let generator = args.generator_args.load()?;
    let classifier = args.classifier_args.load(Some(&generator))?;
    let target = features::resolve(&args.feature, &classifier.features)?;
    let planted = planted_world(&args, &classifier.features)?;
    let plot_features = args.plots.resolve(&classifier.features, target)?;
    let (noise, noise_source) = starting_noise(&args, generator.input[0])?;
    let mut backend = args.device.open()?;
    let settings = ProbeSettings {
        target,
        steps: args.steps,
        update: match args.update {
            UpdateArg::Notebook => UpdateRule::Notebook,
            UpdateArg::Sgd => UpdateRule::Sgd,
        },
        max_batch: args.max_batch,
    };
    let bar = progress_bar(quiet, "image-steps");
    let mut report_progress = report_to(&bar);
    let progress: Option<gan_bias::probe::Progress<'_>> = if bar.is_hidden() { None } else { Some(&mut report_progress) };
    let outcome = run_probe_with(
        backend.as_mut(),
        &generator,
        &classifier,
        &noise,
        &settings,
        Keep { noise: args.grid.keep(), changes: args.plots.keep_changes() },
        progress,
    )?;
    bar.finish_and_clear();
    let grid = args.grid.picture(backend.as_mut(), &generator, &outcome, args.steps)?;
    let names = &classifier.features;
    let top = stats::top_covarying(&outcome.cov, names, target, args.top);
    let plot_pictures = args.plots.render(&outcome, names, target, args.steps, plot_features)?;
    let precision = backend.weight_precision();
    let adapter = match precision {
        WeightPrecision::F32 => backend.describe(),
        WeightPrecision::F16 => format!("{}; weights stored as f16, sums in f32", backend.describe()),
    };
    let flops = 2.0 * 2.0 * (generator.macs() + classifier.macs()) as f64 * (2 * outcome.images * args.steps) as f64;

    // Everything is computed; now the outputs, each whole or not at all.
    let update = format!("{:?}", settings.update).to_lowercase();
    if let Some(p) = &args.csv {
        report::write_atomic(p, report::top_csv(&top).as_bytes())?;
    }
    if let Some(p) = &args.cov_csv {
        report::write_atomic(p, report::matrix_csv(names, &outcome.cov).as_bytes())?;
    }
    if let Some(p) = &args.json {
        let settings_json = json!({
            "feature": names[target], "target_index": target, "images": outcome.images, "steps": args.steps,
            "update": update, "noise": noise_source, "top": args.top,
            "generator": {"path": generator.source, "arch": generator.arch.name(), "z_dim": generator.input[0]},
            "classifier": {"path": classifier.source, "arch": classifier.arch.name(), "features": names.len()},
            "backend": args.device.backend.name(), "adapter": adapter, "weight_precision": precision.name(),
            "batches": outcome.batches, "batch_rows": outcome.batch_rows,
        });
        let timings = json!({"probe_seconds": outcome.seconds, "gflop": flops / 1e9, "gflop_per_second": flops / 1e9 / outcome.seconds});
        let means = json!({"start": outcome.start_mean, "last_step_up": outcome.end_mean_up, "last_step_down": outcome.end_mean_down});
        report::write_atomic(p, report::json_report(settings_json, timings, means, names, &top, &outcome.cov).as_bytes())?;
    }
    if let (Some(p), Some(image)) = (&args.grid.grid, &grid) {
        gan_bias::pictures::write_png(p, image)?;
    }
    crate::cli_plots::write(&plot_pictures)?;
    let header = vec![
        format!(
            "gan-bias probe: {} (index {target}), {} images x {} steps each way, update {update}, noise {noise_source}",
            names[target], outcome.images, args.steps
        ),
        format!("adapter: {adapter}"),
        format!(
            "{} mean logit {:.4} -> {:.4} (up) / {:.4} (down); {:.2} s, {:.1} GFLOP/s, {} batch(es) of {} rows",
            names[target],
            outcome.start_mean,
            outcome.end_mean_up,
            outcome.end_mean_down,
            outcome.seconds,
            flops / 1e9 / outcome.seconds,
            outcome.batches,
            outcome.batch_rows
        ),
    ];
    match &planted {
        None => print!("{}", report::table(&header, &top)),
        Some((path, world)) => {
            let corr = stats::correlation(&outcome.cov, names.len());
            let row: Vec<f64> = corr[target * names.len()..(target + 1) * names.len()].iter().map(|&c| c as f64).collect();
            let top10: Vec<usize> =
                stats::top_covarying(&outcome.cov, names, target, gan_bias::planted::MEASURED_TOP).iter().map(|t| t.index).collect();
            let recovery = world.recovery(target, &row, &top10);
            let planted_row = &world.planted_correlation[target];
            print!("{}", report::planted_table(&header, &top, &row, planted_row));
            println!("{}", report::recovery_line(path, &names[target], &recovery, world.carries_factor(target)));
        }
    }
    Ok(())
}

/// A progress bar on stderr counting `unit`, hidden unless stderr is a terminal and not --quiet.
pub(crate) fn progress_bar(quiet: bool, unit: &str) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit}, {{per_sec}}, {{eta}} left");
    indicatif::ProgressBar::new(0)
        .with_style(indicatif::ProgressStyle::with_template(&template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()))
}

/// A progress callback (`done`, `total`) that moves `bar`.
pub(crate) fn report_to(bar: &indicatif::ProgressBar) -> impl FnMut(u64, u64) + '_ {
    |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }
}

/// The planted world to grade against: `--planted`, else the bundled one when both models are bundled.
/// Returns the world and how to name it in the report.
fn planted_world(args: &ProbeArgs, names: &[String]) -> Result<Option<(String, PlantedWorld)>> {
    let (path, shown) = match &args.planted {
        Some(p) => (p.clone(), p.display().to_string()),
        None if args.generator_args.generator.is_none() && args.classifier_args.classifier.is_none() => match bundled(BUNDLED_WORLD) {
            Some(p) => (p, format!("weights/{BUNDLED_WORLD} (bundled)")),
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    let world = PlantedWorld::load(&path)?;
    world.check_features(names, &path)?;
    Ok(Some((shown, world)))
}

/// Fails unless the folder `out` would be written in exists.
pub(crate) fn check_folder(out: &Path) -> Result<()> {
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!("cannot write {}: folder {} does not exist", out.display(), dir.display());
    }
    Ok(())
}

fn info() -> Result<()> {
    let adapters = context::list_adapters(wgpu::Backends::all());
    if adapters.is_empty() {
        println!("no adapters found; `--backend auto` uses the CPU backend");
    }
    for a in &adapters {
        println!("{}; timestamp queries: {}", context::describe(&a.get_info()), context::timestamp_support(a.features()));
    }
    match context::pick_adapter(BackendChoice::Auto, None) {
        Ok(a) if a.get_info().device_type != wgpu::DeviceType::Cpu => println!("auto picks: {}", context::describe(&a.get_info())),
        _ => println!("auto picks: the CPU backend (no hardware GPU; it outruns a software rasteriser)"),
    }
    Ok(())
}
