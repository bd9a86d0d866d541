//! The probe's report: a typed, serde-serialisable record of one probe (its settings, the
//! adapter, timings, target means, the top table and the matrix, and, where a planted world
//! was given, the grading against it), built from the probe's outcome, and its views: the
//! printed table, the CSVs and the JSON (the report's serialisation).
//!
//! Owns: what a probe report holds and how each view lays it out. Must not touch: running
//! the probe, ranking ([`crate::stats`]) or grading ([`crate::planted`]) — it calls them.

use serde::Serialize;

use super::statistics::{self, TopRow};
use crate::backend::WeightPrecision;
use crate::model::Network;
use crate::ops::noise_update::UpdateRule;
use crate::planted::{self, PlantedWorld, Recovery};
use crate::probe::ProbeOutcome;
use crate::stats::{self, Changes, Metric, ProbeStatistics, ProbeStatsError, RowSet, StatsError, StatsSettings};

/// Version of the JSON layout; bumped when a field changes meaning or goes away.
/// 2: the statistics (every metric of the three row sets with intervals, p and q, the
/// observational block), the statistics settings, and the top rows' new columns.
pub const VERSION: u32 = 2;

/// Why a report could not be made of a probe's outcome.
#[derive(Debug, thiserror::Error)]
pub enum ProbeReportError {
    #[error("the probe's outcome holds no recorded changes (run it keeping them)")]
    NoChanges,
    #[error(transparent)]
    View(#[from] StatsError),
    #[error(transparent)]
    Stats(#[from] ProbeStatsError),
}

/// One probe, everything its outputs show.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub version: u32,
    pub settings: Settings,
    pub timings: Timings,
    pub target_logit_mean: Means,
    pub top: Vec<TopRow>,
    pub features: Vec<String>,
    /// `features x features`, one row per feature.
    pub covariance: Vec<Vec<f32>>,
    /// Every metric of every feature for the pooled, up and down rows, with intervals, p and
    /// q, and the observational block (features by index, named in `features`).
    pub statistics: ProbeStatistics,
    /// The grading against a planted world; printed, not part of the JSON.
    #[serde(skip)]
    pub planted: Option<PlantedGrade>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub feature: String,
    pub target_index: usize,
    pub images: usize,
    pub steps: usize,
    /// `notebook` or `sgd`.
    pub update: String,
    /// Where the starting noise came from: `seed N` or `file PATH`.
    pub noise: String,
    pub top: usize,
    pub generator: GeneratorInfo,
    pub classifier: ClassifierInfo,
    /// The backend asked for (`auto`, `cpu`, `vulkan`, ...).
    pub backend: String,
    /// The adapter that ran, in words (with the weight storage when not f32).
    pub adapter: String,
    pub weight_precision: String,
    pub batches: usize,
    pub batch_rows: usize,
    /// The rows the table, the CSV and the ranking use: `pooled` (both directions), `up`, `down`.
    pub direction: RowSet,
    /// The metric the top table is ranked by, and whose interval the table and CSV show.
    pub rank_by: Metric,
    /// The bootstrap size (0: no intervals), its seed, the interval level and the
    /// significance level of q.
    pub bootstrap: usize,
    pub bootstrap_seed: u64,
    pub ci: f64,
    pub alpha: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GeneratorInfo {
    pub path: String,
    pub arch: String,
    pub z_dim: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassifierInfo {
    pub path: String,
    pub arch: String,
    pub features: usize,
    /// What was changed in reading it (a final Sigmoid dropped), where anything was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timings {
    pub probe_seconds: f64,
    pub gflop: f64,
    pub gflop_per_second: f64,
}

/// The target's mean logit at the start and at the last recorded step each way.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Means {
    pub start: f64,
    pub last_step_up: f64,
    pub last_step_down: f64,
}

/// A probe graded against a planted world.
#[derive(Debug, Clone)]
pub struct PlantedGrade {
    /// How the world is named in the report.
    pub world: String,
    /// The measured correlation of every feature with the target.
    pub measured: Vec<f64>,
    /// The planted correlation of every feature with the target.
    pub planted: Vec<f64>,
    pub recovery: Recovery,
    /// Whether any planted factor loads on the target.
    pub carries_factor: bool,
}

/// What the report says about the run beside the outcome: the probe's settings as asked.
#[derive(Debug, Clone)]
pub struct RunInfo<'a> {
    pub update: UpdateRule,
    pub noise: String,
    pub top: usize,
    /// The backend asked for, by name.
    pub backend: &'a str,
    /// The adapter that ran, in words.
    pub adapter: String,
    pub weight_precision: WeightPrecision,
    pub direction: RowSet,
    pub rank_by: Metric,
    pub statistics: StatsSettings,
}

/// Multiply-adds to floating-point operations.
const FLOP_PER_MAC: f64 = 2.0;

/// The statistics of an exact probe's outcome over `features` features (it must hold its
/// changes): every report of a probe (single, matrix row, audit row) starts here.
pub fn outcome_statistics(outcome: &ProbeOutcome, features: usize, settings: &StatsSettings) -> Result<ProbeStatistics, ProbeReportError> {
    let history = outcome.changes.as_deref().ok_or(ProbeReportError::NoChanges)?;
    let changes = Changes::new(outcome.steps, outcome.images, features, history)?;
    Ok(stats::probe_statistics(&changes, &outcome.start_logits, outcome.target, settings)?)
}

impl ProbeReport {
    /// The report of `outcome`, a probe of `generator` and `classifier` run as `run` says:
    /// the top `run.top` features, and the grading against `world` (named as given) if any.
    pub fn new(
        outcome: &ProbeOutcome,
        generator: &Network,
        classifier: &Network,
        run: RunInfo<'_>,
        world: Option<(&str, &PlantedWorld)>,
    ) -> Result<ProbeReport, ProbeReportError> {
        let names = &classifier.features;
        let (f, target, steps) = (names.len(), outcome.target, outcome.steps);
        let st = outcome_statistics(outcome, f, &run.statistics)?;
        let order = statistics::rank(&outcome.cov, names, &st, run.direction, run.rank_by, run.top);
        let top = statistics::top_rows(&outcome.cov, names, &st, run.direction, run.rank_by, &order);
        // Forward and input-gradient passes of both networks, every image, every step, both ways.
        let flops = 2.0 * FLOP_PER_MAC * (generator.macs() + classifier.macs()) as f64 * (2 * outcome.images * steps) as f64;
        let adapter = match run.weight_precision {
            WeightPrecision::F32 => run.adapter,
            WeightPrecision::F16 => format!("{}; weights stored as f16, sums in f32", run.adapter),
        };
        let planted = world.map(|(shown, world)| {
            let corr = stats::correlation(&outcome.cov, f);
            let measured: Vec<f64> = corr[target * f..(target + 1) * f].iter().map(|&c| c as f64).collect();
            let top10: Vec<usize> =
                stats::top_covarying(&outcome.cov, names, target, planted::MEASURED_TOP).iter().map(|t| t.index).collect();
            PlantedGrade {
                world: shown.to_string(),
                recovery: world.recovery(target, &measured, &top10),
                planted: world.planted_correlation[target].clone(),
                measured,
                carries_factor: world.carries_factor(target),
            }
        });
        Ok(ProbeReport {
            version: VERSION,
            settings: Settings {
                feature: names[target].clone(),
                target_index: target,
                images: outcome.images,
                steps,
                update: update_name(run.update),
                noise: run.noise,
                top: run.top,
                generator: GeneratorInfo { path: generator.source.clone(), arch: generator.arch.into(), z_dim: generator.input[0] },
                classifier: ClassifierInfo {
                    path: classifier.source.clone(),
                    arch: classifier.arch.into(),
                    features: f,
                    notes: classifier.notes.clone(),
                },
                backend: run.backend.to_string(),
                adapter,
                weight_precision: run.weight_precision.name().to_string(),
                batches: outcome.batches,
                batch_rows: outcome.batch_rows,
                direction: run.direction,
                rank_by: run.rank_by,
                bootstrap: run.statistics.bootstrap,
                bootstrap_seed: run.statistics.seed,
                ci: run.statistics.ci,
                alpha: run.statistics.alpha,
            },
            timings: Timings { probe_seconds: outcome.seconds, gflop: flops / 1e9, gflop_per_second: flops / 1e9 / outcome.seconds },
            target_logit_mean: Means {
                start: outcome.start_mean,
                last_step_up: outcome.end_mean_up,
                last_step_down: outcome.end_mean_down,
            },
            top,
            features: names.clone(),
            covariance: (0..f).map(|i| outcome.cov[i * f..(i + 1) * f].to_vec()).collect(),
            statistics: st,
            planted,
        })
    }

