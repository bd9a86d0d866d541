//! The probe's plot argument group: `--plot` (the notebook's regplot of the recorded
//! changes) and `--heatmap` (the covariance or correlation matrix), each SVG or PNG by its
//! extension.
//!
//! Owns: the plot flags, their early checks and the pictures' bytes. Must not touch: the
//! probe command's flow (`probe.rs`) or how a plot is drawn (the library's `plots`).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use gan_bias::plots::{self, PlotFormat};
use gan_bias::probe::ProbeOutcome;
use gan_bias::report::plot_data;
use gan_bias::{features, report};

use super::common::check_folder;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeatmapMetric {
    Cov,
    Corr,
}

#[derive(clap::Args, Debug)]
pub struct PlotArgs {
    /// Write the notebook's plot of the other features' changes against the target's (.svg or
    /// .png): binned means with 99% bars and least-squares lines with 99% bands.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Features to plot, comma-separated names or indices; by default the top 5 of the table.
    #[arg(long, value_delimiter = ',')]
    pub plot_features: Option<Vec<String>>,
    /// Write the features x features matrix as a heatmap (.svg or .png).
    #[arg(long)]
    pub heatmap: Option<PathBuf>,
    /// Matrix of the heatmap: covariance or correlation.
    #[arg(long, value_enum, default_value = "cov")]
    pub heatmap_metric: HeatmapMetric,
}

/// The format `path` names by its extension, checked with its folder before any work.
pub fn check_format(path: &Path, flag: &str) -> Result<PlotFormat> {
    let Some(format) = PlotFormat::from_path(path) else {
        bail!("{flag} {}: a plot is written as .svg or .png; give a path ending in one of those", path.display());
    };
    check_folder(path)?;
    Ok(format)
}

impl PlotArgs {
    /// Cheap checks, before any work.
    pub fn validate(&self) -> Result<()> {
        if let Some(p) = &self.plot {
            check_format(p, "--plot")?;
        }
        if let Some(p) = &self.heatmap {
            check_format(p, "--heatmap")?;
        }
        if self.plot.is_none() && self.plot_features.is_some() {
            bail!("--plot-features needs --plot");
        }
        Ok(())
    }

    /// The heatmap's title.
    fn heatmap_title(&self, names: &[String], target: usize) -> String {
        let what = match self.heatmap_metric {
            HeatmapMetric::Cov => "Covariance",
            HeatmapMetric::Corr => "Correlation",
        };
        format!("{what} of the classifier's changes, probing {}", names[target])
    }

    /// The features named by --plot-features, resolved against the classifier's names (before
    /// the probe, so a typo fails early); `None` for the default. Also fails early when a PNG
    /// heatmap of this many names would be too large.
    pub fn resolve(&self, names: &[String], target: usize) -> Result<Option<Vec<usize>>> {
        if let Some(p) = self.heatmap.as_ref().filter(|p| PlotFormat::from_path(p) == Some(PlotFormat::Png)) {
            plots::check_heatmap_png(names, &self.heatmap_title(names, target)).with_context(|| format!("--heatmap {}", p.display()))?;
        }
        let Some(given) = &self.plot_features else { return Ok(None) };
        Ok(Some(features::resolve_list(given, names, "--plot-features")?))
    }

    /// The pictures' file contents: (path, bytes) for each asked for.
    pub fn render(
        &self,
        outcome: &ProbeOutcome,
        names: &[String],
        target: usize,
        chosen: Option<&[usize]>,
    ) -> Result<Vec<(PathBuf, Vec<u8>)>> {
        let mut out = Vec::new();
        if let Some(p) = &self.plot {
            let series = plot_data::regplot_series(outcome, names, target, chosen)?;
            let format = check_format(p, "--plot")?;
            let bytes = plots::regplot_file(format, &names[target], &series, 2 * outcome.steps)
                .with_context(|| format!("--plot {}", p.display()))?;
            out.push((p.clone(), bytes));
        }
        if let Some(p) = &self.heatmap {
            let format = check_format(p, "--heatmap")?;
            let matrix = plot_data::heatmap_matrix(outcome, names, self.heatmap_metric == HeatmapMetric::Corr)?;
            let bytes = plots::heatmap_file(format, &matrix, &self.heatmap_title(names, target))
                .with_context(|| format!("--heatmap {}", p.display()))?;
            out.push((p.clone(), bytes));
        }
        Ok(out)
    }
}

/// The regplot as SVG, for the HTML page: `chosen` features, or the top 5 by covariance.
pub fn regplot_svg_of(outcome: &ProbeOutcome, names: &[String], target: usize, chosen: Option<&[usize]>) -> Result<String> {
    let series = plot_data::regplot_series(outcome, names, target, chosen)?;
    Ok(plots::regplot_svg(&names[target], &series, 2 * outcome.steps))
}

/// The covariance heatmap as SVG, for the HTML page.
pub fn heatmap_svg_of(outcome: &ProbeOutcome, names: &[String]) -> Result<String> {
    let matrix = plot_data::heatmap_matrix(outcome, names, false)?;
    Ok(plots::heatmap_svg(&matrix, "Covariance of the classifier's changes"))
}

/// Writes each picture whole or not at all.
pub fn write(pictures: &[(PathBuf, Vec<u8>)]) -> Result<()> {
    for (p, bytes) in pictures {
        report::write_atomic(p, bytes)?;
    }
    Ok(())
}
