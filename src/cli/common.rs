//! What the commands share: the argument groups naming the models and the device, the
//! command line's value enums (converted into the library's types), the progress bar and the check that an output's folder exists.
//!
//! Owns: argument spelling and help text shared by several commands. Must not touch: any
//! one command's flow (its own file) or the dispatch (`mod.rs`); it uses only the library.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use clap::ValueEnum;

use gan_bias::backend::gpu::context::BackendChoice;
use gan_bias::backend::{self, Backend, WeightPrecision};
use gan_bias::load;
use gan_bias::model::Network;
use gan_bias::model::presets::ArchKind;
use gan_bias::report::html::Provenance;

/// Pixels between the tiles of a picture grid.
pub const PAD: usize = 2;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ArchArg {
    Coursera,
    Dcgan,
    Classifier,
}

impl From<ArchArg> for ArchKind {
    fn from(a: ArchArg) -> ArchKind {
        match a {
            ArchArg::Coursera => ArchKind::Coursera,
            ArchArg::Dcgan => ArchKind::Dcgan,
            ArchArg::Classifier => ArchKind::Classifier,
        }
    }
}

/// `--backend`: which wgpu backends to look at, or the CPU backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// A hardware GPU on any backend, else the CPU backend (faster than a software rasteriser).
    Auto,
    Vulkan,
    Metal,
    Dx12,
    Gl,
    /// The plain-Rust CPU backend (no adapter).
    Cpu,
}

impl From<BackendArg> for BackendChoice {
    fn from(b: BackendArg) -> BackendChoice {
        match b {
            BackendArg::Auto => BackendChoice::Auto,
            BackendArg::Vulkan => BackendChoice::Vulkan,
            BackendArg::Metal => BackendChoice::Metal,
            BackendArg::Dx12 => BackendChoice::Dx12,
            BackendArg::Gl => BackendChoice::Gl,
            BackendArg::Cpu => BackendChoice::Cpu,
        }
    }
}

/// Where the generator's weights come from.
#[derive(clap::Args, Debug)]
pub struct GeneratorArgs {
    /// Generator weights (.safetensors, .pth or .onnx); default: the bundled weights.
    #[arg(long)]
    pub generator: Option<PathBuf>,
    /// The generator's architecture, when neither its metadata nor its tensor names tell.
    #[arg(long, value_enum)]
    pub generator_arch: Option<ArchArg>,
}

impl GeneratorArgs {
    pub fn load(&self) -> Result<Network> {
        Ok(load::generator(self.generator.as_deref(), self.generator_arch.map(Into::into))?)
    }
}

/// Where the classifier's weights come from.
#[derive(clap::Args, Debug)]
pub struct ClassifierArgs {
    /// Classifier weights (.safetensors, .pth or .onnx); default: the bundled weights.
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    /// The classifier's feature names, one per line (instead of the file's own, or CelebA's 40).
    #[arg(long)]
    pub feature_names: Option<PathBuf>,
    /// The classifier's architecture, when neither its metadata nor its tensor names tell.
    #[arg(long, value_enum)]
    pub classifier_arch: Option<ArchArg>,
}

impl ClassifierArgs {
    /// The classifier, checked against the generator's images when there is a generator.
    pub fn load(&self, generator: Option<&Network>) -> Result<Network> {
        Ok(load::classifier(self.classifier.as_deref(), self.classifier_arch.map(Into::into), generator, self.feature_names.as_deref())?)
    }
}

/// Which backend and adapter run the kernels.
#[derive(clap::Args, Debug)]
pub struct DeviceArgs {
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendArg,
    /// Use the adapter whose name contains this (case-insensitive).
    #[arg(long)]
    pub adapter: Option<String>,
    /// Store the convolution weights on the GPU as f16 (half their memory), widened to f32 as
    /// the kernels stage them; sums and activations stay f32. Packed two to a 32-bit word and
    /// read with WGSL's unpack2x16float: no shader-f16 feature is requested, but wgpu allows
    /// that builtin only where the adapter has its SHADER_F16_IN_F32 downlevel flag (all but
    /// llvmpipe without shader-f16). WGSL backends only (the CPU backend keeps f32 weights).
    #[arg(long)]
    pub weights_f16: bool,
    /// Plan batches within this much buffer memory, e.g. 512MB or 4GiB. Default: on the CPU
    /// backend and software adapters half of the host's available memory; on a GPU four of its
    /// largest storage bindings, between 256 MiB and 4 GiB (wgpu reports no memory size).
    #[arg(long, value_parser = parse_size)]
    pub memory_budget: Option<u64>,
}

