//! Stage 1 of the pipeline: weight files on disk -> named f32 tensors in memory.
//!
//! A [`TensorFile`] holds every floating-point tensor of one checkpoint, converted to f32,
//! under its PyTorch state-dict name, plus the file's string metadata. Integer tensors
//! (BatchNorm's `num_batches_tracked`) are accepted and dropped. Non-finite values are
//! refused here, naming the tensor, so nothing downstream ever sees a NaN weight.
//!
//! Owns: reading safetensors and (through [`crate::import`]) PyTorch files. Must not touch:
//! architectures, programs, backends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use safetensors::{Dtype, SafeTensors};

use crate::import::{RawDtype, RawTensor};

/// Little-endian float bytes of `dtype` as f32; `None` for integer and boolean dtypes.
pub fn decode(dtype: RawDtype, bytes: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        RawDtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        RawDtype::F64 => {
            bytes.chunks_exact(8).map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32).collect()
        }
        RawDtype::F16 => bytes.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        RawDtype::BF16 => bytes.chunks_exact(2).map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        _ => return None,
    })
}

/// The floating-point tensors of a checkpoint as f32, by name; integer ones (BatchNorm's
/// `num_batches_tracked`) are left out.
pub fn float_tensors(raw: &[RawTensor]) -> BTreeMap<String, Tensor> {
    raw.iter().filter_map(|t| Some((t.name.clone(), Tensor::new(t.shape.clone(), decode(t.dtype, &t.data)?)))).collect()
}

/// Why a weight file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a safetensors file: {detail}")]
    NotSafetensors { path: PathBuf, detail: String },
    #[error("{path}: tensor {name} has dtype {dtype}, expected F32, F16 or BF16")]
    UnsupportedDtype { path: PathBuf, name: String, dtype: String },
    #[error("{path}: tensor {name} holds a non-finite value ({value}) at flat index {index}")]
    NonFinite { path: PathBuf, name: String, index: usize, value: f32 },
    #[error("{path}: missing tensor {name}")]
    Missing { path: PathBuf, name: String },
    #[error("{path}: tensor {name} has shape {found:?}, expected {expected:?}")]
    Shape { path: PathBuf, name: String, expected: Vec<usize>, found: Vec<usize> },
    #[error("{path}: tensor {name} has {found} dimensions {shape:?}, expected {expected}")]
    Rank { path: PathBuf, name: String, expected: usize, found: usize, shape: Vec<usize> },
    #[error("{path}: {detail}")]
    Import { path: PathBuf, detail: String },
}

/// One tensor, row-major f32.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor { shape, data }
    }
}

/// All float tensors of a checkpoint, by name, with the file's metadata.
#[derive(Debug, Clone)]
pub struct TensorFile {
    pub path: PathBuf,
    pub tensors: BTreeMap<String, Tensor>,
    pub metadata: BTreeMap<String, String>,
}

impl TensorFile {
    /// Reads a `.safetensors` file, or a PyTorch `.pth`/`.pt` checkpoint through the safe importer.
    pub fn load(path: &Path) -> Result<Self, WeightsError> {
        Self::load_preferring(path, &[])
    }

    /// As [`TensorFile::load`]; when a `.pth` checkpoint holds several state dicts (the
    /// notebook saves `{"gen": ..., "disc": ...}`), the first of `keys` it has is taken.
    pub fn load_preferring(path: &Path, keys: &[&str]) -> Result<Self, WeightsError> {
        let bytes = std::fs::read(path).map_err(|source| WeightsError::Io { path: path.to_path_buf(), source })?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        let pth = matches!(ext.as_str(), "pth" | "pt" | "ckpt") || bytes.starts_with(b"PK\x03\x04");
        match Self::from_safetensors_bytes(path, &bytes) {
            Err(_) if pth || bytes.first() == Some(&0x80) => Self::from_pth_bytes(path, &bytes, keys),
            other => other,
        }
    }

