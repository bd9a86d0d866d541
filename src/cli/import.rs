//! `gan-bias import`: a PyTorch checkpoint to safetensors, byte for byte, with the
//! architecture and feature names in the metadata.
//!
//! Owns: the command's flags and flow. Must not touch: other commands, the dispatch; the
//! unpickling is the library's `import`, the network check the library's `load`.

use std::path::PathBuf;

use anyhow::{Context, Result};

use gan_bias::import::read_pth;
use gan_bias::model::presets::ArchKind;
use gan_bias::{load, report};

use super::common::{ArchArg, check_folder};

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

pub fn run(args: ImportArgs) -> Result<()> {
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
