//! `gan-bias audit`: the classifier's own bias by group. Validates the flags into an
//! [`AuditConfig`], reads the labelled images (a CelebA-style folder, a safetensors file, or
//! the bundled demo-world evaluation set), runs the classifier forward on them, computes the
//! library's audit statistics and, where a generator can be probed, each group attribute's
//! probe dependency row; builds the `AuditReport` and writes its views.
//!
//! Owns: the audit's flags, their checks, and the order of the outputs. Must not touch:
//! other commands; what is measured and how the report is laid out are the library's.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};

use gan_bias::dataset::{Dataset, IMAGE_LEN, Split};
use gan_bias::model::Network;
use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::plots::{self, PlotFormat};
use gan_bias::probe::{ProbeOutcome, classify, probe_targets};
use gan_bias::report::audit::{AuditReport, AuditSettings, AuditTimings, ProbeRow};
use gan_bias::report::html::{self, Provenance};
use gan_bias::report::probe::outcome_statistics;
use gan_bias::report::{self, write_atomic};
use gan_bias::stats::{AuditData, AuditSpec, StatsSettings, audit_statistics};
use gan_bias::{features, load, rng};

use super::common::{ClassifierArgs, DeviceArgs, GeneratorArgs, check_folder, check_html};
use super::plots::check_format;

/// The bundled demo world's labelled evaluation set: a sheet of 64x64 tiles and its labels.
const BUNDLED_SHEET: &str = "demo-eval.png";
const BUNDLED_LABELS: &str = "demo-eval.txt";

#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    #[command(flatten)]
    pub classifier_args: ClassifierArgs,
    #[command(flatten)]
    pub generator_args: GeneratorArgs,
    #[command(flatten)]
    pub device: DeviceArgs,
    /// A folder of labelled images (JPEG or PNG, any size), with --labels.
    #[arg(long, requires = "labels", conflicts_with = "data")]
    pub image_dir: Option<PathBuf>,
    /// The label file, in CelebA's list_attr_celeba.txt format.
    #[arg(long, requires = "image_dir")]
    pub labels: Option<PathBuf>,
    /// A partition file in CelebA's list_eval_partition.txt format, with --split.
    #[arg(long, requires_all = ["split", "image_dir"])]
    pub partition: Option<PathBuf>,
    /// The split of the partition to audit: train, valid or test.
    #[arg(long, requires = "partition")]
    pub split: Option<String>,
    /// Labelled images as one safetensors file: `images` (u8 N x 64 x 64 x 3, or f32
    /// N x 3 x 64 x 64 in [-1, 1]), `labels` (N x F in {0, 1} or {-1, 1}), and the attribute
    /// names in the metadata `gan_bias.features`.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Images classified together (memory grows with it).
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Audit only the first N images.
    #[arg(long)]
    pub limit: Option<usize>,
    /// One or two protected attributes, by name (comma-separated): groups by their true labels.
    #[arg(long, required = true, value_delimiter = ',')]
    pub group: Vec<String>,
    /// Groups with fewer images are reported, but marked.
    #[arg(long, default_value_t = 30)]
    pub min_group: usize,
    /// A feature is predicted when its logit is above this.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub threshold: f64,
    /// Features to measure, comma-separated names or indices; default all.
    #[arg(long, value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// Resamples of the images for the AUCs' and disparities' intervals (0: none).
    #[arg(long, default_value_t = 1000)]
    pub bootstrap: usize,
    /// Seed of the bootstrap's resampling.
    #[arg(long, default_value_t = 0)]
    pub bootstrap_seed: u64,
    /// Level of every interval.
    #[arg(long, default_value_t = 0.95)]
    pub ci: f64,
    /// Write every metric and disparity, long form (feature,group,n,metric,value,ci_low,ci_high).
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write the leakage gaps
    /// (group_attribute,feature,fp_gap,fp_ci_low,fp_ci_high,fn_gap,fn_ci_low,fn_ci_high).
    #[arg(long)]
    pub leakage_csv: Option<PathBuf>,
    /// Write the whole report as JSON.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the TPR and FPR per group with their intervals (.svg or .png).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Features of the plot, comma-separated; default the 10 with the largest
    /// equalized-odds difference.
    #[arg(long, value_delimiter = ',')]
    pub plot_features: Option<Vec<String>>,
    /// Write one self-contained HTML page of the audit (.html): provenance, the group
    /// tables, disparities, leakage and the plot, readable offline.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Do not probe the generator for the group attributes' dependency rows.
    #[arg(long)]
    pub no_probe: bool,
    /// The probe's images per direction (as `probe --images`).
    #[arg(long, default_value_t = 256)]
    pub probe_images: usize,
    /// The probe's steps per direction (as `probe --steps`).
    #[arg(long, default_value_t = 30)]
    pub probe_steps: usize,
    /// The probe's noise seed (as `probe --seed`).
    #[arg(long, default_value_t = 0)]
    pub probe_seed: u64,
}

