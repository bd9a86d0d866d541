//! Images and labels in one safetensors file (`--data`): u8 NHWC pixels and f32 NCHW values
//! give the same tensors, every label dtype and encoding the same labels; bad shapes, dtypes,
//! values and names are refused naming the file and the tensor.

use std::collections::HashMap;
use std::path::PathBuf;

use gan_bias::dataset::transform::{SIDE, normalize};
use gan_bias::dataset::{Dataset, DatasetError};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, serialize};

use super::{audit_fixture, write};

const N: usize = 2;
const NAMES: &str = "Smiling,Male,Young";
/// The labels of both images, row-major.
const LABELS: [bool; 6] = [true, false, true, false, false, true];

/// Seeded pixels of N images, NHWC.
fn pixels() -> Vec<u8> {
    (0..N * SIDE * SIDE * 3).map(|i| ((i * 7919 + i / 13) % 256) as u8).collect()
}

/// The same images as the f32 NCHW tensor the transform would give.
fn floats() -> Vec<f32> {
    let px = pixels();
    let mut out = vec![0.0f32; px.len()];
    for n in 0..N {
        for p in 0..SIDE * SIDE {
            for c in 0..3 {
                out[(n * 3 + c) * SIDE * SIDE + p] = normalize(px[(n * SIDE * SIDE + p) * 3 + c]);
            }
        }
    }
    out
}

/// Named tensors of a file to write.
type Tensors<'a> = Vec<(&'a str, Entry)>;

struct Entry {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn entry(dtype: Dtype, shape: &[usize], bytes: Vec<u8>) -> Entry {
    Entry { dtype, shape: shape.to_vec(), bytes }
}

fn u8_images() -> Entry {
    entry(Dtype::U8, &[N, SIDE, SIDE, 3], pixels())
}

fn f32_images(values: Vec<f32>) -> Entry {
    entry(Dtype::F32, &[N, 3, SIDE, SIDE], bytemuck::cast_slice(&values).to_vec())
}

fn labels_as(dtype: Dtype, negative: f32) -> Entry {
    let v: Vec<f32> = LABELS.iter().map(|&b| if b { 1.0 } else { negative }).collect();
    let bytes = match dtype {
        Dtype::U8 => v.iter().map(|&x| x as u8).collect(),
        Dtype::I8 => v.iter().map(|&x| x as i8 as u8).collect(),
        Dtype::I32 => v.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect(),
        Dtype::F32 => v.iter().flat_map(|&x| x.to_le_bytes()).collect(),
        Dtype::I64 => v.iter().flat_map(|&x| (x as i64).to_le_bytes()).collect(),
        d => panic!("{d:?}"),
    };
    entry(dtype, &[N, 3], bytes)
}

/// A safetensors file of `tensors` and the metadata `gan_bias.features` = `names`.
fn file(dir: &tempfile::TempDir, name: &str, tensors: Tensors, names: Option<&str>) -> PathBuf {
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(k, e)| (k.to_string(), TensorView::new(e.dtype, e.shape.clone(), &e.bytes).unwrap())).collect();
    let meta = names.map(|n| HashMap::from([("gan_bias.features".to_string(), n.to_string())]));
    write(dir.path(), name, serialize(views, meta).unwrap())
}

fn read_err(dir: &tempfile::TempDir, tensors: Tensors, names: Option<&str>) -> (String, String) {
    let p = file(dir, "bad.safetensors", tensors, names);
    (Dataset::from_safetensors(&p).unwrap_err().to_string(), p.display().to_string())
}

#[test]
fn u8_pixels_and_f32_values_give_the_same_set() {
    let dir = tempfile::tempdir().unwrap();
    let a = Dataset::from_safetensors(&file(
        &dir,
        "a.safetensors",
        vec![("images", u8_images()), ("labels", labels_as(Dtype::U8, 0.0))],
        Some(NAMES),
    ))
    .unwrap();
    let b = Dataset::from_safetensors(&file(
        &dir,
        "b.safetensors",
        vec![("images", f32_images(floats())), ("labels", labels_as(Dtype::F32, -1.0))],
        Some(NAMES),
    ))
    .unwrap();
    assert_eq!(a.images, floats());
    assert_eq!(a.images, b.images);
    assert_eq!((a.labels.as_slice(), a.names.as_slice()), (LABELS.as_slice(), ["Smiling", "Male", "Young"].map(String::from).as_slice()));
    assert_eq!((b.labels.as_slice(), b.names.as_slice()), (a.labels.as_slice(), a.names.as_slice()));
    assert_eq!(a.files.len(), N);
    assert!(a.files[1].ends_with("a.safetensors: image 1"), "{}", a.files[1]);
    // Pixel (y 5, x 9) of image 1, channel 2, lands at [1, 2, 5, 9].
    let px = pixels()[((SIDE * SIDE) + 5 * SIDE + 9) * 3 + 2];
    assert_eq!(a.image(1)[2 * SIDE * SIDE + 5 * SIDE + 9], normalize(px));
}

#[test]
fn every_label_dtype_and_encoding_reads_alike() {
    let dir = tempfile::tempdir().unwrap();
    for (dtype, negative) in
        [(Dtype::U8, 0.0), (Dtype::I8, 0.0), (Dtype::I8, -1.0), (Dtype::I32, -1.0), (Dtype::I32, 0.0), (Dtype::F32, 0.0)]
    {
        let p = file(&dir, "l.safetensors", vec![("images", u8_images()), ("labels", labels_as(dtype, negative))], Some(NAMES));
        assert_eq!(Dataset::from_safetensors(&p).unwrap().labels, LABELS, "{dtype:?} {negative}");
    }
}