    /// Reads a PyTorch checkpoint through the safe importer (nothing in the file is executed).
    pub fn from_pth_bytes(path: &Path, bytes: &[u8], keys: &[&str]) -> Result<Self, WeightsError> {
        use crate::import::{ImportError, read_pth_bytes};
        let raw = match read_pth_bytes(bytes, None) {
            Err(ImportError::AmbiguousStateDict { keys: found }) => {
                keys.iter().find_map(|k| read_pth_bytes(bytes, Some(k)).ok()).ok_or(ImportError::AmbiguousStateDict { keys: found })
            }
            other => other,
        }
        .map_err(|e| WeightsError::Import { path: path.to_path_buf(), detail: e.to_string() })?;
        let tensors = float_tensors(&raw);
        Self::from_tensors(path, tensors, BTreeMap::new())
    }

    /// Parses safetensors bytes; `path` is only used in messages.
    pub fn from_safetensors_bytes(path: &Path, bytes: &[u8]) -> Result<Self, WeightsError> {
        let not_st = |detail: String| WeightsError::NotSafetensors { path: path.to_path_buf(), detail };
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| not_st(e.to_string()))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| not_st(e.to_string()))?;
        let metadata: BTreeMap<String, String> = meta.metadata().clone().unwrap_or_default().into_iter().collect();
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            let dtype = match view.dtype() {
                Dtype::F32 => RawDtype::F32,
                Dtype::F16 => RawDtype::F16,
                Dtype::BF16 => RawDtype::BF16,
                // BatchNorm's step counter and other integer bookkeeping: not a weight.
                Dtype::I64 | Dtype::I32 | Dtype::U8 | Dtype::BOOL => continue,
                other => {
                    return Err(WeightsError::UnsupportedDtype { path: path.to_path_buf(), name, dtype: format!("{other:?}") });
                }
            };
            let Some(data) = decode(dtype, view.data()) else { continue };
            tensors.insert(name, Tensor::new(view.shape().to_vec(), data));
        }
        let file = TensorFile { path: path.to_path_buf(), tensors, metadata };
        file.check_finite()?;
        Ok(file)
    }

    /// Builds a file from tensors already in memory (used by the `.pth` importer and tests).
    pub fn from_tensors(path: &Path, tensors: BTreeMap<String, Tensor>, metadata: BTreeMap<String, String>) -> Result<Self, WeightsError> {
        let file = TensorFile { path: path.to_path_buf(), tensors, metadata };
        file.check_finite()?;
        Ok(file)
    }

    fn check_finite(&self) -> Result<(), WeightsError> {
        for (name, t) in &self.tensors {
            if let Some((index, &value)) = t.data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(WeightsError::NonFinite { path: self.path.clone(), name: name.clone(), index, value });
            }
        }
        Ok(())
    }

    pub fn has(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    pub fn shape_of(&self, name: &str) -> Option<&[usize]> {
        self.tensors.get(name).map(|t| t.shape.as_slice())
    }

    /// The tensor `name`, which must have exactly `shape`.
    pub fn get(&self, name: &str, shape: &[usize]) -> Result<&Tensor, WeightsError> {
        let t = self.tensors.get(name).ok_or_else(|| WeightsError::Missing { path: self.path.clone(), name: name.to_string() })?;
        if t.shape != shape {
            return Err(WeightsError::Shape {
                path: self.path.clone(),
                name: name.to_string(),
                expected: shape.to_vec(),
                found: t.shape.clone(),
            });
        }
        Ok(t)
    }

    /// The shape of `name`, which must exist and have `rank` dimensions.
    pub fn shape_with_rank(&self, name: &str, rank: usize) -> Result<&[usize], WeightsError> {
        let t = self.tensors.get(name).ok_or_else(|| WeightsError::Missing { path: self.path.clone(), name: name.to_string() })?;
        if t.shape.len() != rank {
            return Err(WeightsError::Rank {
                path: self.path.clone(),
                name: name.to_string(),
                expected: rank,
                found: t.shape.len(),
                shape: t.shape.clone(),
            });
        }
        Ok(&t.shape)
    }
}
