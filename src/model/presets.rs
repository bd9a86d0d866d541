//! The architectures users have, as graphs whose tensors keep their PyTorch state-dict names.
//!
//! Channel counts are read from the weight shapes, so the same preset describes the
//! notebook's full-size model and a tiny test model; kernel sizes, strides and paddings are
//! fixed by the preset and checked against the file when the network is built.
//!
//! Owns: the architectures as graphs, arch recognition, feature names. Must not touch: passes, programs.

use std::sync::Arc;

use super::ModelError;
use crate::graph::{ConvAttrs, Graph, NodeOp, ValueId};
use crate::ops::act::Act;
use crate::weights::TensorFile;

/// Metadata key naming the architecture of a safetensors file.
pub const META_ARCH: &str = "gan_bias.arch";
/// Metadata key listing a classifier's feature names, comma-separated.
pub const META_FEATURES: &str = "gan_bias.features";

/// The 40 CelebA attributes, in the notebook classifier's output order.
pub const CELEBA_FEATURES: [&str; 40] = [
    "5oClockShadow",
    "ArchedEyebrows",
    "Attractive",
    "BagsUnderEyes",
    "Bald",
    "Bangs",
    "BigLips",
    "BigNose",
    "BlackHair",
    "BlondHair",
    "Blurry",
    "BrownHair",
    "BushyEyebrows",
    "Chubby",
    "DoubleChin",
    "Eyeglasses",
    "Goatee",
    "GrayHair",
    "HeavyMakeup",
    "HighCheekbones",
    "Male",
    "MouthSlightlyOpen",
    "Mustache",
    "NarrowEyes",
    "NoBeard",
    "OvalFace",
    "PaleSkin",
    "PointyNose",
    "RecedingHairline",
    "RosyCheeks",
    "Sideburn",
    "Smiling",
    "StraightHair",
    "WavyHair",
    "WearingEarrings",
    "WearingHat",
    "WearingLipstick",
    "WearingNecklace",
    "WearingNecktie",
    "Young",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Generator,
    Classifier,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Generator => "generator",
            Role::Classifier => "classifier",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchKind {
    /// The notebook's generator: `gen.{0..4}`.
    Coursera,
    /// The PyTorch DCGAN tutorial's generator: `main.{0..13}`.
    Dcgan,
    /// The notebook's classifier: `classifier.{0..3}`.
    Classifier,
}

impl ArchKind {
    pub fn name(self) -> &'static str {
        match self {
            ArchKind::Coursera => "coursera",
            ArchKind::Dcgan => "dcgan",
            ArchKind::Classifier => "classifier",
        }
    }

    pub fn role(self) -> Role {
        match self {
            ArchKind::Classifier => Role::Classifier,
            _ => Role::Generator,
        }
    }

    pub fn parse(name: &str, source_of: &str) -> Result<ArchKind, ModelError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "coursera" | "notebook" => Ok(ArchKind::Coursera),
            "dcgan" => Ok(ArchKind::Dcgan),
            "classifier" => Ok(ArchKind::Classifier),
            _ => Err(ModelError::BadArchName { name: name.to_string(), source_of: source_of.to_string() }),
        }
    }

    /// The architecture of `file`: `overridden` if given, else its `gan_bias.arch` metadata,
    /// else recognised from its tensor names. It must have the `role` asked for.
    pub fn resolve(file: &TensorFile, overridden: Option<ArchKind>, role: Role) -> Result<ArchKind, ModelError> {
        let path = file.path.display().to_string();
        let arch = match (overridden, file.metadata.get(META_ARCH)) {
            (Some(a), _) => a,
            (None, Some(name)) => ArchKind::parse(name, &format!("{META_ARCH} in {path}"))?,
            (None, None) if file.has("gen.0.0.weight") => ArchKind::Coursera,
            (None, None) if file.has("main.0.weight") => ArchKind::Dcgan,
            (None, None) if file.has("classifier.0.0.weight") => ArchKind::Classifier,
            (None, None) => {
                let flag = match role {
                    Role::Generator => "--generator-arch",
                    Role::Classifier => "--classifier-arch",
                };
                return Err(ModelError::UnknownArch { path, flag });
            }
        };
        if arch.role() != role {
            return Err(ModelError::WrongRole { path, arch: arch.name(), found: arch.role().name(), wanted: role.name() });
        }
        Ok(arch)
    }
}

