//! One loaded probe program, many targets: the targets are a buffer written per run and the
//! step count a step parameter, so probing another target re-uploads no weight and rebuilds nothing, and gives
//! the numbers of a fresh single-target run and of PyTorch.

use crate::common::*;
use gan_bias::backend::Backend;
use gan_bias::backend::cpu::CpuBackend;
use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::probe::{Keep, LoadedProbe, ProbeSettings, run_probe};

fn backends() -> Vec<(&'static str, Box<dyn Backend>)> {
    vec![("cpu", Box::new(CpuBackend::fast())), ("gpu", Box::new(gpu()))]
}

#[test]
fn a_new_target_on_a_loaded_program_uploads_only_the_noise() {
    let (g, meta) = golden("golden_coursera.safetensors");
    let target: usize = meta["target"].parse().unwrap();
    let steps: usize = meta["steps"].parse().unwrap();
    let generator = generator(&fixture("tiny_coursera_gen.safetensors"));
    let classifier = classifier(&fixture("tiny_classifier.safetensors"));
    let noise = &g["noise"].1;
    let zdim = generator.input[0];
    let n = noise.len() / zdim;
    let other = (target + 7) % classifier.features.len();
    for (name, mut backend) in backends() {
        // Three batches, the last one short: every batch writes its noise and zeroes its sum.
        let max_batch = Some(2 * n / 3 + 1);
        let mut loaded = LoadedProbe::load(backend.as_mut(), &generator, &classifier, n, steps, UpdateRule::Notebook, max_batch).unwrap();
        let first = loaded.run(noise, other, steps, Keep::default(), None).unwrap();
        let before = loaded.backend().uploads();
        assert_eq!(before.loads, 1, "{name}: one load");
        assert!(before.constant_bytes > 0, "{name}: the weights were uploaded once");
        let out = loaded.run(noise, target, steps, Keep::default(), None).unwrap();
        let after = loaded.backend().uploads();
        let capacity = loaded.layout().capacity;
        let batches = (2 * n).div_ceil(capacity);
        assert_eq!(out.batches, batches, "{name}");
        assert_eq!(after.loads, before.loads, "{name}: a new target loaded a program");
        assert_eq!(after.constant_bytes, before.constant_bytes, "{name}: a new target uploaded weights");
        // The target (one f32), then per batch the noise and the zeroed gradient sum,
        // capacity x zdim floats each.
        assert_eq!(loaded.slots(), 1, "{name}: one target at a time");
        assert_eq!(after.writes - before.writes, 1 + 2 * batches as u64, "{name}: writes of a new target");
        assert_eq!(
            after.written_bytes - before.written_bytes,
            (4 + 2 * batches * capacity * zdim * 4) as u64,
            "{name}: bytes of a new target"
        );

        // The numbers are PyTorch's for this target (tests/golden.rs's tolerances) ...
        let want_cov = &g["cov_notebook_f64"].1;
        assert_close(&format!("{name}: cov of the second target vs PyTorch"), &out.cov, want_cov, 2e-3, 1e-4 * max_abs(want_cov));
        let means = [out.start_mean as f32, out.end_mean_up as f32, out.end_mean_down as f32];
        let want = [g["start_mean"].1[0], g["last_mean_plus"].1[0], g["last_mean_minus"].1[0]];
        assert_close(&format!("{name}: target means vs PyTorch"), &means, &want, 1e-3, 1e-4);
        // ... and exactly those of fresh single-target runs, for both targets.
        drop(loaded);
        for (t, got) in [(other, &first), (target, &out)] {
            let settings = ProbeSettings { target: t, steps, update: UpdateRule::Notebook, max_batch };
            let fresh = run_probe(backend.as_mut(), &generator, &classifier, noise, &settings).unwrap();
            assert_eq!(got.cov, fresh.cov, "{name}: target {t} on a loaded program vs a fresh run");
            assert_eq!(
                [got.start_mean, got.end_mean_up, got.end_mean_down],
                [fresh.start_mean, fresh.end_mean_up, fresh.end_mean_down],
                "{name}: target {t} means"
            );
        }
    }
}

#[test]
fn fewer_steps_on_a_loaded_program_equal_a_fresh_run_and_bad_runs_are_refused() {
    let generator = generator(&fixture("tiny_dcgan_gen.safetensors"));
    let classifier = classifier(&fixture("tiny_classifier.safetensors"));
    let zdim = generator.input[0];
    let n = 3;
    let noise = gan_bias::rng::torch_randn(5, n * zdim);
    let features = classifier.features.len();
    for (name, mut backend) in backends() {
        let mut loaded = LoadedProbe::load(backend.as_mut(), &generator, &classifier, n, 6, UpdateRule::Notebook, None).unwrap();
        let six = loaded.run(&noise, 2, 6, Keep { noise: 0, changes: true }, None).unwrap();
        let four = loaded.run(&noise, 3, 4, Keep { noise: 0, changes: true }, None).unwrap();
        for (what, words, result) in [
            (
                "a target past the last feature",
                vec![format!("target feature {features} out of range")],
                loaded.run(&noise, features, 4, Keep::default(), None),
            ),
            ("more steps than loaded", vec!["steps must be between 1 and 6".to_string()], loaded.run(&noise, 0, 7, Keep::default(), None)),
            ("no steps", vec!["steps must be between 1 and 6".to_string()], loaded.run(&noise, 0, 0, Keep::default(), None)),
            ("other images", vec!["this probe was loaded for 3".to_string()], loaded.run(&noise[..2 * zdim], 0, 4, Keep::default(), None)),
        ] {
            let msg = result.err().unwrap_or_else(|| panic!("{name}: {what} was accepted")).to_string();
            for w in words {
                assert!(msg.contains(&w), "{name}: {what}: {msg:?} does not say {w:?}");
            }
        }
        drop(loaded);
        for (steps, target, got) in [(6, 2, &six), (4, 3, &four)] {
            let settings = ProbeSettings { target, steps, update: UpdateRule::Notebook, max_batch: None };
            let fresh = gan_bias::probe::run_probe_with(
                backend.as_mut(),
                &generator,
                &classifier,
                &noise,
                &settings,
                Keep { noise: 0, changes: true },
                None,
            )
            .unwrap();
            assert_eq!(got.cov, fresh.cov, "{name}: {steps} steps on a program loaded for 6 vs a fresh run");
            assert_eq!(got.changes, fresh.changes, "{name}: {steps} steps: the recorded changes");
            assert_eq!(got.changes.as_ref().map(Vec::len), Some(2 * steps * n * features), "{name}: history of {steps} steps");
        }
    }
}

