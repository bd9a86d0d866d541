//! `gan-bias merge`: the parts of a sharded matrix run (`probe --shard K/N --json PART`)
//! joined into the whole matrix, its q-values recomputed over every cell, written as JSON and
//! optionally as CSV and a heatmap, its summary printed.
//!
//! Owns: the merge's flags. Must not touch: the checks and the join (the library's
//! `report::matrix::merge`).

use std::path::PathBuf;

use anyhow::Result;

use gan_bias::plots::{self, PlotFormat};
use gan_bias::report::matrix::{merge, summary};

use super::common::check_folder;
use super::matrix::write_views;

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The parts, each a `probe --shard K/N --json` file.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Where the whole matrix's JSON goes.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write every cell as CSV (target,feature,covariance,correlation,slope,dependency,ci_low,ci_high,p,q).
    #[arg(long)]
    pub matrix_csv: Option<PathBuf>,
    /// Also draw the directed matrix (.svg or .png).
    #[arg(long)]
    pub heatmap: Option<PathBuf>,
}

pub fn run(args: MergeArgs) -> Result<()> {
    for out in [Some(&args.output), args.matrix_csv.as_ref(), args.heatmap.as_ref()].into_iter().flatten() {
        check_folder(out)?;
    }
    if let Some(p) = &args.heatmap
        && PlotFormat::from_path(p).is_none()
    {
        anyhow::bail!("--heatmap {}: a plot is written as .svg or .png; give a path ending in one of those", p.display());
    }
    let mut parts = Vec::with_capacity(args.parts.len());
    for p in &args.parts {
        parts.push((p.display().to_string(), merge::read_part(p)?));
    }
    let whole = merge::merge(parts)?;
    if let Some(p) = &args.heatmap
        && PlotFormat::from_path(p) == Some(PlotFormat::Png)
    {
        plots::check_directed_png(whole.rows.len(), &whole.features, &whole.directed().metric)?;
    }
    write_views(&whole, args.matrix_csv.as_deref(), Some(&args.output), args.heatmap.as_deref())?;
    print!("{}", summary::text(&whole));
    Ok(())
}
