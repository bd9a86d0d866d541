//! Stage 2 of the pipeline: named tensors -> a network of fused stages.
//!
//! An architecture is data: a list of [`Layer`]s with PyTorch names (see [`presets`]). Building
//! a [`Network`] checks every tensor's presence and shape against that list, folds each
//! eval-mode BatchNorm into the convolution before it, and attaches each activation to the
//! stage before it, so a stage is `act(conv(x) + bias)`: exactly what one kernel computes.
//!
//! Owns: architectures, shape checks, BatchNorm folding. Must not touch: programs, backends,
//! the probe (it knows what a network is, not how it runs).

pub mod presets;

use std::sync::Arc;

use crate::ops::act::Act;
use crate::weights::{TensorFile, WeightsError};

pub use presets::{ArchKind, Role};

/// Why a network could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(
        "{path}: cannot recognise the architecture from its tensor names (expected gen.0.0.weight, main.0.weight or classifier.0.0.weight); pass {flag} coursera|dcgan|classifier"
    )]
    UnknownArch { path: String, flag: &'static str },
    #[error("unknown architecture '{name}' (from {source_of}); known: coursera, dcgan, classifier")]
    BadArchName { name: String, source_of: String },
    #[error("{path}: architecture '{arch}' is a {found}, but a {wanted} is needed here")]
    WrongRole { path: String, arch: &'static str, found: &'static str, wanted: &'static str },
    #[error("{path}: layer {layer}: input of {h}x{w} is too small for kernel {k} with padding {pad}")]
    TooSmall { path: String, layer: String, h: usize, w: usize, k: usize, pad: usize },
    #[error("{path}: layer {layer} expects {expected} input channels but receives {found}")]
    Channels { path: String, layer: String, expected: usize, found: usize },
    #[error("{path}: {detail}")]
    Structure { path: String, detail: String },
    #[error("the classifier {classifier} expects {expected} images but the generator {generator} makes {found}")]
    Mismatch { classifier: String, generator: String, expected: String, found: String },
}

/// A convolution layer of either kind: weight at `{name}.weight`, optional bias `(cout)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvLayer {
    pub name: String,
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub bias: bool,
}

/// One PyTorch layer, as found in a `nn.Sequential`.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// `nn.Conv2d`; weight `(cout, cin, k, k)`.
    Conv2d(ConvLayer),
    /// `nn.ConvTranspose2d`; weight `(cin, cout, k, k)`.
    ConvTranspose2d(ConvLayer),
    /// `nn.BatchNorm2d` in eval mode: `{name}.weight|bias|running_mean|running_var`.
    BatchNorm2d {
        name: String,
        channels: usize,
        eps: f32,
    },
    Relu,
    LeakyRelu(f32),
    Tanh,
}

/// Whether a stage is a correlation (Conv2d) or its adjoint (ConvTranspose2d).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvKind {
    Conv,
    Transpose,
}

/// One fused stage: `act(conv(x) + bias)`, BatchNorm already folded in.
#[derive(Debug, Clone)]
pub struct Stage {
    pub label: String,
    pub kind: ConvKind,
    pub cin: usize,
    pub cout: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    /// Input spatial size (h, w).
    pub hin: usize,
    pub win: usize,
    pub hout: usize,
    pub wout: usize,
    /// PyTorch layout: `(cout, cin, k, k)` for Conv, `(cin, cout, k, k)` for Transpose.
    /// Shared with every program built from this stage, never copied.
    pub weight: Arc<Vec<f32>>,
    pub bias: Option<Arc<Vec<f32>>>,
    pub act: Act,
}

impl Stage {
    pub fn in_len(&self) -> usize {
        self.cin * self.hin * self.win
    }
    pub fn out_len(&self) -> usize {
        self.cout * self.hout * self.wout
    }
    /// Multiply-adds of one forward pass for one image.
    pub fn macs(&self) -> u64 {
        let per = (self.k * self.k) as u64;
        match self.kind {
            ConvKind::Conv => self.out_len() as u64 * self.cin as u64 * per,
            ConvKind::Transpose => self.in_len() as u64 * self.cout as u64 * per,
        }
    }
}

/// A built network: its stages in order and its input/output shapes (channels, h, w).
#[derive(Debug, Clone)]
pub struct Network {
    pub arch: ArchKind,
    pub source: String,
    pub input: [usize; 3],
    pub output: [usize; 3],
    pub stages: Vec<Stage>,
    /// Feature names, for a classifier (one per output channel).
    pub features: Vec<String>,
}

