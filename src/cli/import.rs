//! `gan-bias import`: a PyTorch checkpoint to safetensors, byte for byte, with the
//! architecture and feature names in the metadata.
//!
//! Owns: the command's flags and flow. Must not touch: other commands, the dispatch; the
//! unpickling is the library's `import`, the network check the library's `load`.

use std::path::PathBuf;

use anyhow::{Context, Result};

use gan_bias::import::{RawDtype, read_pth};
use gan_bias::model::presets::{self, ArchKind, Role};
use gan_bias::weights::TensorFile;
use gan_bias::{load, report};

use super::common::ArchArg;

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
    let raw = read_pth(&args.input, args.key.as_deref())?;
    if args.list {
        for t in &raw {
            println!("{}  {}  {:?}", t.name, t.dtype.name(), t.shape);
        }
        return Ok(());
    }
    // Recognise (or check) the architecture by building the network from the float tensors.
    let file = TensorFile::from_tensors(&args.input, gan_bias::weights::float_tensors(&raw), Default::default())?;
    let arch = match args.arch.map(ArchKind::from) {
        Some(a) => a,
        None => ArchKind::resolve(&file, None, Role::Generator).or_else(|_| ArchKind::resolve(&file, None, Role::Classifier))?,
    };
    let net = load::network(&file, arch)?;
    let mut metadata = std::collections::HashMap::from([(presets::META_ARCH.to_string(), arch.name().to_string())]);
    if arch.role() == Role::Classifier {
        metadata.insert(presets::META_FEATURES.to_string(), net.features.join(","));
    }
    let views = raw
        .iter()
        .map(|t| {
            let dtype = match t.dtype {
                RawDtype::F64 => safetensors::Dtype::F64,
                RawDtype::F32 => safetensors::Dtype::F32,
                RawDtype::F16 => safetensors::Dtype::F16,
                RawDtype::BF16 => safetensors::Dtype::BF16,
                RawDtype::I64 => safetensors::Dtype::I64,
                RawDtype::I32 => safetensors::Dtype::I32,
                RawDtype::I16 => safetensors::Dtype::I16,
                RawDtype::I8 => safetensors::Dtype::I8,
                RawDtype::U8 => safetensors::Dtype::U8,
                RawDtype::Bool => safetensors::Dtype::BOOL,
            };
            let view =
                safetensors::tensor::TensorView::new(dtype, t.shape.clone(), &t.data).with_context(|| format!("tensor {}", t.name))?;
            Ok((t.name.clone(), view))
        })
        .collect::<Result<Vec<_>>>()?;
    let bytes = safetensors::serialize(views, Some(metadata)).context("serialising safetensors")?;
    let out = args.output.as_deref().context("--output is required")?;
    report::write_atomic(out, &bytes)?;
    println!("wrote {} tensors ({} architecture) to {}", raw.len(), arch.name(), out.display());
    Ok(())
}
