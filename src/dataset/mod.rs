//! Labelled images, the input of an audit of the classifier: CelebA's label and partition
//! files with a folder of JPEG or PNG images, transformed exactly as the notebook's
//! torchvision transform does ([`transform`]), a label file with one sheet of 64x64 tiles
//! ([`sheet`]), or one safetensors file of images and labels ([`tensors`]).
//!
//! Owns: reading and checking labelled images, matching label columns to a classifier's
//! features by name. Must not touch: networks, backends, statistics.

pub mod images;
pub mod labels;
pub mod sheet;
pub mod tensors;
pub mod transform;

use std::path::Path;

pub use labels::{Labels, Partition, Split};
pub use transform::SIDE;

/// Values of one image: `3 x SIDE x SIDE`.
pub const IMAGE_LEN: usize = 3 * SIDE * SIDE;

/// A labelled image set.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Where it was read from, for messages.
    pub source: String,
    /// The attribute names, one per label column.
    pub names: Vec<String>,
    /// `N x 3 x 64 x 64`, NCHW, in [-1, 1].
    pub images: Vec<f32>,
    /// `N x F`, row-major, F = `names.len()`; true = has the attribute.
    pub labels: Vec<bool>,
    /// Each image's name, for messages.
    pub files: Vec<String>,
}

/// Why labelled images could not be read or matched. Every message names the file (and the
/// line of a text file) or the data set it is about.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {detail}")]
    Format { path: String, line: usize, detail: String },
    #[error("{path}:{line}: {found} columns, expected {expected}")]
    Columns { path: String, line: usize, found: usize, expected: usize },
    #[error("{path}:{line}: label '{value}' of {attribute} is not 1, -1 or 0")]
    Label { path: String, line: usize, attribute: String, value: String },
    #[error("{path}:{line}: the count says {declared} images but {found} are labelled")]
    Count { path: String, line: usize, declared: usize, found: usize },
    #[error("{path}:{line}: attribute {name} is named twice (columns {first} and {again})")]
    DuplicateAttribute { path: String, line: usize, name: String, first: usize, again: usize },
    #[error("{path}:{line}: {file} is listed again (first on line {first})")]
    DuplicateImage { path: String, line: usize, file: String, first: usize },
    #[error("unknown split '{given}': expected train, valid or test")]
    UnknownSplit { given: String },
    #[error("{partition} has no split for {file}, labelled in {labels}")]
    NotPartitioned { partition: String, file: String, labels: String },
    #[error("{source_name} holds no images")]
    NoImages { source_name: String },
    #[error("cannot decode {path} as a JPEG or PNG image: {detail}")]
    Decode { path: String, detail: String },
    #[error("{path}: the JPEG ends before its end-of-image marker (truncated)")]
    Truncated { path: String },
    #[error("{path} is {width}x{height} pixels, not a whole number of 64x64 tiles")]
    SheetSize { path: String, width: usize, height: usize },
    #[error("{path} holds {rows} rows of {per_row} tiles ({}), but {labels} labels {count} images, which fill {}", rows * per_row, rows_filled(*count, *per_row))]
    SheetCount { path: String, per_row: usize, rows: usize, labels: String, count: usize },
    #[error("{path}: the image has no pixels")]
    EmptyImage { path: String },
    #[error("{path} is not a safetensors file: {detail}")]
    NotSafetensors { path: String, detail: String },
    #[error("{path}: missing tensor {name}")]
    MissingTensor { path: String, name: String },
    #[error("{path}: tensor {name} has dtype {dtype}, expected {expected}")]
    TensorDtype { path: String, name: String, dtype: String, expected: String },
    #[error("{path}: tensor {name} has shape {shape:?}, expected {expected}")]
    TensorShape { path: String, name: String, shape: Vec<usize>, expected: String },
    #[error("{path}: tensor {name} holds {value} at {at:?}, expected {expected}")]
    TensorValue { path: String, name: String, at: Vec<usize>, value: String, expected: String },
    #[error("{path}: metadata {key} {detail}")]
    FeatureNames { path: String, key: &'static str, detail: String },
    #[error("{source_name} has no label column for the classifier's {}: {} (its columns: {})", plural(missing.len()), missing.join(", "), columns.join(", "))]
    Unmatched { source_name: String, missing: Vec<String>, columns: Vec<String> },
    #[error("{source_name}: the classifier's feature {feature} matches several label columns: {}", columns.join(", "))]
    Ambiguous { source_name: String, feature: String, columns: Vec<String> },
    #[error("{source_name}: the classifier's features {first} and {second} both match label column {column}")]
    SharedColumn { source_name: String, first: String, second: String, column: String },
}