/// Where the labelled images come from.
enum Source {
    Bundled,
    Folder { dir: PathBuf, labels: PathBuf, partition: Option<(PathBuf, Split)> },
    Tensors(PathBuf),
}

/// The flags, checked: everything cheap is refused before any work starts.
struct AuditConfig {
    args: AuditArgs,
    source: Source,
    statistics: StatsSettings,
    plot: Option<(PathBuf, PlotFormat)>,
}

impl AuditConfig {
    fn validate(args: AuditArgs) -> Result<AuditConfig> {
        if !(1..=2).contains(&args.group.len()) {
            bail!("--group takes one or two attributes (e.g. Male or Male,Young), not {}", args.group.len());
        }
        if !(args.ci > 0.0 && args.ci < 1.0) {
            bail!("--ci must be between 0 and 1 (exclusive), not {}", args.ci);
        }
        if !args.threshold.is_finite() {
            bail!("--threshold must be a finite number, not {}", args.threshold);
        }
        if args.batch == 0 {
            bail!("--batch must be at least 1");
        }
        if args.limit == Some(0) {
            bail!("--limit must be at least 1");
        }
        if !args.no_probe && (args.probe_images == 0 || args.probe_steps == 0) {
            bail!("--probe-images and --probe-steps must be at least 1 (or pass --no-probe)");
        }
        for out in [&args.csv, &args.leakage_csv, &args.json].into_iter().flatten() {
            check_folder(out)?;
        }
        if let Some(p) = &args.report {
            check_html(p)?;
        }
        let plot = match &args.plot {
            Some(p) => Some((p.clone(), check_format(p, "--plot")?)),
            None => None,
        };
        if args.plot_features.is_some() && plot.is_none() {
            bail!("--plot-features chooses the features of --plot; give --plot PATH too");
        }
        let source = match (&args.image_dir, &args.labels, &args.data) {
            (Some(dir), Some(labels), None) => {
                let partition = match (&args.partition, &args.split) {
                    (Some(p), Some(s)) => Some((p.clone(), s.parse::<Split>()?)),
                    _ => None,
                };
                Source::Folder { dir: dir.clone(), labels: labels.clone(), partition }
            }
            (None, None, Some(data)) => Source::Tensors(data.clone()),
            (None, None, None) if args.classifier_args.classifier.is_none() => Source::Bundled,
            (None, None, None) => bail!(
                "no labelled images given: pass --data FILE.safetensors or --image-dir DIR --labels FILE (the bundled evaluation set is for the bundled classifier)"
            ),
            _ => bail!("give either --data or --image-dir with --labels, not both"),
        };
        let statistics = StatsSettings { ci: args.ci, bootstrap: args.bootstrap, seed: args.bootstrap_seed, ..StatsSettings::default() };
        Ok(AuditConfig { args, source, statistics, plot })
    }

