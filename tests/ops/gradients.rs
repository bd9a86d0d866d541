//! Input-gradients of whole chained networks against central differences in f64.

use crate::common::ops::*;
use gan_bias::backend::Backend;
use gan_bias::backend::cpu::CpuBackend;

/// An independent forward pass in f64, straight from PyTorch's definitions (a transposed
/// convolution scatters each input pixel; here it is gathered from the same relation
/// `oy = iy * stride + ky - pad`). Returns the last stage's output.
fn forward64(stages: &[ConvView], input: &[f64]) -> Vec<f64> {
    let rows = input.len() / stages[0].in_len();
    let mut x = input.to_vec();
    for s in stages {
        let (k, st, pad) = (s.k as isize, s.stride as isize, s.pad as isize);
        let mut y = vec![0.0f64; rows * s.out_len()];
        for b in 0..rows {
            for o in 0..s.cout {
                for oy in 0..s.hout as isize {
                    for ox in 0..s.wout as isize {
                        let mut sum = s.bias.as_ref().map_or(0.0, |v| v[o] as f64);
                        for i in 0..s.cin {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let (iy, ix, w) = match s.kind {
                                        ConvKind::Conv => (
                                            oy * st + ky - pad,
                                            ox * st + kx - pad,
                                            s.weight[((o * s.cin + i) * s.k + ky as usize) * s.k + kx as usize],
                                        ),
                                        ConvKind::Transpose => {
                                            let (ty, tx) = (oy + pad - ky, ox + pad - kx);
                                            if ty.rem_euclid(st) != 0 || tx.rem_euclid(st) != 0 {
                                                continue;
                                            }
                                            (
                                                ty.div_euclid(st),
                                                tx.div_euclid(st),
                                                s.weight[((i * s.cout + o) * s.k + ky as usize) * s.k + kx as usize],
                                            )
                                        }
                                    };
                                    if iy < 0 || ix < 0 || iy >= s.hin as isize || ix >= s.win as isize {
                                        continue;
                                    }
                                    sum += w as f64 * x[((b * s.cin + i) * s.hin + iy as usize) * s.win + ix as usize];
                                }
                            }
                        }
                        y[((b * s.cout + o) * s.hout + oy as usize) * s.wout + ox as usize] = match s.act {
                            Act::Identity => sum,
                            Act::Relu => sum.max(0.0),
                            Act::LeakyRelu(a) => {
                                if sum > 0.0 {
                                    sum
                                } else {
                                    a as f64 * sum
                                }
                            }
                            Act::Tanh => sum.tanh(),
                            Act::Sigmoid => 1.0 / (1.0 + (-sum).exp()),
                            Act::Clip(hi) => sum.clamp(0.0, hi as f64),
                            Act::HardSigmoid(a) => (a as f64 * sum + 0.5).clamp(0.0, 1.0),
                        };
                    }
                }
            }
        }
        x = y;
    }
    x
}

/// mean over rows of logits[:, target], in f64.
fn objective64(stages: &[ConvView], z: &[f64], target: usize) -> f64 {
    let logits = forward64(stages, z);
    let features = stages.last().unwrap().out_len();
    let rows = logits.len() / features;
    (0..rows).map(|r| logits[r * features + target]).sum::<f64>() / rows as f64
}