/// "1 row" or "N rows": the rows `count` images fill at `per_row` a row.
fn rows_filled(count: usize, per_row: usize) -> String {
    let rows = count.div_ceil(per_row);
    format!("{rows} row{}", if rows == 1 { "" } else { "s" })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "feature" } else { "features" }
}

/// Two spellings of one CelebA attribute, as match keys: the notebook's classifier names it
/// `Sideburn`, CelebA's label file `Sideburns`.
const ALIASES: [(&str, &str); 1] = [("sideburn", "sideburns")];

/// A name reduced for matching: lower case, letters and digits only (CelebA's label file says
/// `5_o_Clock_Shadow`, the classifier `5oClockShadow`), one spelling per [`ALIASES`] pair.
fn match_key(name: &str) -> String {
    let key: String = name.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
    ALIASES.iter().find(|(a, _)| *a == key).map_or(key, |(_, b)| b.to_string())
}

impl Dataset {
    /// CelebA-style labelled images: the label file, optionally restricted to the images a
    /// partition file puts in `split` and to the first `limit` of them, each image read from
    /// `image_dir` and transformed (only the images kept are read).
    pub fn from_image_dir(
        labels: &Path,
        partition: Option<(&Path, Split)>,
        limit: Option<usize>,
        image_dir: &Path,
    ) -> Result<Dataset, DatasetError> {
        let mut labels = Labels::read(labels)?;
        if let Some((path, split)) = partition {
            labels = labels.select(&Partition::read(path)?, split)?;
        }
        if let Some(n) = limit {
            labels.truncate(n);
        }
        Dataset::from_labels(labels, image_dir)
    }

    /// The images of `labels`, read from `image_dir` and transformed.
    pub fn from_labels(labels: Labels, image_dir: &Path) -> Result<Dataset, DatasetError> {
        if labels.is_empty() {
            return Err(DatasetError::NoImages { source_name: labels.source });
        }
        let images = images::load_images(image_dir, &labels.files)?;
        Ok(Dataset { source: labels.source, names: labels.names, images, labels: labels.values, files: labels.files })
    }

    /// The images of a label file cut from one sheet of 64x64 tiles, tile k the k-th labelled
    /// image (see [`sheet`]).
    pub fn from_sheet(sheet: &Path, labels: &Path) -> Result<Dataset, DatasetError> {
        sheet::read(sheet, labels)
    }

    /// Images and labels from one safetensors file (see [`tensors`]).
    pub fn from_safetensors(path: &Path) -> Result<Dataset, DatasetError> {
        tensors::read(path)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The number of label columns.
    pub fn feature_count(&self) -> usize {
        self.names.len()
    }

    /// The labels of the classifier features `needed` (indices into `names`, the classifier's
    /// feature names), as `len() x names.len()` in the classifier's order; the columns of the
    /// features not needed are false.
    pub fn labels_for(&self, names: &[String], needed: &[usize]) -> Result<Vec<bool>, DatasetError> {
        let wanted: Vec<String> = needed.iter().map(|&i| names[i].clone()).collect();
        let columns = self.columns_for(&wanted)?;
        let (n, f, df) = (self.len(), names.len(), self.feature_count());
        let mut labels = vec![false; n * f];
        for j in 0..n {
            for (&i, &c) in needed.iter().zip(&columns) {
                labels[j * f + i] = self.labels[j * df + c];
            }
        }
        Ok(labels)
    }

    /// Image `i`, `3 x 64 x 64`.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.images[i * IMAGE_LEN..(i + 1) * IMAGE_LEN]
    }

