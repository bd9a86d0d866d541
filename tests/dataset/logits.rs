//! From the files to the logits: the committed audit images read by
//! `Dataset::from_image_dir` (decoding, the notebook's transform) and classified by the
//! bundled classifier on the CPU and the GPU backends, against PyTorch's logits of the same
//! files through torchvision's transform (tools/preprocess_logits_golden.py,
//! `logits_golden.json`).
//!
//! Tolerances, |Δlogit| = |ours - PyTorch's| (the logits reach 20 in magnitude):
//!   * the PNGs, and every image from Pillow's own decoded pixels (tools/preprocess_golden.py
//!     stores them): [`EXACT_ATOL`]. The classifier's inputs are the same to the bit
//!     (tests/dataset/golden.rs), so only the f32 arithmetic differs: summation order in the
//!     convolutions and, on the GPU, the shaders' own. Measured: 6.7e-6 on the CPU, 2.1e-5 on
//!     lavapipe; allowed about ten times that;
//!   * the JPEGs, decoded by us: [`JPEG_ATOL`]. The `image` crate's decoder and Pillow's
//!     libjpeg differ by up to 2 of 255 levels (25% of the values of the 4:2:0 image, under 1%
//!     of the others', golden.rs), so the inputs differ and the logits by what the classifier
//!     makes of that. Measured, alike on both backends: 0.18 for 000001.jpg (4:2:0), 0.017
//!     for 000002.jpg (4:4:4), 0.012 for 000003.jpg (grey); allowed 0.3.
//!
//! A missing GPU adapter fails the test (`common::gpu`), as every shader test does.
//! Run with `--nocapture` for the measured differences and where the worst of each is.

use std::collections::BTreeMap;

use gan_bias::backend::Backend;
use gan_bias::backend::cpu::CpuBackend;
use gan_bias::dataset::Dataset;
use gan_bias::dataset::transform::{SIDE, normalize};
use gan_bias::load::bundled;
use gan_bias::probe::generate;
use safetensors::SafeTensors;

use super::audit_fixture;
use crate::common::{assert_close, classifier, gpu};

/// Allowed |Δlogit| where our inputs are PyTorch's to the bit.
const EXACT_ATOL: f32 = 2e-4;
/// Allowed |Δlogit| for a JPEG we decode ourselves.
const JPEG_ATOL: f32 = 0.3;

/// Pillow's decoded and transformed pixels of every audit image (u8, 64 x 64 x 3 each), as the
/// classifier's CHW input in [-1, 1], by file.
fn pillow_inputs() -> BTreeMap<String, Vec<f32>> {
    let bytes = std::fs::read(audit_fixture("preprocess_golden.safetensors")).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let files = meta.metadata().as_ref().unwrap()["files"].clone();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let images = st.tensor("images").unwrap();
    let plane = SIDE * SIDE;
    files
        .split(',')
        .zip(images.data().chunks_exact(3 * plane))
        .map(|(file, hwc)| {
            let mut chw = vec![0.0; 3 * plane];
            for (p, px) in hwc.chunks_exact(3).enumerate() {
                for c in 0..3 {
                    chw[c * plane + p] = normalize(px[c]);
                }
            }
            (file.to_string(), chw)
        })
        .collect()
}

/// The largest |a - b| and where.
fn worst(got: &[f32], want: &[f32]) -> (usize, f32) {
    got.iter().zip(want).map(|(g, w)| (g - w).abs()).enumerate().fold((0, 0.0), |m, (i, d)| if d > m.1 { (i, d) } else { m })
}

#[test]
fn the_audit_images_give_pytorchs_logits_on_cpu_and_gpu() {
    let golden: BTreeMap<String, Vec<f32>> =
        serde_json::from_str(&std::fs::read_to_string(audit_fixture("logits_golden.json")).unwrap()).unwrap();
    let d = Dataset::from_image_dir(&audit_fixture("list_attr_celeba.txt"), None, None, &audit_fixture("")).unwrap();
    assert_eq!(d.files, golden.keys().cloned().collect::<Vec<_>>(), "a golden row per listed image");
    let pillow = pillow_inputs();
    let pillow_images: Vec<f32> = d.files.iter().flat_map(|f| pillow[f].iter().copied()).collect();
    let c = classifier(&bundled("demo_classifier.safetensors").unwrap());
    let f = c.features.len();
    let stages = &c.graph;
    let backends: [(&str, Box<dyn Backend>); 2] = [("cpu", Box::new(CpuBackend::fast())), ("gpu", Box::new(gpu()))];
    for (name, mut backend) in backends {
        let ours = generate(backend.as_mut(), stages, &d.images).unwrap();
        let from_pillow = generate(backend.as_mut(), stages, &pillow_images).unwrap();
        for (i, file) in d.files.iter().enumerate() {
            let want = &golden[file];
            let (got, again) = (&ours[i * f..(i + 1) * f], &from_pillow[i * f..(i + 1) * f]);
            let ((at, diff), (at_p, diff_p)) = (worst(got, want), worst(again, want));
            eprintln!("{name} {file}: max |Δlogit| {diff:.2e} (feature {at}); from Pillow's pixels {diff_p:.2e} (feature {at_p})");
            let atol = if file.ends_with(".png") { EXACT_ATOL } else { JPEG_ATOL };
            assert_close(&format!("{name} logits of {file}"), got, want, 0.0, atol);
            assert_close(&format!("{name} logits of Pillow's pixels of {file}"), again, want, 0.0, EXACT_ATOL);
        }
    }
}