    /// Whether the probe's rows are read: not refused, and a generator either named or, with
    /// the bundled classifier, the bundled one.
    fn probes(&self) -> bool {
        !self.args.no_probe && (self.args.generator_args.generator.is_some() || self.args.classifier_args.classifier.is_none())
    }

    /// The labelled images, in words and read.
    fn dataset(&self) -> Result<Dataset> {
        let mut data = match &self.source {
            Source::Bundled => {
                let (Some(sheet), Some(labels)) = (load::bundled(BUNDLED_SHEET), load::bundled(BUNDLED_LABELS)) else {
                    bail!(
                        "the bundled evaluation set (weights/{BUNDLED_SHEET}, weights/{BUNDLED_LABELS}) is missing: pass --data or --image-dir with --labels"
                    );
                };
                let mut data = Dataset::from_sheet(&sheet, &labels)?;
                data.source = format!("weights/{BUNDLED_SHEET} (the bundled demo-world evaluation set)");
                data
            }
            Source::Folder { dir, labels, partition } => {
                Dataset::from_image_dir(labels, partition.as_ref().map(|(p, s)| (p.as_path(), *s)), self.args.limit, dir)?
            }
            Source::Tensors(path) => Dataset::from_safetensors(path)?,
        };
        if let Some(n) = self.args.limit.filter(|&n| n < data.len()) {
            let f = data.feature_count();
            data.images.truncate(n * IMAGE_LEN);
            data.labels.truncate(n * f);
            data.files.truncate(n);
        }
        Ok(data)
    }
}

/// The pooled dependency rows of probes of `targets`, run together on one load of the probe.
fn probe_rows(
    backend: &mut dyn gan_bias::backend::Backend,
    generator: &Network,
    classifier: &Network,
    targets: &[usize],
    config: &AuditConfig,
) -> Result<Vec<ProbeRow>> {
    let args = &config.args;
    let host = gan_bias::host::available_bytes();
    gan_bias::probe::check_host_memory(args.probe_images, generator.input[0], classifier.features.len(), args.probe_steps, 1, host)?;
    let noise = rng::torch_randn(args.probe_seed, args.probe_images * generator.input[0]);
    let (names, seed) = (&classifier.features, format!("seed {}", args.probe_seed));
    let mut rows = Vec::with_capacity(targets.len());
    let sink = |outcome: ProbeOutcome| -> Result<()> {
        let st = outcome_statistics(&outcome, names.len(), &config.statistics)?;
        rows.push(ProbeRow::new(&st, &generator.source, &seed));
        Ok(())
    };
    probe_targets(backend, generator, classifier, &noise, targets, args.probe_steps, UpdateRule::Notebook, None, None, sink)?;
    Ok(rows)
}