    /// The labels of image `i`, one per column.
    pub fn labels_of(&self, i: usize) -> &[bool] {
        let f = self.names.len();
        &self.labels[i * f..(i + 1) * f]
    }

    /// For each of the classifier's features, the label column of the same name: the same
    /// name ignoring case, else the one name equal to it ignoring case and everything but
    /// letters and digits (and `Sideburn` taken for `Sideburns`). Every feature must find
    /// exactly one column, none shared.
    pub fn columns_for(&self, classifier_features: &[String]) -> Result<Vec<usize>, DatasetError> {
        let mut columns = Vec::with_capacity(classifier_features.len());
        let mut missing = Vec::new();
        for feature in classifier_features {
            let exact: Vec<usize> = (0..self.names.len()).filter(|&i| self.names[i].eq_ignore_ascii_case(feature)).collect();
            let found = if exact.is_empty() {
                let key = match_key(feature);
                (0..self.names.len()).filter(|&i| !key.is_empty() && match_key(&self.names[i]) == key).collect()
            } else {
                exact
            };
            match found.as_slice() {
                [] => missing.push(feature.clone()),
                [one] => columns.push(*one),
                many => {
                    return Err(DatasetError::Ambiguous {
                        source_name: self.source.clone(),
                        feature: feature.clone(),
                        columns: many.iter().map(|&i| self.names[i].clone()).collect(),
                    });
                }
            }
        }
        if !missing.is_empty() {
            return Err(DatasetError::Unmatched { source_name: self.source.clone(), missing, columns: self.names.clone() });
        }
        for (a, &ca) in columns.iter().enumerate() {
            if let Some(b) = columns[..a].iter().position(|&cb| cb == ca) {
                return Err(DatasetError::SharedColumn {
                    source_name: self.source.clone(),
                    first: classifier_features[b].clone(),
                    second: classifier_features[a].clone(),
                    column: self.names[ca].clone(),
                });
            }
        }
        let extra = self.names.len() - columns.len();
        if extra > 0 {
            log::debug!("{}: {extra} label columns match no classifier feature", self.source);
        }
        Ok(columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::presets::CELEBA_FEATURES;

    fn set(names: &[&str]) -> Dataset {
        Dataset {
            source: "attr.txt".into(),
            names: names.iter().map(|s| s.to_string()).collect(),
            images: vec![],
            labels: vec![],
            files: vec![],
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn columns_match_by_name_any_case_and_celeba_underscores() {
        let d = set(&["Young", "5_o_Clock_Shadow", "male", "Wearing_Lipstick", "Sideburns"]);
        assert_eq!(d.columns_for(&strings(&["Male", "5oClockShadow", "WearingLipstick", "Sideburn"])).unwrap(), [2, 1, 3, 4]);
        let celeba: Vec<String> = CELEBA_FEATURES.iter().map(|s| s.to_string()).collect();
        let e = d.columns_for(&celeba).unwrap_err().to_string();
        assert!(e.starts_with("attr.txt has no label column for the classifier's features: ArchedEyebrows, Attractive,"), "{e}");
        assert!(
            !e.contains("features: 5oClockShadow")
                && e.ends_with("(its columns: Young, 5_o_Clock_Shadow, male, Wearing_Lipstick, Sideburns)"),
            "{e}"
        );
        let e = d.columns_for(&strings(&["Smiling"])).unwrap_err().to_string();
        assert!(e.contains("classifier's feature: Smiling"), "{e}");
    }

    #[test]
    fn an_exact_name_wins_over_a_loose_one_and_ambiguity_is_refused() {
        let d = set(&["Big_Nose", "BigNose", "Big-Lips", "Big_Lips"]);
        assert_eq!(d.columns_for(&strings(&["bignose"])).unwrap(), [1]);
        let e = d.columns_for(&strings(&["BigLips"])).unwrap_err().to_string();
        assert_eq!(e, "attr.txt: the classifier's feature BigLips matches several label columns: Big-Lips, Big_Lips");
        let e = d.columns_for(&strings(&["Big_Nose", "big_nose"])).unwrap_err().to_string();
        assert_eq!(e, "attr.txt: the classifier's features Big_Nose and big_nose both match label column Big_Nose");
    }
}
