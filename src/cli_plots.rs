//! The probe's plots: `--plot` (the notebook's regplot of the recorded changes) and
//! `--heatmap` (the covariance or correlation matrix), both SVG.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use gan_bias::plots;
use gan_bias::probe::ProbeOutcome;
use gan_bias::{features, report, stats};

use crate::cli::check_folder;

/// Features plotted when --plot-features is not given: the top this many of the top table.
const DEFAULT_PLOT_FEATURES: usize = 5;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeatmapMetric {
    Cov,
    Corr,
}

#[derive(clap::Args, Debug)]
pub struct PlotArgs {
    /// Write the notebook's plot of the other features' changes against the target's (SVG):
    /// binned means with 99% bars and least-squares lines with 99% bands.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Features to plot, comma-separated names or indices; by default the top 5 of the table.
    #[arg(long, value_delimiter = ',')]
    pub plot_features: Option<Vec<String>>,
    /// Write the features x features matrix as a heatmap (SVG).
    #[arg(long)]
    pub heatmap: Option<PathBuf>,
    /// Matrix of the heatmap: covariance or correlation.
    #[arg(long, value_enum, default_value = "cov")]
    pub heatmap_metric: HeatmapMetric,
}

fn check_svg(path: &Path, flag: &str) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    if ext.as_deref() != Some("svg") {
        bail!("{flag} {}: only SVG is supported for plots yet; give a .svg path", path.display());
    }
    check_folder(path)
}

impl PlotArgs {
    /// Cheap checks, before any work.
    pub fn validate(&self) -> Result<()> {
        if let Some(p) = &self.plot {
            check_svg(p, "--plot")?;
        }
        if let Some(p) = &self.heatmap {
            check_svg(p, "--heatmap")?;
        }
        if self.plot.is_none() && self.plot_features.is_some() {
            bail!("--plot-features needs --plot");
        }
        Ok(())
    }

    /// Whether the probe must keep its recorded changes.
    pub fn keep_changes(&self) -> bool {
        self.plot.is_some()
    }

    /// The features named by --plot-features, resolved against the classifier's names (before
    /// the probe, so a typo fails early); `None` for the default.
    pub fn resolve(&self, names: &[String]) -> Result<Option<Vec<usize>>> {
        let Some(given) = &self.plot_features else { return Ok(None) };
        let mut out = Vec::new();
        for g in given.iter().filter(|g| !g.trim().is_empty()) {
            out.push(features::resolve(g, names).with_context(|| "--plot-features".to_string())?);
        }
        if out.is_empty() {
            bail!("--plot-features names no feature");
        }
        Ok(Some(out))
    }

    /// The pictures, as SVG text: (path, contents) for each asked for.
    pub fn render(
        &self,
        outcome: &ProbeOutcome,
        names: &[String],
        target: usize,
        steps: usize,
        chosen: Option<Vec<usize>>,
    ) -> Result<Vec<(PathBuf, String)>> {
        let mut out = Vec::new();
        if let Some(p) = &self.plot {
            let Some(changes) = &outcome.changes else { bail!("the probe kept no changes to plot") };
            let f = outcome.features;
            let chosen = chosen.unwrap_or_else(|| {
                stats::top_covarying(&outcome.cov, names, target, DEFAULT_PLOT_FEATURES).into_iter().map(|t| t.index).collect()
            });
            let rows = changes.len() / f;
            let x: Vec<f64> = (0..rows).map(|r| changes[r * f + target] as f64).collect();
            let series: Vec<(String, Vec<f64>, Vec<f64>)> =
                chosen.iter().map(|&j| (names[j].clone(), x.clone(), (0..rows).map(|r| changes[r * f + j] as f64).collect())).collect();
            out.push((p.clone(), plots::regplot_svg(&names[target], &series, 2 * steps)));
        }
        if let Some(p) = &self.heatmap {
            let (matrix, what) = match self.heatmap_metric {
                HeatmapMetric::Cov => (outcome.cov.clone(), "Covariance"),
                HeatmapMetric::Corr => (stats::correlation(&outcome.cov, outcome.features), "Correlation"),
            };
            let title = format!("{what} of the classifier's changes, probing {}", names[target]);
            out.push((p.clone(), plots::heatmap_svg(names, &matrix, &title)));
        }
        Ok(out)
    }
}

/// Writes each picture whole or not at all.
pub fn write(pictures: &[(PathBuf, String)]) -> Result<()> {
    for (p, svg) in pictures {
        report::write_atomic(p, svg.as_bytes())?;
    }
    Ok(())
}