/// `evaluate`'s input_grad (f32, on backend `b`) against central differences of
/// mean(logits[:, target]), along random directions and single coordinates.
///
/// The differences come from the f64 forward pass above, whose logits are first checked against
/// the backend's: the chained tiny models hold thousands of ReLU kinks, so the objective is only
/// linear within ~1e-4 of a point, where f32 forward passes have too little precision for a
/// central difference (at eps = 1e-2 it is off by 60%, at 1e-3 by 30%); in f64 with eps = 1e-6
/// the difference agrees with the true gradient to ~1e-5.
fn finite_differences(b: &mut dyn Backend, name: &str, gen_file: &str) -> f64 {
    let generator = generator(&fixture(gen_file));
    let classifier = classifier(&fixture("tiny_classifier.safetensors"));
    let graph = chain(&generator, &classifier).unwrap();
    let stages = conv_nodes(&graph);
    let acts: Vec<Act> = stages.iter().map(|s| s.act).collect();
    for want in [Act::Relu, Act::LeakyRelu(0.2), Act::Tanh] {
        assert!(acts.contains(&want), "{gen_file}: the chain has no {want:?} stage to check the gradient through");
    }
    let zdim = stages[0].in_len();
    let features = stages.last().unwrap().out_len();
    let mut rng = Rng::new(5);
    let rows = 2;
    let z: Vec<f32> = (0..rows * zdim).map(|_| rng.normal()).collect();
    let z64: Vec<f64> = z.iter().map(|&v| v as f64).collect();
    let logits64: Vec<f32> = forward64(&stages, &z64).iter().map(|&v| v as f32).collect();
    let eps = 1e-6;
    let mut worst = 0.0f64;
    for target in [0, features - 1] {
        let ev = evaluate(b, &graph, &z, target).unwrap();
        let logits = ev.outputs.last().unwrap();
        assert_close(&format!("{name} {gen_file}: logits vs f64 forward"), logits, &logits64, 1e-4, 1e-5 * max_abs(&logits64));
        let grad = ev.input_grad;
        assert_eq!(grad.len(), z.len());
        let norm = grad.iter().map(|&g| (g as f64).powi(2)).sum::<f64>().sqrt();
        assert!(norm > 1e-6, "{name} {gen_file}: zero gradient");
        let rms = norm / (grad.len() as f64).sqrt();
        let mut check = |dir: &[f64], what: String| {
            let shifted = |sign: f64| -> Vec<f64> { z64.iter().zip(dir).map(|(&v, &d)| v + sign * eps * d).collect() };
            let fd = (objective64(&stages, &shifted(1.0), target) - objective64(&stages, &shifted(-1.0), target)) / (2.0 * eps);
            let want: f64 = grad.iter().zip(dir).map(|(&g, &d)| g as f64 * d).sum();
            let dnorm = dir.iter().map(|d| d * d).sum::<f64>().sqrt();
            let rel = (fd - want).abs() / want.abs().max(0.1 * norm * dnorm);
            assert!(
                rel < 2e-3,
                "{name} {gen_file} target {target} {what}: input_grad gives {want:.6e}, central differences {fd:.6e} (relative {rel:.2e})"
            );
            worst = worst.max(rel);
        };
        for i in 0..3 {
            let dir: Vec<f64> = (0..z.len()).map(|_| rng.normal() as f64).collect();
            check(&dir, format!("random direction {i}"));
        }
        // Single coordinates with sizeable gradients.
        let mut picked = 0;
        for _ in 0..200 {
            let c = rng.below(z.len());
            if (grad[c] as f64).abs() < rms || picked >= 4 {
                continue;
            }
            let mut dir = vec![0.0; z.len()];
            dir[c] = 1.0;
            check(&dir, format!("coordinate {c} (row {}, column {})", c / zdim, c % zdim));
            picked += 1;
        }
        assert_eq!(picked, 4, "{name}: too few coordinates with sizeable gradients");
    }
    worst
}

#[test]
fn input_gradient_matches_finite_differences_cpu() {
    for gen_file in ["tiny_coursera_gen.safetensors", "tiny_dcgan_gen.safetensors"] {
        let w = finite_differences(&mut CpuBackend::new(), "cpu", gen_file);
        println!("finite differences, cpu, {gen_file}: worst relative {w:.3e}");
    }
}

#[test]
fn input_gradient_matches_finite_differences_cpu_fast() {
    for gen_file in ["tiny_coursera_gen.safetensors", "tiny_dcgan_gen.safetensors"] {
        let w = finite_differences(&mut CpuBackend::fast(), "cpu fast", gen_file);
        println!("finite differences, cpu fast, {gen_file}: worst relative {w:.3e}");
    }
}

#[test]
fn input_gradient_matches_finite_differences_gpu() {
    on_each_gpu(|| {
        for gen_file in ["tiny_coursera_gen.safetensors", "tiny_dcgan_gen.safetensors"] {
            let w = with_gpu(|g| finite_differences(g, "gpu", gen_file));
            println!("finite differences, gpu, {gen_file}: worst relative {w:.3e}");
        }
    });
}