/// A size in bytes: a number, optionally with a unit (B, kB, MB, GB, TB; KiB, MiB, GiB, TiB).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("{text:?} is not a size, e.g. 512MB or 4GiB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "kib" => 1024.0,
        "mib" => 1024f64.powi(2),
        "gib" => 1024f64.powi(3),
        "tib" => 1024f64.powi(4),
        u => return Err(format!("unknown unit {u:?} in {text:?} (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)")),
    };
    let bytes = value * scale;
    if !(1.0..1e18).contains(&bytes) {
        return Err(format!("{text:?} is not a size of at least one byte"));
    }
    Ok(bytes as u64)
}

impl DeviceArgs {
    /// The backend asked for, as the library names it.
    pub fn choice(&self) -> BackendChoice {
        self.backend.into()
    }

    pub fn open(&self) -> Result<Box<dyn Backend>> {
        self.open_with(wgpu::Features::empty())
    }

    /// The backend, a GPU device opened with those of `features` its adapter has.
    pub fn open_with(&self, features: wgpu::Features) -> Result<Box<dyn Backend>> {
        let mut b = backend::open(self.choice(), self.adapter.as_deref(), features, self.weight_precision())?;
        if let Some(bytes) = self.memory_budget {
            b.set_memory_budget(bytes);
        }
        Ok(b)
    }

    /// The weight precision asked for.
    pub fn weight_precision(&self) -> WeightPrecision {
        if self.weights_f16 { WeightPrecision::F16 } else { WeightPrecision::F32 }
    }
}

/// A progress bar on stderr counting `unit`, hidden unless stderr is a terminal and not --quiet.
pub fn progress_bar(quiet: bool, unit: &str) -> indicatif::ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let template = format!("{{bar:40}} {{pos}}/{{len}} {unit}, {{per_sec}}, {{eta}} left");
    indicatif::ProgressBar::new(0)
        .with_style(indicatif::ProgressStyle::with_template(&template).unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()))
}

/// A progress callback (`done`, `total`) that moves `bar`.
pub fn report_to(bar: &indicatif::ProgressBar) -> impl FnMut(u64, u64) + '_ {
    |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    }
}

/// Fails unless the folder `out` would be written in exists.
pub fn check_folder(out: &Path) -> Result<()> {
    let dir = out.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        bail!("cannot write {}: folder {} does not exist", out.display(), dir.display());
    }
    Ok(())
}

/// The generator's image shape, refusing images that cannot be shown as grey or RGB.
pub fn check_channels(generator: &Network) -> Result<[usize; 3]> {
    let [c, h, w] = generator.output;
    if c == 2 || c == 0 {
        bail!("{}: the generator makes {c}-channel images; only 1 (grey) or 3 and more (RGB) can be shown", generator.source);
    }
    Ok([c, h, w])
}

/// Fails unless `out` names an `.html` file in a folder that exists.
pub fn check_html(out: &Path) -> Result<()> {
    if !out.extension().is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm")) {
        bail!("--report {}: the report is one HTML page; give a path ending in .html", out.display());
    }
    check_folder(out)
}

/// `provenance` with each model's file, sha256, architecture and size.
pub fn model_facts(provenance: Provenance, generator: &Network, classifier: &Network) -> Result<Provenance> {
    let with = |p: Provenance, role: &str, net: &Network| -> Result<Provenance> {
        let [c, h, w] = net.output;
        Ok(p.fact(&format!("{role} file"), net.source.clone()).fact(&format!("{role} sha256"), load::file_sha256(&net.source)?).fact(
            &format!("{role} architecture"),
            format!("{} ({} -> {c}x{h}x{w}, {} multiply-adds per image)", net.arch, net.input.map(|d| d.to_string()).join("x"), net.macs()),
        ))
    };
    with(with(provenance, "generator", generator)?, "classifier", classifier)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse_in_decimal_and_binary_units() {
        assert_eq!(parse_size("512MB"), Ok(512_000_000));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("1.5 kB"), Ok(1500));
        assert_eq!(parse_size("123"), Ok(123));
        assert!(parse_size("0").is_err() && parse_size("MB").is_err() && parse_size("3 parsecs").is_err() && parse_size("1e30").is_err());
    }
}
