//! Networks, starting noise and planted worlds from files: the one place a generator or a
//! classifier is built from a path (or the bundled `weights/` default), with an optional
//! architecture override and the check that the classifier takes the generator's images.
//!
//! Owns: which weight file is meant, which state dict of a `.pth` is read, the input shape a
//! network is built for. Must not touch: how tensors are decoded ([`crate::weights`]), what a
//! preset's layers are ([`crate::model`]), or anything that runs a network.

use std::path::{Path, PathBuf};

use crate::graph::Graph;
use crate::import::{RawDtype, RawTensor};
use crate::model::presets::{self, ArchKind, Role};
use crate::model::{ModelError, Network};
use crate::onnx::{self, OnnxError, OnnxModel};
use crate::passes;
use crate::planted::{PlantedError, PlantedWorld};
use crate::program::lower::LowerError;
use crate::weights::{TensorFile, WeightsError, decode, float_tensors};

/// Entries of a `.pth` holding several state dicts that hold the generator / the classifier.
pub const GENERATOR_KEYS: [&str; 4] = ["gen", "netG_state_dict", "generator", "netG"];
pub const CLASSIFIER_KEYS: [&str; 2] = ["classifier", "model"];

/// The bundled synthetic world's record of its planted correlations.
pub const BUNDLED_WORLD: &str = "demo-world.json";

/// The side of the square images a classifier is built for when no generator says otherwise.
pub const IMAGE_SIDE: usize = 64;