/// The graph of `arch` for rows of shape `input`, with channel counts read from `file`'s
/// weight shapes and every tensor's shape checked against the preset.
pub fn graph(arch: ArchKind, file: &TensorFile, input: [usize; 3]) -> Result<Graph, ModelError> {
    let path = file.path.display().to_string();
    let graph_err = |source| ModelError::Graph { path: path.clone(), source };
    let mut g = Graph::default();
    let mut x = g.input(
        match arch.role() {
            Role::Generator => "noise",
            Role::Classifier => "images",
        },
        input.to_vec(),
    );
    // A convolution `{name}.weight` (Conv2d: (cout, cin, k, k); ConvTranspose2d: (cin, cout,
    // k, k)), with its bias `{name}.bias` when `bias`; returns (output, cout).
    let conv = |g: &mut Graph, x, name: &str, transpose: bool, attrs: ConvAttrs, bias: bool| -> Result<(ValueId, usize), ModelError> {
        let s = file.shape_with_rank(&format!("{name}.weight"), 4)?;
        let [k0, k1] = attrs.kernel;
        let shape = [s[0], s[1], k0, k1];
        let cout = if transpose { s[1] } else { s[0] };
        let w = g.constant(format!("{name}.weight"), shape.to_vec(), Arc::new(file.get(&format!("{name}.weight"), &shape)?.data.clone()));
        let mut inputs = vec![x, w];
        if bias {
            inputs.push(g.constant(format!("{name}.bias"), vec![cout], Arc::new(file.get(&format!("{name}.bias"), &[cout])?.data.clone())));
        }
        let op = if transpose { NodeOp::ConvTranspose(attrs) } else { NodeOp::Conv(attrs) };
        Ok((g.node(name, op, inputs).map_err(graph_err)?, cout))
    };
    // An eval-mode `nn.BatchNorm2d` of `channels` named `name`.
    let batch_norm = |g: &mut Graph, x, name: &str, channels: usize| -> Result<ValueId, ModelError> {
        let mut inputs = vec![x];
        for p in ["weight", "bias", "running_mean", "running_var"] {
            let t = format!("{name}.{p}");
            let data = Arc::new(file.get(&t, &[channels])?.data.clone());
            inputs.push(g.constant(t, vec![channels], data));
        }
        g.node(name, NodeOp::BatchNorm { eps: 1e-5 }, inputs).map_err(|source| ModelError::Graph { path: path.clone(), source })
    };
    let act = |g: &mut Graph, x, name: String, a: Act| {
        g.node(name, NodeOp::Act(a), vec![x]).map_err(|source| ModelError::Graph { path: path.clone(), source })
    };
    match arch {
        ArchKind::Coursera => {
            for i in 0..5 {
                let last = i == 4;
                let k = if last { 4 } else { 3 };
                let (y, cout) = conv(&mut g, x, &format!("gen.{i}.0"), true, ConvAttrs::square(k, 2, 0), true)?;
                x = if last {
                    act(&mut g, y, format!("gen.{i}.1"), Act::Tanh)?
                } else {
                    let y = batch_norm(&mut g, y, &format!("gen.{i}.1"), cout)?;
                    act(&mut g, y, format!("gen.{i}.2"), Act::Relu)?
                };
            }
        }
        ArchKind::Dcgan => {
            for (j, i) in [0, 3, 6, 9, 12].into_iter().enumerate() {
                let (stride, pad) = if j == 0 { (1, 0) } else { (2, 1) };
                let (y, cout) = conv(&mut g, x, &format!("main.{i}"), true, ConvAttrs::square(4, stride, pad), false)?;
                x = if i == 12 {
                    act(&mut g, y, format!("main.{}", i + 1), Act::Tanh)?
                } else {
                    let y = batch_norm(&mut g, y, &format!("main.{}", i + 1), cout)?;
                    act(&mut g, y, format!("main.{}", i + 2), Act::Relu)?
                };
            }
        }
        ArchKind::Classifier => {
            for (i, stride) in [2, 2, 3, 2].into_iter().enumerate() {
                let (y, cout) = conv(&mut g, x, &format!("classifier.{i}.0"), false, ConvAttrs::square(4, stride, 0), true)?;
                x = if i < 3 {
                    let y = batch_norm(&mut g, y, &format!("classifier.{i}.1"), cout)?;
                    act(&mut g, y, format!("classifier.{i}.2"), Act::LeakyRelu(0.2))?
                } else {
                    y
                };
            }
        }
    }
    g.outputs.push(x);
    Ok(g)
}

/// The generator's noise size: the input channels of its first layer.
pub fn z_dim(arch: ArchKind, file: &TensorFile) -> Result<usize, ModelError> {
    let name = match arch {
        ArchKind::Coursera => "gen.0.0.weight",
        ArchKind::Dcgan => "main.0.weight",
        ArchKind::Classifier => "classifier.0.0.weight",
    };
    Ok(file.shape_with_rank(name, 4)?[match arch {
        ArchKind::Classifier => 1,
        _ => 0,
    }])
}

/// The `count` names of a comma-separated metadata list, or how many (non-empty) it holds.
pub fn comma_names(list: &str, count: usize) -> Result<Vec<String>, usize> {
    let names: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
    if names.len() != count || names.iter().any(String::is_empty) {
        return Err(names.len());
    }
    Ok(names)
}

/// CelebA's 40 names, for a classifier of 40 outputs.
pub fn celeba_names(count: usize) -> Option<Vec<String>> {
    (count == CELEBA_FEATURES.len()).then(|| CELEBA_FEATURES.iter().map(|s| s.to_string()).collect())
}

/// Feature names: metadata `gan_bias.features`, else the CelebA names for 40 outputs, else `f0..`.
pub fn feature_names(file: &TensorFile, count: usize) -> Result<Vec<String>, ModelError> {
    if let Some(list) = file.metadata.get(META_FEATURES) {
        return comma_names(list, count).map_err(|found| ModelError::Structure {
            path: file.path.display().to_string(),
            detail: format!("metadata {META_FEATURES} lists {found} names but the classifier has {count} outputs"),
        });
    }
    if let Some(names) = celeba_names(count) {
        return Ok(names);
    }
    Ok((0..count).map(|i| format!("f{i}")).collect())
}
