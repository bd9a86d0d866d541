//! Labelled images from one safetensors file, for sets already transformed elsewhere:
//! tensor `images`, either u8 `(N, 64, 64, 3)` (pixels, mapped as `ToTensor` and
//! `Normalize(0.5, 0.5)` map them) or f32 `(N, 3, 64, 64)` in [-1, 1]; tensor `labels`,
//! `(N, F)` of u8, i8, i32 or f32, either {0, 1} or {-1, 1}; the attribute names in the
//! metadata `gan_bias.features`, comma-separated, as for a classifier (without it, CelebA's 40
//! names for 40 columns, else `f0, f1, ...`).
//!
//! Owns: reading and checking that file. Must not touch: image files, the label text files.

use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use super::transform::{SIDE, normalize};
use super::{Dataset, DatasetError};
use crate::model::presets::{CELEBA_FEATURES, META_FEATURES};

pub const IMAGES: &str = "images";
pub const LABELS: &str = "labels";

/// The multi-index of flat index `flat` in `shape`.
fn unflatten(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut at = vec![0; shape.len()];
    for (d, &n) in shape.iter().enumerate().rev() {
        at[d] = flat % n;
        flat /= n;
    }
    at
}

/// Reads the file at `path`.
pub fn read(path: &Path) -> Result<Dataset, DatasetError> {
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Io { path: path.display().to_string(), source })?;
    from_bytes(&bytes, &path.display().to_string())
}