/// Why a network, a noise file or a planted world could not be loaded. Every message names
/// the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("no {role} weights given and none are bundled: pass --{role} PATH (a .safetensors or PyTorch .pth file; see README)")]
    NotBundled { role: &'static str },
    #[error(transparent)]
    Weights(#[from] WeightsError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("{path}: the classifier outputs {h}x{w} maps for {IMAGE_SIDE}x{IMAGE_SIDE} images, expected 1x1 logits")]
    NotLogits { path: String, h: usize, w: usize },
    #[error("{path}: missing tensor noise")]
    NoNoise { path: String },
    #[error("{path}: tensor noise has dtype {dtype}, expected a float (F32, F64, F16 or BF16)")]
    NoiseDtype { path: String, dtype: String },
    #[error("{path}: tensor noise has shape {shape:?}, expected (n, {z_dim}) with n >= 1")]
    NoiseShape { path: String, shape: Vec<usize>, z_dim: usize },
    #[error("{path}: tensor noise holds a non-finite value ({value}) at row {row}, column {column}")]
    NoiseValue { path: String, row: usize, column: usize, value: f32 },
    #[error("{path}: cannot write its tensors as safetensors: {detail}")]
    Serialise { path: String, detail: String },
    #[error(transparent)]
    Planted(#[from] PlantedError),
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    #[error("{path}")]
    Lower { path: String, source: LowerError },
    #[error("{path}: {flag} applies to .pth and .safetensors files; an ONNX model carries its own architecture")]
    ArchForOnnx { path: String, flag: &'static str },
    #[error("{path}: {detail}")]
    FeatureNames { path: String, detail: String },
    #[error("{path}: {detail}")]
    ForwardInput { path: String, detail: String },
    #[error("cannot read {path} to identify it")]
    Identify {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// The sha256 of the file at `path`, lower-case hex: how a matrix's parts name their models.
pub fn file_sha256(path: &str) -> Result<String, LoadError> {
    use sha2::Digest;
    let mut file = std::fs::File::open(path).map_err(|source| LoadError::Identify { path: path.into(), source })?;
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(|source| LoadError::Identify { path: path.into(), source })?;
    Ok(hasher.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// The project's folder, holding `weights/` (and, in a checkout, `tests/fixtures/` and `shaders/`):
/// `$GAN_BIAS_ROOT` when set and not empty, for a binary run away from the checkout it was
/// built in (tools/gpu_check.sh), else that checkout.
pub fn project_root() -> PathBuf {
    match std::env::var_os("GAN_BIAS_ROOT").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    }
}

/// A file of the bundled `weights/` folder of [`project_root`], when the project ships it.
pub fn bundled(name: &str) -> Option<PathBuf> {
    let p = project_root().join("weights").join(name);
    p.exists().then_some(p)
}

/// The weight file of `role`: `given`, else the bundled demo weights.
pub fn weights_path(given: Option<&Path>, role: Role) -> Result<PathBuf, LoadError> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let file = match role {
        Role::Generator => "demo_generator.safetensors",
        Role::Classifier => "demo_classifier.safetensors",
    };
    bundled(file).ok_or(LoadError::NotBundled { role: role.name() })
}

/// The generator at `path` (default: the bundled one), its architecture from `arch`, else
/// from the file's metadata or tensor names; built for `(z_dim, 1, 1)` noise.
pub fn generator(path: Option<&Path>, arch: Option<ArchKind>) -> Result<Network, LoadError> {
    let path = weights_path(path, Role::Generator)?;
    if is_onnx(&path) {
        refuse_arch(&path, arch, "--generator-arch")?;
        return Ok(onnx_network(&path, Role::Generator)?.0);
    }
    let file = TensorFile::load_preferring(&path, &GENERATOR_KEYS)?;
    let arch = ArchKind::resolve(&file, arch, Role::Generator)?;
    let z = presets::z_dim(arch, &file)?;
    Ok(Network::build(arch, &file, [z, 1, 1])?)
}

/// Whether `path` names an ONNX model (by its extension).
pub fn is_onnx(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
}

/// An ONNX model names its own architecture: an override is refused.
fn refuse_arch(path: &Path, arch: Option<ArchKind>, flag: &'static str) -> Result<(), LoadError> {
    match arch {
        Some(_) => Err(LoadError::ArchForOnnx { path: path.display().to_string(), flag }),
        None => Ok(()),
    }
}

/// The network of the ONNX model at `path` in `role`, checked to run on the backends, and the
/// model as read.
pub fn onnx_network(path: &Path, role: Role) -> Result<(Network, OnnxModel), LoadError> {
    let model = onnx::read(path)?;
    let net = Network::from_graph(model.graph.clone(), &path.display().to_string(), role)?;
    crate::program::lower::lowerable(&net.graph).map_err(|source| LoadError::Lower { path: path.display().to_string(), source })?;
    Ok((net, model))
}

/// The graph of any model file, as the backends run it (after the passes), whatever its role:
/// an ONNX model, or a checkpoint of a preset (`arch`, else recognised from the file).
pub fn model_graph(path: &Path, arch: Option<ArchKind>) -> Result<Graph, LoadError> {
    let graph = if is_onnx(path) {
        refuse_arch(path, arch, "--arch")?;
        passes::optimise(onnx::read(path)?.graph)
    } else {
        let file = TensorFile::load_preferring(path, &GENERATOR_KEYS)?;
        let arch = match arch {
            Some(a) => a,
            None => ArchKind::resolve(&file, None, Role::Generator).or_else(|_| ArchKind::resolve(&file, None, Role::Classifier))?,
        };
        network(&file, arch)?.graph
    };
    crate::program::lower::lowerable(&graph).map_err(|source| LoadError::Lower { path: path.display().to_string(), source })?;
    Ok(graph)
}

/// The rows of a `forward` input file for `graph`: its one tensor (named like the graph's
/// input, or the file's only tensor), of shape `(batch, ...)` with the input's row shape,
/// widened or narrowed to f32. Returns (rows, values).
pub fn forward_input(path: &Path, graph: &Graph) -> Result<(usize, Vec<f32>), LoadError> {
    let p = path.display().to_string();
    let bad = |detail: String| LoadError::ForwardInput { path: p.clone(), detail };
    let bytes = std::fs::read(path).map_err(|source| WeightsError::Io { path: path.to_path_buf(), source })?;
    let st = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(format!("not a safetensors file ({e})")))?;
    let input = graph.value(graph.inputs[0]);
    let names = st.names();
    let name = if names.len() == 1 {
        names[0].to_string()
    } else if names.iter().any(|n| *n == input.name) {
        input.name.clone()
    } else {
        return Err(bad(format!("holds {} tensors and none is named {}, the model's input", names.len(), input.name)));
    };
    let view = st.tensor(&name).map_err(|e| bad(e.to_string()))?;
    let Some(dtype) = RawDtype::from_safetensors(view.dtype()).filter(|d| d.is_float()) else {
        return Err(bad(format!("tensor {name} has dtype {:?}, expected a float", view.dtype())));
    };
    let shape = view.shape();
    if shape.len() != input.shape.len() + 1 || shape[1..] != input.shape[..] || shape[0] == 0 {
        let want: Vec<String> = input.shape.iter().map(|d| d.to_string()).collect();
        return Err(bad(format!("tensor {name} has shape {shape:?}, expected (batch, {}) with batch >= 1", want.join(", "))));
    }
    let data = decode(dtype, view.data()).expect("a float dtype decodes");
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!("tensor {name} holds a non-finite value ({}) at element {i}", data[i])));
    }
    Ok((shape[0], data))
}

/// Feature names from `file` (`--feature-names`): one per line, blank lines skipped, as many
/// as the classifier has outputs.
pub fn feature_names_file(file: &Path, count: usize) -> Result<Vec<String>, LoadError> {
    let p = file.display().to_string();
    let text = std::fs::read_to_string(file).map_err(|source| WeightsError::Io { path: file.to_path_buf(), source })?;
    let names: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    if names.len() != count {
        return Err(LoadError::FeatureNames {
            path: p,
            detail: format!("lists {} names but the classifier has {count} outputs", names.len()),
        });
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
        return Err(LoadError::FeatureNames { path: p, detail: format!("lists {dup} twice") });
    }
    Ok(names)
}

/// The names of an ONNX classifier's `count` outputs: `names` (a `--feature-names` file), else
/// the model's metadata property `feature_names` (comma-separated), else CelebA's 40.
fn onnx_feature_names(model: &OnnxModel, count: usize, names: Option<&Path>) -> Result<Vec<String>, LoadError> {
    if let Some(f) = names {
        return feature_names_file(f, count);
    }
    let path = model.path.display().to_string();
    if let Some(list) = model.property("feature_names") {
        return presets::comma_names(list, count).map_err(|found| LoadError::FeatureNames {
            path,
            detail: format!("metadata feature_names lists {found} names but the classifier has {count} outputs"),
        });
    }
    if let Some(names) = presets::celeba_names(count) {
        return Ok(names);
    }
    Err(LoadError::FeatureNames {
        path,
        detail: format!("has {count} outputs and no metadata property feature_names; name them with --feature-names FILE (one per line)"),
    })
}

/// The classifier at `path` (default: the bundled one), built for the generator's images
/// when there is a generator (refusing one that takes other images), else for 64x64 images
/// of its input channels; its outputs must be 1x1 logits, named by `names` (a
/// `--feature-names` file), else by the file, else CelebA's 40.
pub fn classifier(
    path: Option<&Path>,
    arch: Option<ArchKind>,
    generator: Option<&Network>,
    names: Option<&Path>,
) -> Result<Network, LoadError> {
    let path = weights_path(path, Role::Classifier)?;
    if is_onnx(&path) {
        refuse_arch(&path, arch, "--classifier-arch")?;
        let (mut net, model) = onnx_network(&path, Role::Classifier)?;
        if let Some(g) = generator
            && g.output != net.input
        {
            let fmt = |s: [usize; 3]| format!("{}x{}x{}", s[0], s[1], s[2]);
            return Err(ModelError::Mismatch {
                classifier: path.display().to_string(),
                generator: g.source.clone(),
                expected: fmt(net.input),
                found: fmt(g.output),
            }
            .into());
        }
        net.features = onnx_feature_names(&model, net.output[0], names)?;
        return Ok(net);
    }
    let file = TensorFile::load_preferring(&path, &CLASSIFIER_KEYS)?;
    let arch = ArchKind::resolve(&file, arch, Role::Classifier)?;
    let cin = presets::z_dim(arch, &file)?;
    let expected = [cin, IMAGE_SIDE, IMAGE_SIDE];
    if let Some(g) = generator
        && g.output != expected
    {
        let fmt = |s: [usize; 3]| format!("{}x{}x{}", s[0], s[1], s[2]);
        return Err(ModelError::Mismatch {
            classifier: path.display().to_string(),
            generator: g.source.clone(),
            expected: fmt(expected),
            found: fmt(g.output),
        }
        .into());
    }
    let mut net = Network::build(arch, &file, expected)?;
    if net.output[1] * net.output[2] != 1 {
        return Err(LoadError::NotLogits { path: path.display().to_string(), h: net.output[1], w: net.output[2] });
    }
    net.features = match names {
        Some(f) => feature_names_file(f, net.output[0])?,
        None => presets::feature_names(&file, net.output[0])?,
    };
    Ok(net)
}

/// The network `file` holds as `arch`, built for its role's default input (noise for a
/// generator, 64x64 images for a classifier, whose feature names are then read too). Used to
/// recognise or check a checkpoint without running it.
pub fn network(file: &TensorFile, arch: ArchKind) -> Result<Network, LoadError> {
    let first = presets::z_dim(arch, file)?;
    if arch.role() == Role::Classifier {
        let mut net = Network::build(arch, file, [first, IMAGE_SIDE, IMAGE_SIDE])?;
        net.features = presets::feature_names(file, net.output[0])?;
        Ok(net)
    } else {
        Ok(Network::build(arch, file, [first, 1, 1])?)
    }
}

/// Starting noise: the tensor `noise` of shape `(n, z_dim)`, n >= 1, f32 (or f64, f16, bf16,
/// widened or narrowed to f32) from a safetensors file, where every other tensor is ignored
/// whatever its dtype; or from a `.pth` through the weights reader.
pub fn noise(path: &Path, z_dim: usize) -> Result<Vec<f32>, LoadError> {
    let name = || path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| WeightsError::Io { path: path.to_path_buf(), source })?;
    // A safetensors file: only the tensor `noise` is read, whatever else the file holds
    // (numpy and torch users often save the noise beside f64 or int64 arrays).
    let (shape, data) = match safetensors::SafeTensors::deserialize(&bytes) {
        Ok(st) => {
            let view = st.tensor("noise").map_err(|_| LoadError::NoNoise { path: name() })?;
            let Some(dtype) = RawDtype::from_safetensors(view.dtype()).filter(|d| d.is_float()) else {
                return Err(LoadError::NoiseDtype { path: name(), dtype: format!("{:?}", view.dtype()) });
            };
            let data = decode(dtype, view.data()).expect("a float dtype decodes");
            (view.shape().to_vec(), data)
        }
        // Anything else (a .pth): through the weights reader, as before.
        Err(_) => {
            let file = TensorFile::load(path)?;
            let t = file.tensors.get("noise").ok_or_else(|| LoadError::NoNoise { path: name() })?;
            (t.shape.clone(), t.data.clone())
        }
    };
    if shape.len() != 2 || shape[1] != z_dim || shape[0] == 0 {
        return Err(LoadError::NoiseShape { path: name(), shape, z_dim });
    }
    if let Some((index, &value)) = data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(LoadError::NoiseValue { path: name(), row: index / z_dim, column: index % z_dim, value });
    }
    Ok(data)
}

