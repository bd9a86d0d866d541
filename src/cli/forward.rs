//! `gan-bias forward`: one model forward on the chosen backend, from a safetensors file of
//! inputs to one of outputs, named like the graph's; for comparing gan-bias's reading of a
//! model with PyTorch's or onnxruntime's before a long audit.
//!
//! Owns: the command's flags and flow. Must not touch: other commands, the dispatch.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result};

use gan_bias::{load, probe, report};

use super::common::{ArchArg, DeviceArgs, check_folder};

#[derive(clap::Args, Debug)]
pub struct ForwardArgs {
    /// The model: .onnx, or a .safetensors or .pth checkpoint of a preset.
    pub model: PathBuf,
    /// The input: a safetensors file holding one tensor of shape (batch, ...), named like the
    /// model's input (any name when it holds only one).
    #[arg(long)]
    pub input: PathBuf,
    /// Where to write the output: a safetensors file with one tensor per graph output.
    #[arg(short, long)]
    pub output: PathBuf,
    /// A checkpoint's architecture, when neither its metadata nor its tensor names tell.
    #[arg(long, value_enum)]
    pub arch: Option<ArchArg>,
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(args: ForwardArgs) -> Result<()> {
    check_folder(&args.output)?;
    let graph = load::model_graph(&args.model, args.arch.map(Into::into))?;
    let (rows, input) = load::forward_input(&args.input, &graph)?;
    let mut backend = args.device.open()?;
    let out = probe::generate(backend.as_mut(), &graph, &input)?;
    let value = graph.value(graph.outputs[0]);
    let mut shape = vec![rows];
    shape.extend(&value.shape);
    let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), &bytes).context("the output tensor")?;
    let file = safetensors::serialize([(value.name.as_str(), view)], None::<HashMap<String, String>>).context("the output file")?;
    report::write_atomic(&args.output, &file)?;
    println!("wrote {} {:?} ({} rows on {}) to {}", value.name, shape, rows, backend.describe(), args.output.display());
    Ok(())
}