impl Network {
    /// Builds the network of architecture `arch` from `file`, for inputs of shape `input`.
    pub fn build(arch: ArchKind, file: &TensorFile, input: [usize; 3]) -> Result<Network, ModelError> {
        let path = file.path.display().to_string();
        let layers = presets::layers(arch, file)?;
        let mut stages: Vec<Stage> = Vec::new();
        let [mut c, mut h, mut w] = input;
        for layer in &layers {
            match layer {
                Layer::Conv2d(ConvLayer { name, cin, cout, k, stride, pad, bias })
                | Layer::ConvTranspose2d(ConvLayer { name, cin, cout, k, stride, pad, bias }) => {
                    let transpose = matches!(layer, Layer::ConvTranspose2d(_));
                    if *cin != c {
                        return Err(ModelError::Channels { path, layer: name.clone(), expected: *cin, found: c });
                    }
                    let (hout, wout) = if transpose {
                        let out = |x: usize| ((x - 1) * stride + k).checked_sub(2 * pad).filter(|o| *o > 0);
                        match (out(h), out(w)) {
                            (Some(a), Some(b)) => (a, b),
                            _ => return Err(ModelError::TooSmall { path, layer: name.clone(), h, w, k: *k, pad: *pad }),
                        }
                    } else {
                        if h + 2 * pad < *k || w + 2 * pad < *k {
                            return Err(ModelError::TooSmall { path, layer: name.clone(), h, w, k: *k, pad: *pad });
                        }
                        ((h + 2 * pad - k) / stride + 1, (w + 2 * pad - k) / stride + 1)
                    };
                    let wshape = if transpose { [*cin, *cout, *k, *k] } else { [*cout, *cin, *k, *k] };
                    let weight = Arc::new(file.get(&format!("{name}.weight"), &wshape)?.data.clone());
                    let bias = if *bias { Some(Arc::new(file.get(&format!("{name}.bias"), &[*cout])?.data.clone())) } else { None };
                    stages.push(Stage {
                        label: name.clone(),
                        kind: if transpose { ConvKind::Transpose } else { ConvKind::Conv },
                        cin: *cin,
                        cout: *cout,
                        k: *k,
                        stride: *stride,
                        pad: *pad,
                        hin: h,
                        win: w,
                        hout,
                        wout,
                        weight,
                        bias,
                        act: Act::Identity,
                    });
                    (c, h, w) = (*cout, hout, wout);
                }
                Layer::BatchNorm2d { name, channels, eps } => {
                    let stage = open_stage(&mut stages, &path, name)?;
                    if *channels != stage.cout {
                        return Err(ModelError::Channels { path, layer: name.clone(), expected: *channels, found: stage.cout });
                    }
                    let get = |p: &str| file.get(&format!("{name}.{p}"), &[*channels]).map(|t| &t.data);
                    let (gamma, beta, mean, var) = (get("weight")?, get("bias")?, get("running_mean")?, get("running_var")?);
                    fold_batch_norm(stage, gamma, beta, mean, var, *eps);
                }
                Layer::Relu | Layer::LeakyRelu(_) | Layer::Tanh => {
                    let stage = open_stage(&mut stages, &path, "activation")?;
                    stage.act = match layer {
                        Layer::Relu => Act::Relu,
                        Layer::LeakyRelu(s) => Act::LeakyRelu(*s),
                        _ => Act::Tanh,
                    };
                }
            }
        }
        Ok(Network { arch, source: path, input, output: [c, h, w], stages, features: Vec::new() })
    }

    /// Multiply-adds of one forward pass for one image.
    pub fn macs(&self) -> u64 {
        self.stages.iter().map(Stage::macs).sum()
    }
}

/// The last stage, which must not have an activation yet (BatchNorm and activations follow a convolution).
fn open_stage<'a>(stages: &'a mut [Stage], path: &str, what: &str) -> Result<&'a mut Stage, ModelError> {
    match stages.last_mut() {
        Some(s) if s.act == Act::Identity => Ok(s),
        _ => Err(ModelError::Structure {
            path: path.to_string(),
            detail: format!("{what} must directly follow a convolution (BatchNorm before the activation)"),
        }),
    }
}

/// Folds `y = (x - mean) / sqrt(var + eps) * gamma + beta` into the stage's weight and bias.
fn fold_batch_norm(stage: &mut Stage, gamma: &[f32], beta: &[f32], mean: &[f32], var: &[f32], eps: f32) {
    let kk = stage.k * stage.k;
    let scale: Vec<f64> = (0..stage.cout).map(|o| gamma[o] as f64 / (var[o] as f64 + eps as f64).sqrt()).collect();
    let (cin, cout, kind) = (stage.cin, stage.cout, stage.kind);
    for (i, w) in Arc::make_mut(&mut stage.weight).iter_mut().enumerate() {
        let o = match kind {
            ConvKind::Conv => i / (cin * kk),
            ConvKind::Transpose => (i / kk) % cout,
        };
        *w = (*w as f64 * scale[o]) as f32;
    }
    let old = stage.bias.take().map_or_else(|| vec![0.0; cout], |b| b.to_vec());
    stage.bias = Some(Arc::new((0..cout).map(|o| ((old[o] as f64 - mean[o] as f64) * scale[o] + beta[o] as f64) as f32).collect()));
}