/// Reads safetensors `bytes`; `path` names them in errors.
pub fn from_bytes(bytes: &[u8], path: &str) -> Result<Dataset, DatasetError> {
    let not_st = |detail: String| DatasetError::NotSafetensors { path: path.to_string(), detail };
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| not_st(e.to_string()))?;
    let st = SafeTensors::deserialize(bytes).map_err(|e| not_st(e.to_string()))?;
    let tensor = |name: &str| st.tensor(name).map_err(|_| DatasetError::MissingTensor { path: path.into(), name: name.into() });
    let shape_err = |name: &str, shape: &[usize], expected: String| DatasetError::TensorShape {
        path: path.into(),
        name: name.into(),
        shape: shape.to_vec(),
        expected,
    };
    let value_err = |name: &str, flat: usize, shape: &[usize], value: String, expected: &str| DatasetError::TensorValue {
        path: path.into(),
        name: name.into(),
        at: unflatten(flat, shape),
        value,
        expected: expected.into(),
    };

    let view = tensor(IMAGES)?;
    let shape = view.shape().to_vec();
    let per = 3 * SIDE * SIDE;
    let images = match view.dtype() {
        Dtype::U8 => {
            if shape != [shape.first().copied().unwrap_or(0), SIDE, SIDE, 3] {
                return Err(shape_err(IMAGES, &shape, format!("(N, {SIDE}, {SIDE}, 3) for u8 pixels")));
            }
            let n = shape[0];
            let mut out = vec![0.0; n * per];
            for (p, px) in view.data().chunks_exact(3).enumerate() {
                let (img, pixel) = (p / (SIDE * SIDE), p % (SIDE * SIDE));
                for c in 0..3 {
                    out[img * per + c * SIDE * SIDE + pixel] = normalize(px[c]);
                }
            }
            out
        }
        Dtype::F32 => {
            if shape != [shape.first().copied().unwrap_or(0), 3, SIDE, SIDE] {
                return Err(shape_err(IMAGES, &shape, format!("(N, 3, {SIDE}, {SIDE}) for f32 values")));
            }
            let out: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            if let Some(i) = out.iter().position(|v| !(-1.0..=1.0).contains(v)) {
                return Err(value_err(IMAGES, i, &shape, out[i].to_string(), "values in [-1, 1]"));
            }
            out
        }
        other => {
            return Err(DatasetError::TensorDtype {
                path: path.into(),
                name: IMAGES.into(),
                dtype: format!("{other:?}"),
                expected: "U8 (N, 64, 64, 3) or F32 (N, 3, 64, 64)".into(),
            });
        }
    };
    let n = shape[0];
    if n == 0 {
        return Err(DatasetError::NoImages { source_name: path.into() });
    }

    let view = tensor(LABELS)?;
    let lshape = view.shape().to_vec();
    if lshape.len() != 2 || lshape[0] != n || lshape[1] == 0 {
        return Err(shape_err(LABELS, &lshape, format!("({n}, F): one row per image, F >= 1")));
    }
    let raw: Vec<f64> = match view.dtype() {
        Dtype::U8 => view.data().iter().map(|&v| f64::from(v)).collect(),
        Dtype::I8 => view.data().iter().map(|&v| f64::from(v as i8)).collect(),
        Dtype::I32 => view.data().chunks_exact(4).map(|b| f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect(),
        Dtype::F32 => view.data().chunks_exact(4).map(|b| f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect(),
        other => {
            return Err(DatasetError::TensorDtype {
                path: path.into(),
                name: LABELS.into(),
                dtype: format!("{other:?}"),
                expected: "U8, I8, I32 or F32".into(),
            });
        }
    };
    let labels = decode_labels(&raw).map_err(|(i, expected)| value_err(LABELS, i, &lshape, raw[i].to_string(), expected))?;

    let f = lshape[1];
    let names = feature_names(meta.metadata().as_ref().and_then(|m| m.get(META_FEATURES)), f, path)?;
    let files = (0..n).map(|i| format!("{path}: image {i}")).collect();
    Ok(Dataset { source: path.to_string(), names, images, labels, files })
}

/// Labels in {0, 1} or {-1, 1} as booleans; else the flat index of the first bad value and
/// what was expected there.
fn decode_labels(raw: &[f64]) -> Result<Vec<bool>, (usize, &'static str)> {
    let (mut zero, mut minus) = (None, None);
    for (i, &v) in raw.iter().enumerate() {
        if v == 0.0 {
            zero.get_or_insert(i);
        } else if v == -1.0 {
            minus.get_or_insert(i);
        } else if v != 1.0 {
            return Err((i, "labels in {0, 1} or {-1, 1}"));
        }
        if let (Some(_), Some(_)) = (zero, minus) {
            return Err((i, "one encoding, {0, 1} or {-1, 1}, not both -1 and 0"));
        }
    }
    Ok(raw.iter().map(|&v| v == 1.0).collect())
}

/// The attribute names of `f` columns: the metadata's list, else the classifier convention's
/// defaults.
fn feature_names(list: Option<&String>, f: usize, path: &str) -> Result<Vec<String>, DatasetError> {
    let bad = |detail: String| DatasetError::FeatureNames { path: path.into(), key: META_FEATURES, detail };
    let Some(list) = list else {
        log::warn!(
            "{path}: no metadata {META_FEATURES}; the label columns are taken as {}",
            if f == 40 { "CelebA's 40 attributes in order" } else { "f0, f1, ..." }
        );
        return Ok(if f == CELEBA_FEATURES.len() {
            CELEBA_FEATURES.iter().map(|s| s.to_string()).collect()
        } else {
            (0..f).map(|i| format!("f{i}")).collect()
        });
    };
    let names: Vec<String> = list.split(',').map(|s| s.trim().to_string()).collect();
    if names.len() != f || names.iter().any(String::is_empty) {
        return Err(bad(format!("lists {} names (empty ones included) but tensor {LABELS} has {f} columns", names.len())));
    }
    for (i, name) in names.iter().enumerate() {
        if let Some(j) = names[..i].iter().position(|m| m.eq_ignore_ascii_case(name)) {
            return Err(bad(format!("names {name} twice (columns {} and {})", j + 1, i + 1)));
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_encodings() {
        assert_eq!(decode_labels(&[0.0, 1.0, 1.0]).unwrap(), [false, true, true]);
        assert_eq!(decode_labels(&[-1.0, 1.0]).unwrap(), [false, true]);
        assert_eq!(decode_labels(&[1.0, 0.0, 1.0, -1.0]).unwrap_err().0, 3);
        assert_eq!(decode_labels(&[1.0, 0.5]).unwrap_err().0, 1);
        assert_eq!(decode_labels(&[f64::NAN]).unwrap_err().0, 0);
    }

    #[test]
    fn indices_unflatten_row_major() {
        assert_eq!(unflatten(0, &[2, 3]), [0, 0]);
        assert_eq!(unflatten(5, &[2, 3]), [1, 2]);
        assert_eq!(unflatten(64 * 64 * 3 + 1, &[2, 3, 64, 64]), [1, 0, 0, 1]);
    }

    #[test]
    fn feature_names_from_metadata_or_the_classifier_defaults() {
        let m = " Smiling, Male ".to_string();
        assert_eq!(feature_names(Some(&m), 2, "d").unwrap(), ["Smiling", "Male"]);
        assert_eq!(feature_names(None, 40, "d").unwrap()[20], "Male");
        assert_eq!(feature_names(None, 2, "d").unwrap(), ["f0", "f1"]);
        let e = feature_names(Some(&m), 3, "d").unwrap_err().to_string();
        assert_eq!(e, "d: metadata gan_bias.features lists 2 names (empty ones included) but tensor labels has 3 columns");
        let e = feature_names(Some(&"a,A".to_string()), 2, "d").unwrap_err().to_string();
        assert_eq!(e, "d: metadata gan_bias.features names A twice (columns 1 and 2)");
    }
}
