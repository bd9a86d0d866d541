//! Initializers and constant tensors: a `TensorProto` to f32 values (or i64, for the shape
//! arithmetic exporters write), from its inline fields or its external data file.
//!
//! External data is read only from a regular file inside the model's own folder: a location
//! that is absolute, climbs out with `..`, or resolves (through a symlink) outside the folder
//! is refused before anything is opened, and the declared offset and length must lie within
//! the file and match the tensor's size.
//!
//! Owns: tensor decoding, external data. Must not touch: graphs, ops.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use half::{bf16, f16};
use rten_onnx::onnx::{DataLocation, DataType, TensorProto};

use super::OnnxError;

/// A decoded tensor: its shape, and its values as f32 (floats) or i64 (integers).
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    Float(Vec<f32>),
    Int(Vec<i64>),
}

#[derive(Debug, Clone)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub values: Values,
}

impl Tensor {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as f32 (integers converted).
    pub fn floats(&self) -> Vec<f32> {
        match &self.values {
            Values::Float(v) => v.clone(),
            Values::Int(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// The values as i64, for integer tensors.
    pub fn ints(&self) -> Option<&[i64]> {
        match &self.values {
            Values::Int(v) => Some(v),
            Values::Float(_) => None,
        }
    }
}

/// Bytes of one element of `dtype`, for the types read here.
fn element_size(dtype: DataType) -> Option<usize> {
    Some(match dtype {
        DataType::FLOAT | DataType::INT32 => 4,
        DataType::DOUBLE | DataType::INT64 => 8,
        DataType::FLOAT16 | DataType::BFLOAT16 => 2,
        DataType::BOOL | DataType::UINT8 | DataType::INT8 => 1,
        _ => return None,
    })
}

/// The tensor `t` of the model at `model` (its external data resolved against the model's folder).
pub fn decode(t: &TensorProto, model: &Path) -> Result<Tensor, OnnxError> {
    let name = t.name.clone().unwrap_or_default();
    let bad = |detail: String| OnnxError::Tensor { path: model.display().to_string(), tensor: name.clone(), detail };
    let dtype = t.data_type.unwrap_or(DataType::FLOAT);
    let size = element_size(dtype).ok_or_else(|| {
        bad(format!("has data type {dtype}, which is not read (float, double, float16, bfloat16, int64, int32, int8, uint8, bool are)"))
    })?;
    let mut shape = Vec::with_capacity(t.dims.len());
    for &d in &t.dims {
        shape.push(usize::try_from(d).map_err(|_| bad(format!("has a negative dimension {d}")))?);
    }
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or_else(|| bad(format!("dimensions {shape:?} overflow")))?;
    let bytes = count.checked_mul(size).ok_or_else(|| bad(format!("dimensions {shape:?} overflow")))?;
    let raw: Option<Vec<u8>> = if t.data_location == Some(DataLocation::EXTERNAL) {
        Some(external(t, model, bytes).map_err(bad)?)
    } else {
        t.raw_data.as_ref().map(|r| r.borrow().clone())
    };
    let values = match raw {
        Some(raw) => {
            if raw.len() != bytes {
                return Err(bad(format!("declares {count} elements ({bytes} bytes) but holds {} bytes", raw.len())));
            }
            from_raw(&raw, dtype)
        }
        None => {
            let v = match dtype {
                DataType::FLOAT => Values::Float(t.float_data.clone()),
                DataType::DOUBLE => Values::Float(t.double_data.iter().map(|&x| x as f32).collect()),
                DataType::INT64 => Values::Int(t.int64_data.clone()),
                DataType::INT32 | DataType::INT8 | DataType::UINT8 | DataType::BOOL => {
                    Values::Int(t.int32_data.iter().map(|&x| x as i64).collect())
                }
                // float16 and bfloat16 travel as their bits in int32_data.
                DataType::FLOAT16 => Values::Float(t.int32_data.iter().map(|&x| f16::from_bits(x as u16).to_f32()).collect()),
                _ => Values::Float(t.int32_data.iter().map(|&x| bf16::from_bits(x as u16).to_f32()).collect()),
            };
            let held = match &v {
                Values::Float(f) => f.len(),
                Values::Int(i) => i.len(),
            };
            if held != count {
                return Err(bad(format!("declares {count} elements but holds {held}")));
            }
            v
        }
    };
    if let Values::Float(v) = &values
        && let Some(i) = v.iter().position(|x| !x.is_finite())
    {
        return Err(bad(format!("holds a non-finite value ({}) at element {i}", v[i])));
    }
    Ok(Tensor { shape, values })
}

fn from_raw(raw: &[u8], dtype: DataType) -> Values {
    let chunks = |n: usize| raw.chunks_exact(n);
    match dtype {
        DataType::FLOAT => Values::Float(chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()),
        DataType::DOUBLE => Values::Float(chunks(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32).collect()),
        DataType::FLOAT16 => Values::Float(chunks(2).map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32()).collect()),
        DataType::BFLOAT16 => Values::Float(chunks(2).map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32()).collect()),
        DataType::INT64 => Values::Int(chunks(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes"))).collect()),
        DataType::INT32 => Values::Int(chunks(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64).collect()),
        DataType::INT8 => Values::Int(raw.iter().map(|&b| b as i8 as i64).collect()),
        _ => Values::Int(raw.iter().map(|&b| b as i64).collect()),
    }
}

/// The `bytes` bytes of `t`'s external data, from a file inside the model's folder.
fn external(t: &TensorProto, model: &Path, bytes: usize) -> Result<Vec<u8>, String> {
    let entry = |key: &str| t.external_data.iter().find(|e| e.key.as_deref() == Some(key)).and_then(|e| e.value.clone());
    let location = entry("location").ok_or("is stored externally but names no location")?;
    let number = |key: &str| -> Result<Option<u64>, String> {
        entry(key).map(|v| v.trim().parse::<u64>().map_err(|_| format!("has external {key} {v:?}, not a byte count"))).transpose()
    };
    let (offset, length) = (number("offset")?.unwrap_or(0), number("length")?);
    let file = resolve(&location, model)?;
    let mut f = std::fs::File::open(&file).map_err(|e| format!("external data {location}: {e}"))?;
    let size = f.metadata().map_err(|e| format!("external data {location}: {e}"))?.len();
    let length = length.unwrap_or(bytes as u64);
    if length != bytes as u64 {
        return Err(format!("declares {bytes} bytes but its external length is {length}"));
    }
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(format!("external data {location} holds {size} bytes, fewer than offset {offset} + length {length}"));
    }
    f.seek(SeekFrom::Start(offset)).map_err(|e| format!("external data {location}: {e}"))?;
    let mut data = vec![0u8; bytes];
    f.read_exact(&mut data).map_err(|e| format!("external data {location}: {e}"))?;
    Ok(data)
}

/// The external data file `location` of the model at `model`: a relative path with no `..`,
/// resolving (symlinks followed) to a regular file inside the model's folder.
pub fn resolve(location: &str, model: &Path) -> Result<PathBuf, String> {
    let rel = Path::new(location);
    if rel.is_absolute() || rel.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(format!("names external data {location:?} outside the model's folder (only a relative path inside it is read)"));
    }
    let folder = model.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let folder = folder.canonicalize().map_err(|e| format!("the model's folder: {e}"))?;
    let file = folder.join(rel).canonicalize().map_err(|e| format!("external data {location}: {e}"))?;
    if !file.starts_with(&folder) {
        return Err(format!("names external data {location:?}, which resolves outside the model's folder"));
    }
    if !file.is_file() {
        return Err(format!("names external data {location:?}, which is not a regular file"));
    }
    Ok(file)
}