/// A checkpoint's tensors (`raw`, read from `path`) as a safetensors file, every tensor byte
/// for byte, with the architecture (`arch`, or recognised from the tensor names by building
/// the network) and a classifier's feature names in its metadata. Returns the architecture
/// and the file's bytes.
pub fn to_safetensors(path: &Path, raw: &[RawTensor], arch: Option<ArchKind>) -> Result<(ArchKind, Vec<u8>), LoadError> {
    let file = TensorFile::from_tensors(path, float_tensors(raw), Default::default())?;
    let arch = match arch {
        Some(a) => a,
        None => ArchKind::resolve(&file, None, Role::Generator).or_else(|_| ArchKind::resolve(&file, None, Role::Classifier))?,
    };
    let net = network(&file, arch)?;
    let mut metadata = std::collections::HashMap::from([(presets::META_ARCH.to_string(), arch.name().to_string())]);
    if arch.role() == Role::Classifier {
        metadata.insert(presets::META_FEATURES.to_string(), net.features.join(","));
    }
    let serialise = |detail: String| LoadError::Serialise { path: path.display().to_string(), detail };
    let views = raw
        .iter()
        .map(|t| {
            let view = safetensors::tensor::TensorView::new(t.dtype.to_safetensors(), t.shape.clone(), &t.data)
                .map_err(|e| serialise(format!("tensor {}: {e}", t.name)))?;
            Ok((t.name.clone(), view))
        })
        .collect::<Result<Vec<_>, LoadError>>()?;
    let bytes = safetensors::serialize(views, Some(metadata)).map_err(|e| serialise(e.to_string()))?;
    Ok((arch, bytes))
}