#[test]
fn a_probe_whose_logits_overflow_stops_with_one_line_naming_the_feature() {
    let generator = generator(&fixture("tiny_coursera_gen.safetensors"));
    // A classifier whose logits overflow f32 on any picture.
    let classifier = map_weights(&classifier(&fixture("tiny_classifier.safetensors")), |w| w.iter().map(|w| w * 3e38).collect());
    let zdim = generator.input[0];
    let noise = gan_bias::rng::torch_randn(0, 3 * zdim);
    for (name, mut backend) in backends() {
        let settings = ProbeSettings { target: 20, steps: 4, update: UpdateRule::Notebook, max_batch: None };
        let msg = run_probe(backend.as_mut(), &generator, &classifier, &noise, &settings).err().map(|e| e.to_string());
        let msg = msg.unwrap_or_else(|| panic!("{name}: an overflowing probe succeeded"));
        assert!(msg.contains("is not finite for image") && msg.contains("(feature "), "{name}: {msg}");
        assert!(!msg.contains('\n'), "{name}: {msg}");
    }
}

/// The worst |a - b| over `a`'s entries, relative to the largest |b|, with its index.
fn worst_relative(a: &[f32], b: &[f32]) -> (f64, usize) {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs() as f64)).max(f64::MIN_POSITIVE);
    a.iter()
        .zip(b)
        .enumerate()
        .map(|(i, (x, y))| ((*x as f64 - *y as f64).abs() / scale, i))
        .fold((0.0, 0), |m, v| if v.0 > m.0 { v } else { m })
}

#[test]
fn targets_run_together_equal_single_target_runs() {
    let generator = generator(&fixture("tiny_dcgan_gen.safetensors"));
    let classifier = classifier(&fixture("tiny_classifier.safetensors"));
    let zdim = generator.input[0];
    let (n, steps) = (5, 4);
    let noise = gan_bias::rng::torch_randn(11, n * zdim);
    let features = classifier.features.len();
    // Three targets, in no order, one of them the last feature.
    let targets = [features - 1, 0, 3];
    for (name, mut backend) in backends() {
        // Batches of 7 rows: they cut across the slots of 2n = 10 rows.
        let max_batch = Some(7);
        let mut loaded =
            LoadedProbe::load_targets(backend.as_mut(), &generator, &classifier, n, steps, UpdateRule::Notebook, max_batch, targets.len())
                .unwrap();
        assert_eq!(loaded.slots(), targets.len(), "{name}: every target fits one load");
        let together = loaded.run_targets(&noise, &targets, steps, None).unwrap();
        assert_eq!(together.len(), targets.len());
        assert_eq!(together[0].batches, (targets.len() * 2 * n).div_ceil(7), "{name}: the targets share the batches");
        drop(loaded);
        for (got, &t) in together.iter().zip(&targets) {
            let settings = ProbeSettings { target: t, steps, update: UpdateRule::Notebook, max_batch: None };
            let keep = Keep { noise: 0, changes: true };
            let single = gan_bias::probe::run_probe_with(backend.as_mut(), &generator, &classifier, &noise, &settings, keep, None).unwrap();
            assert_eq!(got.target, t);
            // Every row is computed on its own in eval mode, each sum in an order fixed by the
            // layer's shape, so the numbers are the same whatever rows share a batch (both
            // backends give them to the bit today). A backend whose tile, and so its order of
            // summation, depended on the batch would differ by f32 reduction order only: at
            // most K x 2^-24 of the sum of |terms| of a K-term sum, K <= 4096 here, about
            // 2.4e-4 of it. The bound allowed: 1e-4 of the largest |value|.
            const BOUND: f64 = 1e-4;
            let (dc, ic) = worst_relative(got.changes.as_ref().unwrap(), single.changes.as_ref().unwrap());
            assert!(dc <= BOUND, "{name}: target {t}: changes differ by {dc:e} (relative) at {ic}");
            let (ds, is) = worst_relative(&got.start_logits, &single.start_logits);
            assert!(ds <= BOUND, "{name}: target {t}: starting logits differ by {ds:e} (relative) at {is}");
            let (d, i) = worst_relative(&got.cov, &single.cov);
            assert!(d <= BOUND, "{name}: target {t}: covariance differs by {d:e} (relative) at ({}, {})", i / features, i % features);
            let means = [got.start_mean, got.end_mean_up, got.end_mean_down].map(|m| m as f32);
            let want = [single.start_mean, single.end_mean_up, single.end_mean_down].map(|m| m as f32);
            assert_close(&format!("{name}: target {t} means"), &means, &want, 1e-4, 1e-5);
        }
    }
}
