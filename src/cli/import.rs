//! `gan-bias import`: a PyTorch checkpoint to safetensors, byte for byte, with the
//! architecture and feature names in the metadata; `--list` shows a checkpoint's tensors, or
//! an ONNX model's graph with what is not supported marked.
//!
//! Owns: the command's flags and flow. Must not touch: other commands, the dispatch; the
//! unpickling is the library's `import`, the network check the library's `load`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use gan_bias::import::read_pth;
use gan_bias::model::presets::ArchKind;
use gan_bias::program::lower;
use gan_bias::{load, onnx, passes, report};

use super::common::{ArchArg, check_folder};

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The PyTorch checkpoint (or, with --list, an ONNX model).
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
    /// Print the tensors (name, dtype, shape) without writing anything; for an .onnx model, its
    /// graph: every node with its op and output shape, marking what is not supported.
    #[arg(long)]
    pub list: bool,
}

pub fn run(args: ImportArgs) -> Result<()> {
    if load::is_onnx(&args.input) {
        return list_onnx(&args);
    }
    if let Some(out) = &args.output
        && !args.list
    {
        check_folder(out)?;
    }
    let raw = read_pth(&args.input, args.key.as_deref())?;
    if args.list {
        for t in &raw {
            println!("{}  {}  {:?}", t.name, t.dtype.name(), t.shape);
        }
        return Ok(());
    }
    let (arch, bytes) = load::to_safetensors(&args.input, &raw, args.arch.map(ArchKind::from))?;
    let out = args.output.as_deref().context("--output is required")?;
    report::write_atomic(out, &bytes)?;
    println!("wrote {} tensors ({} architecture) to {}", raw.len(), arch.name(), out.display());
    Ok(())
}

/// `import --list MODEL.onnx`: the graph as read, then whether the backends run it.
fn list_onnx(args: &ImportArgs) -> Result<()> {
    if !args.list {
        bail!(
            "{}: an ONNX model is read as it is (pass it to --generator or --classifier); use --list to see its graph",
            args.input.display()
        );
    }
    let model = onnx::open(&args.input)?;
    print!("{}", model.listing());
    if model.check().is_ok() {
        // What the backends would run: the graph after the passes, or why not.
        let graph = passes::optimise(model.graph.clone());
        match lower::lowerable(&graph) {
            Ok(()) => println!("# runs as {} fused node(s) on every backend", graph.nodes.len()),
            Err(e) => println!("# cannot run yet: {e}"),
        }
    }
    Ok(())
}