pub fn run(args: AuditArgs, quiet: bool) -> Result<()> {
    let config = AuditConfig::validate(args)?;
    let args = &config.args;
    let classifier = args.classifier_args.load(None)?;
    let names = &classifier.features;
    if classifier.input != [3, 64, 64] {
        bail!(
            "{}: the classifier takes {}x{}x{} images; the audit's images are 3x64x64",
            classifier.source,
            classifier.input[0],
            classifier.input[1],
            classifier.input[2]
        );
    }
    let groups = features::resolve_list(&args.group, names, "--group")?;
    let measured = features::resolve_list_or_all(args.features.as_deref(), names, "--features")?;
    let plot_features = args.plot_features.as_deref().map(|p| features::resolve_list(p, names, "--plot-features")).transpose()?;
    if let Some(f) = plot_features.iter().flatten().find(|f| !measured.contains(f)) {
        bail!("--plot-features names {}, which --features does not measure", names[*f]);
    }
    let generator = if config.probes() { Some(args.generator_args.load()?) } else { None };

    let data = config.dataset()?;
    let mut needed = groups.clone();
    needed.extend(measured.iter().filter(|i| !groups.contains(i)));
    let labels = data.labels_for(names, &needed)?;
    let mut backend = args.device.open()?;
    let started = Instant::now();
    let logits = classify(backend.as_mut(), &classifier, &data.images, args.batch)?;
    let classify_seconds = started.elapsed().as_secs_f64();
    log::info!("classified {} images in {classify_seconds:.2} s", data.len());

    let started = Instant::now();
    let spec = AuditSpec { threshold: args.threshold, group_attributes: groups.clone(), features: measured, min_group: args.min_group };
    let statistics = audit_statistics(&AuditData { logits: &logits, labels: &labels, features: names.len() }, &spec, &config.statistics)?;
    let statistics_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let probe = match &generator {
        Some(g) => {
            if !quiet {
                let targets: Vec<&str> = groups.iter().map(|&t| names[t].as_str()).collect();
                eprintln!(
                    "probing {} ({} images x {} steps) for the dependency rows ...",
                    targets.join(", "),
                    args.probe_images,
                    args.probe_steps
                );
            }
            probe_rows(backend.as_mut(), g, &classifier, &groups, &config)?
        }
        None => Vec::new(),
    };
    let settings = AuditSettings {
        data: data.source.clone(),
        images: data.len(),
        classifier: classifier.source.clone(),
        classifier_sha256: load::file_sha256(&classifier.source)?,
        classifier_notes: classifier.notes.clone(),
        backend: args.device.choice().name().to_string(),
        adapter: backend.describe(),
        threshold: args.threshold,
        group_attributes: groups.iter().map(|&t| names[t].clone()).collect(),
        min_group: args.min_group,
        bootstrap: args.bootstrap,
        bootstrap_seed: args.bootstrap_seed,
        ci: args.ci,
    };
    let timings = AuditTimings {
        classify_seconds,
        images_per_second: data.len() as f64 / classify_seconds.max(1e-9),
        statistics_seconds,
        probe_seconds: if probe.is_empty() { 0.0 } else { started.elapsed().as_secs_f64() },
    };
    let report = AuditReport::new(settings, names.clone(), statistics, probe, timings)?;
    let rates = report.rate_plot(plot_features.as_deref());
    let plot = match &config.plot {
        Some((path, format)) => Some((path, plots::rates_file(*format, &rates)?)),
        None => None,
    };
    let page = match &args.report {
        Some(_) => {
            let svg = String::from_utf8(plots::rates_file(PlotFormat::Svg, &rates)?).expect("SVG is text");
            let mut provenance = Provenance::of_this_run()
                .fact("adapter", report.settings.adapter.clone())
                .fact("data", format!("{} ({} images)", report.settings.data, report.settings.images))
                .fact("classifier file", classifier.source.clone())
                .fact("classifier sha256", report.settings.classifier_sha256.clone())
                .fact("classifier architecture", classifier.arch);
            if let (Some(g), Some(row)) = (&generator, report.probe.first()) {
                provenance = provenance
                    .fact("generator file", g.source.clone())
                    .fact("generator sha256", load::file_sha256(&g.source)?)
                    .fact("probe", format!("{} images x {} steps each way, noise {}, update notebook", row.images, row.steps, row.noise));
            }
            Some(html::audit::page(&report, &provenance, &svg))
        }
        None => None,
    };

    // Everything is computed; now the outputs, each whole or not at all.
    if let Some(p) = &args.csv {
        write_atomic(p, report.csv().as_bytes())?;
    }
    if let Some(p) = &args.leakage_csv {
        write_atomic(p, report.leakage_csv().as_bytes())?;
    }
    if let Some(p) = &args.json {
        write_atomic(p, report.to_json().as_bytes())?;
    }
    if let Some((p, bytes)) = &plot {
        report::write_atomic(p, bytes)?;
    }
    if let (Some(p), Some(page)) = (&args.report, &page) {
        report::write_atomic(p, page.as_bytes())?;
    }
    print!("{}", report.text());
    Ok(())
}