    /// The covariance matrix, row-major.
    pub fn covariance_flat(&self) -> Vec<f32> {
        self.covariance.concat()
    }

    /// The report as pretty JSON, one field per line, ending in a newline.
    pub fn to_json(&self) -> String {
        // Through a `Value`, as the report was written before it had a type: the same key
        // order and number formatting.
        let value = serde_json::to_value(self).expect("a probe report always serialises");
        let mut s = serde_json::to_string_pretty(&value).expect("a JSON value always prints");
        s.push('\n');
        s
    }

    /// The top table as CSV: `rank,feature,index,covariance,correlation,slope,dependency,
    /// ci_low,ci_high,p,q` ([`statistics::top_csv`]).
    pub fn top_csv(&self) -> String {
        statistics::top_csv(&self.top)
    }

    /// The full matrix as CSV: header `feature,<names>`, then one row per feature.
    pub fn matrix_csv(&self) -> String {
        super::matrix_csv(&self.features, &self.covariance_flat())
    }

    /// The three header lines naming the run, its adapter and its means and speed.
    pub fn header(&self) -> Vec<String> {
        let (s, t, m) = (&self.settings, &self.timings, &self.target_logit_mean);
        let notes = s.classifier.notes.iter().map(|n| format!("classifier {}: {n}", s.classifier.path));
        let mut lines = vec![
            format!(
                "gan-bias probe: {} (index {}), {} images x {} steps each way, update {}, noise {}",
                s.feature, s.target_index, s.images, s.steps, s.update, s.noise
            ),
            format!("adapter: {}", s.adapter),
            format!(
                "{} mean logit {:.4} -> {:.4} (up) / {:.4} (down); {:.2} s, {:.1} GFLOP/s, {} batch(es) of {} rows",
                s.feature, m.start, m.last_step_up, m.last_step_down, t.probe_seconds, t.gflop_per_second, s.batches, s.batch_rows
            ),
        ];
        lines.splice(2..2, notes);
        lines
    }

    /// What the probe prints: the header, how the statistics were made, the top table (with
    /// the planted correlations and a grading line when graded against a planted world), and
    /// the observational section.
    pub fn text(&self) -> String {
        let (set, metric) = (self.settings.direction, self.settings.rank_by);
        let mut header = self.header();
        header.push(statistics::statistics_line(&self.statistics, set, metric));
        header.push(statistics::dependency_line(&self.statistics, set, &self.settings.feature));
        let mut s: String = header.iter().map(|h| format!("# {h}\n")).collect();
        s.push_str(&statistics::table(&self.top, metric, self.planted.as_ref().map(|g| g.planted.as_slice())));
        if let Some(g) = &self.planted {
            s.push_str(&super::recovery_line(&g.world, &self.settings.feature, &g.recovery, g.carries_factor));
            s.push('\n');
        }
        s.push_str(&statistics::observational(&self.statistics, &self.top, &self.settings.feature, self.settings.ci));
        s
    }
}

/// The update rule's name in reports.
pub fn update_name(update: UpdateRule) -> String {
    format!("{update:?}").to_lowercase()
}