#[test]
fn a_file_without_labels_is_refused_naming_the_tensor() {
    // The golden file is a u8 (N, 64, 64, 3) `images` tensor without labels: refused for
    // that alone, naming the tensor.
    let path = audit_fixture("preprocess_golden.safetensors");
    let e = Dataset::from_safetensors(&path).unwrap_err();
    assert!(matches!(e, DatasetError::MissingTensor { .. }));
    assert_eq!(e.to_string(), format!("{}: missing tensor labels", path.display()));
}

#[test]
fn bad_shapes_dtypes_values_and_names_are_refused_naming_file_and_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let mut out_of_range = floats();
    out_of_range[3 * SIDE * SIDE + 2 * SIDE + 7] = 1.5;
    let mut nan = floats();
    nan[0] = f32::NAN;
    let cases: Vec<(Tensors, Option<&str>, &str)> = vec![
        (
            vec![("images", entry(Dtype::U8, &[N, 3, SIDE, SIDE], pixels())), ("labels", labels())],
            Some(NAMES),
            ": tensor images has shape [2, 3, 64, 64], expected (N, 64, 64, 3) for u8 pixels",
        ),
        (
            vec![("images", entry(Dtype::F32, &[N, SIDE, SIDE, 3], bytemuck::cast_slice(&floats()).to_vec())), ("labels", labels())],
            Some(NAMES),
            ": tensor images has shape [2, 64, 64, 3], expected (N, 3, 64, 64) for f32 values",
        ),
        (
            vec![("images", entry(Dtype::U8, &[N, 32, 32, 12], pixels())), ("labels", labels())],
            Some(NAMES),
            ": tensor images has shape [2, 32, 32, 12], expected (N, 64, 64, 3) for u8 pixels",
        ),
        (
            vec![("images", entry(Dtype::F16, &[N, 3, SIDE, SIDE / 2], pixels())), ("labels", labels())],
            Some(NAMES),
            ": tensor images has dtype F16, expected U8 (N, 64, 64, 3) or F32 (N, 3, 64, 64)",
        ),
        (
            vec![("images", f32_images(out_of_range)), ("labels", labels())],
            Some(NAMES),
            ": tensor images holds 1.5 at [1, 0, 2, 7], expected values in [-1, 1]",
        ),
        (
            vec![("images", f32_images(nan)), ("labels", labels())],
            Some(NAMES),
            ": tensor images holds NaN at [0, 0, 0, 0], expected values in [-1, 1]",
        ),
        (vec![("images", u8_images())], Some(NAMES), ": missing tensor labels"),
        (vec![("labels", labels())], Some(NAMES), ": missing tensor images"),
        (
            vec![("images", u8_images()), ("labels", entry(Dtype::U8, &[N + 1, 2], vec![1; 6]))],
            Some(NAMES),
            ": tensor labels has shape [3, 2], expected (2, F): one row per image, F >= 1",
        ),
        (
            vec![("images", u8_images()), ("labels", entry(Dtype::U8, &[N * 3], vec![1; 6]))],
            Some(NAMES),
            ": tensor labels has shape [6], expected (2, F): one row per image, F >= 1",
        ),
        (
            vec![("images", u8_images()), ("labels", labels_as(Dtype::I64, 0.0))],
            Some(NAMES),
            ": tensor labels has dtype I64, expected U8, I8, I32 or F32",
        ),
        (
            vec![("images", u8_images()), ("labels", entry(Dtype::U8, &[N, 3], vec![1, 0, 1, 0, 2, 1]))],
            Some(NAMES),
            ": tensor labels holds 2 at [1, 1], expected labels in {0, 1} or {-1, 1}",
        ),
        (
            vec![("images", u8_images()), ("labels", entry(Dtype::I8, &[N, 3], [1i8, 0, 1, -1, 1, 1].map(|v| v as u8).to_vec()))],
            Some(NAMES),
            ": tensor labels holds -1 at [1, 0], expected one encoding, {0, 1} or {-1, 1}, not both -1 and 0",
        ),
        (
            vec![("images", u8_images()), ("labels", labels())],
            Some("Smiling,Male"),
            ": metadata gan_bias.features lists 2 names (empty ones included) but tensor labels has 3 columns",
        ),
        (
            vec![("images", u8_images()), ("labels", labels())],
            Some("Smiling,,Young"),
            ": metadata gan_bias.features lists 3 names (empty ones included) but tensor labels has 3 columns",
        ),
        (vec![("images", entry(Dtype::U8, &[0, SIDE, SIDE, 3], vec![])), ("labels", labels())], Some(NAMES), " holds no images"),
    ];
    for (tensors, names, want) in cases {
        let (e, path) = read_err(&dir, tensors, names);
        assert_eq!(e, format!("{path}{want}"));
    }
    let p = write(dir.path(), "text.safetensors", "not tensors at all");
    let e = Dataset::from_safetensors(&p).unwrap_err().to_string();
    assert!(e.starts_with(&format!("{} is not a safetensors file: ", p.display())), "{e}");
    assert!(!e.contains('\n'));
}

#[test]
fn without_names_forty_columns_are_celebas_as_for_a_classifier() {
    let dir = tempfile::tempdir().unwrap();
    let p = file(&dir, "n.safetensors", vec![("images", u8_images()), ("labels", entry(Dtype::U8, &[N, 40], vec![0; N * 40]))], None);
    let d = Dataset::from_safetensors(&p).unwrap();
    assert_eq!((d.names[0].as_str(), d.names[20].as_str()), ("5oClockShadow", "Male"));
    let p = file(&dir, "n.safetensors", vec![("images", u8_images()), ("labels", labels())], None);
    assert_eq!(Dataset::from_safetensors(&p).unwrap().names, ["f0", "f1", "f2"]);
}

fn labels() -> Entry {
    labels_as(Dtype::U8, 0.0)
}
