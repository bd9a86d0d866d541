//! The real checkpoints in ../shared/fixtures (a DCGAN-tutorial generator trained on
//! DigiFace1M and the notebook's CelebA classifier), read straight from their `.pth` files,
//! against a reduced PyTorch run (tools/real_reference.py): the first 4 images of
//! `torch.manual_seed(0); torch.randn(256, 100)`, 3 steps each way, target Male.

use crate::common::*;
use gan_bias::backend::Backend;
use gan_bias::backend::cpu::CpuBackend;
use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::probe::{ProbeSettings, run_probe};
use gan_bias::rng::torch_randn;
use gan_bias::stats::top_covarying;

#[test]
fn seed_zero_noise_is_pytorchs() {
    let (g, _) = golden("real_reference.safetensors");
    let noise = torch_randn(0, 256 * 100);
    assert_close("first 4 rows of randn(256, 100)", &noise[..400], &g["noise"].1, 0.0, 1e-6);
}

fn probe_real(name: &str, backend: &mut dyn Backend) {
    let (g, meta) = golden("real_reference.safetensors");
    let generator = generator(&shared("dcgan_tutorial_digiface_generator.pth"));
    let classifier = classifier(&shared("coursera_celeba40_classifier.pth"));
    let target = 20;
    assert_eq!(classifier.features[target], "Male");
    let steps: usize = meta.get("steps").map_or(3, |s| s.parse().unwrap());
    let settings = ProbeSettings { target, steps, update: UpdateRule::Notebook, max_batch: None };
    let out = run_probe(backend, &generator, &classifier, &g["noise"].1, &settings).unwrap();
    // The starting logits depend on one forward pass only: tight.
    assert_close(&format!("{name} start mean"), &[out.start_mean as f32], &g["start_mean"].1, 1e-4, 1e-5);
    // Three large steps through real weights amplify PyTorch's different summation order
    // (oneDNN convolutions) to a few tenths of a percent.
    let means = [out.end_mean_up as f32, out.end_mean_down as f32];
    assert_close(&format!("{name} last means"), &means, &[g["last_mean_plus"].1[0], g["last_mean_minus"].1[0]], 1e-2, 1e-3);
    let want = &g["cov_f64"].1;
    assert_close(&format!("{name} covariance"), &out.cov, want, 2e-2, 5e-3 * max_abs(want));
    let top = top_covarying(&out.cov, &classifier.features, target, 10);
    let got: Vec<usize> = top.iter().map(|t| t.index).collect();
    let want_idx: Vec<usize> = g["top_idx"].1.iter().map(|&x| x as usize).collect();
    let mut a = got.clone();
    let mut b = want_idx.clone();
    a.sort();
    b.sort();
    assert_eq!(a, b, "{name}: top-10 features {got:?} vs PyTorch {want_idx:?}");
    for (t, (&i, &c)) in top.iter().zip(want_idx.iter().zip(&g["top_cov"].1)) {
        // Same order except where PyTorch's own values are within 1% of each other.
        if t.index != i {
            let theirs = g["cov_f64"].1[target * 40 + t.index];
            assert!(
                (theirs.abs() - c.abs()).abs() <= 0.01 * c.abs(),
                "{name}: rank {} is {} here, {} in PyTorch",
                t.rank,
                t.name,
                classifier.features[i]
            );
        }
    }
}

#[test]
fn real_checkpoints_match_pytorch_on_cpu() {
    probe_real("cpu", &mut CpuBackend::new());
}

#[test]
fn real_checkpoints_match_pytorch_on_gpu() {
    probe_real("gpu", &mut gpu());
}
