//! `gan-bias probe --feature all` / `--features A,B,C`: the directed dependency matrix of many
//! targets, exact (the full probe of each, on one load, several targets per dispatch) or
//! first-order (each image's gradients at the starting noise), optionally one shard of the
//! target list. Takes the probe's checked flags, runs the library, builds its
//! `MatrixReport` and writes its views.
//!
//! Owns: the matrix run's flow, its progress and time estimate. Must not touch: what the
//! report holds or how a cell is computed (the library's `report::matrix`, `stats`).

use std::time::Instant;

use anyhow::{Context, Result, bail};

use gan_bias::plots::{self, PlotFormat};
use gan_bias::probe::{jacobians, probe_targets};
use gan_bias::report::html::{self, Provenance};
use gan_bias::report::matrix::{self, MatrixReport, Method, ModelId, RunRecord, Shard, TargetRow, agreement, grade, merge, summary};
use gan_bias::stats::{Metric, first_order_statistics};
use gan_bias::{features, load, report};

use super::common::{model_facts, progress_bar};
use super::probe::{MethodArg, ProbeConfig, starting_noise};

/// A duration in words: `42 s`, `3 min 20 s`, `1 h 05 min`.
fn duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

pub fn run(config: ProbeConfig, quiet: bool) -> Result<()> {
    let args = &config.args;
    let method = match args.method {
        MethodArg::Exact => Method::Exact,
        MethodArg::FirstOrder => Method::FirstOrder,
    };
    let shard = args.shard.as_deref().map(Shard::parse).transpose().map_err(anyhow::Error::msg)?;
    let exact = match &args.agree_with {
        Some(p) => {
            let m = merge::read_part(p)?;
            if m.shard.is_some() {
                bail!("--agree-with {}: a part of a sharded run; merge the parts first", p.display());
            }
            Some(m)
        }
        None => None,
    };
    let generator = args.generator_args.load()?;
    let classifier = args.classifier_args.load(Some(&generator))?;
    let names = &classifier.features;
    let all = features::resolve_list_or_all(config.args.features.as_deref(), names, "--features")?;
    let mine = shard.map_or_else(|| all.clone(), |s| s.pick(&all));
    let planted = load::planted_world(args.planted.as_deref(), config.bundled_models(), names)?;
    let (noise, noise_source) = starting_noise(args, generator.input[0], classifier.features.len())?;
    let n = noise.len() / generator.input[0];
    let models =
        (ModelId::of(&generator, load::file_sha256(&generator.source)?), ModelId::of(&classifier, load::file_sha256(&classifier.source)?));
    let steps = if method == Method::Exact { args.steps } else { 0 };
    // A first-order matrix has no covariance (it takes no steps): it ranks by the cosine.
    let rank_by = match (method, Metric::from(args.rank_by)) {
        (Method::FirstOrder, Metric::Covariance) => Metric::Correlation,
        (_, m) => m,
    };
    if let Some(p) = &args.plots.heatmap
        && PlotFormat::from_path(p) == Some(PlotFormat::Png)
    {
        plots::check_directed_png(mine.len(), names, &matrix::metric_label(rank_by, method))?;
    }
    let settings = matrix::settings(
        method,
        models.0,
        models.1,
        (noise_source, &noise),
        n,
        steps,
        config.update,
        args.direction.into(),
        rank_by,
        config.statistics,
        all.clone(),
    );
    let mut backend = args.device.open()?;
    let started = Instant::now();
    let bar = progress_bar(quiet, "image-steps");
    let mut rows: Vec<TargetRow> = Vec::with_capacity(mine.len());
    let (mut slots, mut rounds, mut batch_rows) = (0, 0, 0);
    if mine.is_empty() {
        log::warn!("shard {:?} holds none of the {} targets: writing an empty part", shard, all.len());
    } else if method == Method::Exact {
        // The time estimate, once, from the first step; then the time left every tenth.
        let mut said = false;
        let mut next_tenth = 1;
        let mut progress = |done: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(done);
            let left = started.elapsed().as_secs_f64() * (total - done) as f64 / done.max(1) as f64;
            if !said && !quiet {
                said = true;
                bar.suspend(|| {
                    eprintln!(
                        "estimated time: {} for {} target(s) x {n} images x {} steps each way (measured from the first step)",
                        duration(left),
                        mine.len(),
                        args.steps
                    )
                });
            }
            if bar.is_hidden() && !quiet && done * 10 >= next_tenth * total {
                next_tenth = done * 10 / total + 1;
                eprintln!("{}% of image-steps done, {} left", done * 100 / total, duration(left));
            }
        };
        let run = probe_targets(
            backend.as_mut(),
            &generator,
            &classifier,
            &noise,
            &mine,
            args.steps,
            config.update,
            args.max_batch,
            Some(&mut progress),
            |outcome| -> Result<()> {
                rows.push(TargetRow::exact(&outcome, names, &config.statistics)?);
                Ok(())
            },
        )?;
        (slots, rounds, batch_rows) = (run.slots, run.rounds, run.batch_rows);
    } else {
        let j = jacobians(backend.as_mut(), &generator, &classifier, &noise, args.max_batch, None)?;
        let st = first_order_statistics(&j.grads, &j.start_logits, j.images, j.features, &mine, &config.statistics)?;
        rows.extend(st.rows.into_iter().map(|r| TargetRow::first_order(r, names)));
        (slots, rounds, batch_rows) = (j.features, j.batches, j.batch_rows);
    }
    bar.finish_and_clear();
    let run = RunRecord {
        shard,
        backend: args.device.choice().name().to_string(),
        adapter: backend.describe(),
        weight_precision: backend.weight_precision().name().to_string(),
        targets: mine.len(),
        slots,
        rounds,
        batch_rows,
        seconds: started.elapsed().as_secs_f64(),
    };
    let report = MatrixReport::new(settings, shard, run, names.clone(), rows);
    let agreement = match &exact {
        Some(e) => Some(agreement::agreement(e, &report, Metric::Correlation, Metric::Correlation).map_err(|d| {
            anyhow::anyhow!("--agree-with {}: {d}", args.agree_with.as_ref().map_or(String::new(), |p| p.display().to_string()))
        })?),
        None => None,
    };
    let grading = planted.as_ref().map(|(shown, world)| grade::text(shown, &grade::grade(&report, world)));
    let page = match &args.report {
        Some(_) => {
            let provenance = model_facts(Provenance::of_this_run(), &generator, &classifier)?
                .fact("adapter", run_adapter(&report))
                .fact("method", report.settings.method.name())
                .fact("images x steps", format!("{} x {} each way", report.settings.images, report.settings.steps))
                .fact("noise", report.settings.noise.clone())
                .fact("update rule", report.settings.update.clone());
            Some(html::matrix::page(&report, &provenance, &plots::directed_svg(&report.directed())?, grading.as_deref()))
        }
        None => None,
    };
    write_views(&report, args.matrix_csv.as_deref(), args.json.as_deref(), args.plots.heatmap.as_deref())?;
    if let (Some(p), Some(page)) = (&args.report, &page) {
        report::write_atomic(p, page.as_bytes())?;
    }
    print!("{}", summary::text(&report));
    if let Some(text) = &grading {
        print!("{text}");
    }
    if let Some(a) = agreement {
        println!("# {}", a.line());
    }
    Ok(())
}

/// The adapters the report's runs ran on, in words.
fn run_adapter(report: &MatrixReport) -> String {
    let mut names: Vec<&str> = report.runs.iter().map(|r| r.adapter.as_str()).collect();
    names.dedup();
    names.join("; ")
}

/// Writes the matrix's views asked for, each whole or not at all.
pub fn write_views(
    report: &MatrixReport,
    csv: Option<&std::path::Path>,
    json: Option<&std::path::Path>,
    heatmap: Option<&std::path::Path>,
) -> Result<()> {
    let picture = match heatmap {
        Some(p) => {
            let format = PlotFormat::from_path(p).context("--heatmap: a path ending in .svg or .png")?;
            Some((p, plots::directed_file(format, &report.directed())?))
        }
        None => None,
    };
    if let Some(p) = csv {
        report::write_atomic(p, report.matrix_csv().as_bytes())?;
    }
    if let Some(p) = json {
        report::write_atomic(p, report.to_json().as_bytes())?;
    }
    if let Some((p, bytes)) = picture {
        report::write_atomic(p, &bytes)?;
    }
    Ok(())
}
