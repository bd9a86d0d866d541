//! Both backends against PyTorch: tiny models of both generator presets and the classifier,
//! with random weights and BatchNorm statistics (made by tools/make_fixtures.py).

use crate::common::*;
use gan_bias::backend::Backend;
use gan_bias::backend::cpu::CpuBackend;
use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::probe::{ProbeSettings, evaluate, run_probe};
use gan_bias::program::lower::chain;
use gan_bias::stats::top_covarying;

fn backends() -> Vec<(&'static str, Box<dyn Backend>)> {
    vec![("cpu", Box::new(CpuBackend::new())), ("cpu-fast", Box::new(CpuBackend::fast())), ("gpu", Box::new(gpu()))]
}

fn forward_and_gradients(gen_file: &str, golden_file: &str) {
    let (g, meta) = golden(golden_file);
    let target: usize = meta["target"].parse().unwrap();
    let generator = generator(&fixture(gen_file));
    let classifier = classifier(&fixture("tiny_classifier.safetensors"));
    let stages = chain(&generator, &classifier).unwrap();
    for (name, mut backend) in backends() {
        let ev = evaluate(backend.as_mut(), &stages, &g["noise"].1, target).unwrap();
        let images = &ev.outputs[generator.graph.nodes.len() - 1];
        assert_close(&format!("{name} {golden_file} images"), images, &g["images"].1, 1e-4, 1e-5);
        let logits = ev.outputs.last().unwrap();
        assert_close(&format!("{name} {golden_file} logits"), logits, &g["logits"].1, 1e-4, 1e-4 * max_abs(&g["logits"].1));
        let want = &g["grad_noise"].1;
        assert_close(&format!("{name} {golden_file} grad_noise"), &ev.input_grad, want, 1e-3, 1e-4 * max_abs(want));
        // Gradient with respect to the images: the classifier alone.
        let ev = evaluate(backend.as_mut(), &classifier.graph, &g["images"].1, target).unwrap();
        let want = &g["grad_images"].1;
        assert_close(&format!("{name} {golden_file} grad_images"), &ev.input_grad, want, 1e-3, 1e-4 * max_abs(want));
    }
}

#[test]
fn coursera_forward_and_input_gradients_match_pytorch() {
    forward_and_gradients("tiny_coursera_gen.safetensors", "golden_coursera.safetensors");
}

#[test]
fn dcgan_forward_and_input_gradients_match_pytorch() {
    forward_and_gradients("tiny_dcgan_gen.safetensors", "golden_dcgan.safetensors");
}

fn probe_matches(gen_file: &str, golden_file: &str, rule: UpdateRule, suffix: &str) {
    let (g, meta) = golden(golden_file);
    let target: usize = meta["target"].parse().unwrap();
    let steps: usize = meta["steps"].parse().unwrap();
    let generator = generator(&fixture(gen_file));
    let classifier = classifier(&fixture("tiny_classifier.safetensors"));
    let want_cov = &g[&format!("cov_{suffix}_f64")].1;
    let want_idx: Vec<usize> = g[&format!("top_idx_{suffix}")].1.iter().map(|&x| x as usize).collect();
    let sfx = if suffix == "notebook" { String::new() } else { format!("_{suffix}") };
    for (name, mut backend) in backends() {
        // One batch, and the doubled batch split into odd-sized pieces: the same numbers.
        for max_batch in [None, Some(4)] {
            let settings = ProbeSettings { target, steps, update: rule, max_batch };
            let out = run_probe(backend.as_mut(), &generator, &classifier, &g["noise"].1, &settings).unwrap();
            let what = format!("{name} {golden_file} {suffix} max_batch {max_batch:?}");
            assert_close(&format!("{what} cov"), &out.cov, want_cov, 2e-3, 1e-4 * max_abs(want_cov));
            let top = top_covarying(&out.cov, &classifier.features, target, 10);
            assert_eq!(top.iter().map(|t| t.index).collect::<Vec<_>>(), want_idx, "{what}: top-10 order");
            let means = [out.start_mean as f32, out.end_mean_up as f32, out.end_mean_down as f32];
            let want = [g["start_mean"].1[0], g[&format!("last_mean_plus{sfx}")].1[0], g[&format!("last_mean_minus{sfx}")].1[0]];
            assert_close(&format!("{what} target means"), &means, &want, 1e-3, 1e-4);
        }
    }
}

#[test]
fn coursera_probe_matches_pytorch_notebook_update() {
    probe_matches("tiny_coursera_gen.safetensors", "golden_coursera.safetensors", UpdateRule::Notebook, "notebook");
}

#[test]
fn coursera_probe_matches_pytorch_sgd_update() {
    probe_matches("tiny_coursera_gen.safetensors", "golden_coursera.safetensors", UpdateRule::Sgd, "sgd");
}

#[test]
fn dcgan_probe_matches_pytorch_notebook_update() {
    probe_matches("tiny_dcgan_gen.safetensors", "golden_dcgan.safetensors", UpdateRule::Notebook, "notebook");
}

#[test]
fn dcgan_probe_matches_pytorch_sgd_update() {
    probe_matches("tiny_dcgan_gen.safetensors", "golden_dcgan.safetensors", UpdateRule::Sgd, "sgd");
}

#[test]
fn half_precision_classifiers_load_and_match_pytorch() {
    for (file, golden_file) in [
        ("tiny_classifier_f16.safetensors", "golden_classifier_f16.safetensors"),
        ("tiny_classifier_bf16.safetensors", "golden_classifier_bf16.safetensors"),
    ] {
        let (g, _) = golden(golden_file);
        let classifier = classifier(&fixture(file));
        let ev = evaluate(&mut CpuBackend::new(), &classifier.graph, &g["images"].1, 20).unwrap();
        let want = &g["logits"].1;
        assert_close(file, ev.outputs.last().unwrap(), want, 1e-4, 1e-4 * max_abs(want));
    }
}
