//! The command line: arguments (clap derive), subcommands and dispatch to one file per
//! command. Each command parses, validates its flags into a config, calls the library and
//! writes its outputs.
//!
//! Module arrows, no cycles: `mod.rs` -> each command (`probe`, `bench`, `import`,
//! `generate`, `forward`, `features`, `info`, `merge`, `audit`) -> the probe's matrix mode (`matrix`) and argument
//! groups (`pictures`, `plots`) -> `common` -> the library. Must not touch: anything the library computes.

mod audit;
mod bench;
mod common;
mod features;
mod forward;
mod generate;
mod import;
mod info;
mod matrix;
mod merge;
mod pictures;
mod plots;
mod probe;

use anyhow::Result;
use clap::{Parser, Subcommand};

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
    Probe(Box<probe::ProbeArgs>),
    /// List the classifier's features.
    Features(common::ClassifierArgs),
    /// List the adapters wgpu finds, and the one `--backend auto` picks.
    Info,
    /// Time every kernel of a probe step, and the step, on one backend or every adapter
    /// (--all-adapters); or merge bench files into one table (`bench compare`).
    Bench(Box<bench::BenchArgs>),
    /// Convert a PyTorch checkpoint (.pth, zip or legacy format) to safetensors, safely:
    /// nothing in the file is executed.
    Import(import::ImportArgs),
    /// Write a grid of the generator's images as PNG.
    Generate(generate::GenerateArgs),
    /// Run one model forward (ONNX or a checkpoint) from a safetensors file of inputs to one
    /// of outputs, to compare with PyTorch or onnxruntime.
    Forward(Box<forward::ForwardArgs>),
    /// The classifier's own bias by group: accuracy, TPR, FPR, ... per group with intervals,
    /// their disparities, and how each group attribute leaks into its errors, beside the
    /// probe's dependency row.
    Audit(Box<audit::AuditArgs>),
    /// Join the parts of a sharded matrix run (`probe --feature all --shard K/N --json PART`)
    /// into the whole matrix.
    Merge(merge::MergeArgs),
}

pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Probe(p) => probe::run(*p, args.quiet),
        Command::Features(c) => features::run(c),
        Command::Info => info::run(),
        Command::Bench(a) => bench::run(*a, args.quiet),
        Command::Import(a) => import::run(a),
        Command::Generate(a) => generate::run(a),
        Command::Forward(a) => forward::run(*a),
        Command::Merge(a) => merge::run(a),
        Command::Audit(a) => audit::run(*a, args.quiet),
    }
}