/// The planted world to grade a probe against, checked against the classifier's feature
/// `names`: `given`, else the bundled one when `bundled_models` (both models are the bundled
/// ones) and the project ships it; `None` otherwise. Returns how to name the world in a
/// report beside it.
pub fn planted_world(given: Option<&Path>, bundled_models: bool, names: &[String]) -> Result<Option<(String, PlantedWorld)>, LoadError> {
    let (path, shown) = match given {
        Some(p) => (p.to_path_buf(), p.display().to_string()),
        None if bundled_models => match bundled(BUNDLED_WORLD) {
            Some(p) => (p, format!("weights/{BUNDLED_WORLD} (bundled)")),
            None => return Ok(None),
        },
        None => return Ok(None),
    };
    let world = PlantedWorld::load(&path)?;
    world.check_features(names, &path)?;
    Ok(Some((shown, world)))
}

#[cfg(test)]
mod tests {
    use std::error::Error;

    use super::*;

    fn tiny(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    #[test]
    fn a_missing_file_is_named_once_and_its_reason_is_the_source() {
        let path = Path::new("/nonexistent/gen.safetensors");
        let e = generator(Some(path), None).unwrap_err();
        assert_eq!(e.to_string(), "cannot read /nonexistent/gen.safetensors");
        let cause = e.source().expect("the reading error as the source");
        assert!(cause.downcast_ref::<std::io::Error>().is_some(), "{cause:?}");
        assert!(cause.source().is_none());
    }

    #[test]
    fn the_classifier_must_take_the_generator_images() {
        let g = generator(Some(&tiny("tiny_coursera_gen.safetensors")), None).unwrap();
        let c = classifier(Some(&tiny("tiny_classifier.safetensors")), None, Some(&g), None).unwrap();
        assert_eq!(c.input, g.output);
        assert_eq!(c.features.len(), 40);
        // Built without a generator, the same classifier takes 64x64 images of its channels.
        assert_eq!(classifier(Some(&tiny("tiny_classifier.safetensors")), None, None, None).unwrap().input, [3, 64, 64]);
        // A generator in the classifier's place is refused by role.
        let e = classifier(Some(&tiny("tiny_coursera_gen.safetensors")), None, None, None).unwrap_err().to_string();
        assert!(e.contains("generator") && e.contains("classifier"), "{e}");
    }

    #[test]
    fn feature_names_files_name_every_output_once() {
        let dir = std::env::temp_dir().join(format!("gan_bias_names_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("names.txt");
        std::fs::write(&file, "Smiling\n\n  Young  \nMale\n").unwrap();
        assert_eq!(feature_names_file(&file, 3).unwrap(), ["Smiling", "Young", "Male"]);
        let e = feature_names_file(&file, 4).unwrap_err().to_string();
        assert!(e.contains("lists 3 names but the classifier has 4 outputs"), "{e}");
        std::fs::write(&file, "A\nB\nA\n").unwrap();
        assert!(feature_names_file(&file, 3).unwrap_err().to_string().contains("lists A twice"));
        // The file's names replace the checkpoint's own.
        std::fs::write(&file, (0..40).map(|i| format!("attr{i}\n")).collect::<String>()).unwrap();
        let c = classifier(Some(&tiny("tiny_classifier.safetensors")), None, None, Some(&file)).unwrap();
        assert_eq!((c.features[0].as_str(), c.features[39].as_str()), ("attr0", "attr39"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn network_builds_either_role_for_its_default_input() {
        let file = TensorFile::load(&tiny("tiny_classifier.safetensors")).unwrap();
        let net = network(&file, ArchKind::Classifier).unwrap();
        assert_eq!((net.input, net.features.len()), ([3, 64, 64], 40));
        let file = TensorFile::load(&tiny("tiny_dcgan_gen.safetensors")).unwrap();
        let net = network(&file, ArchKind::Dcgan).unwrap();
        assert_eq!(net.input[1..], [1, 1]);
    }
}
