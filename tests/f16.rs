//! f16 convolution weights on the GPU (`--weights-f16`): both convolution kernels, forward and
//! input-gradient, against the CPU reference on the same weights rounded to f16 (tightly) and
//! on the f32 weights (within the rounding's own bound); the buffers they take, their read-back
//! and writes; a probe on the tiny models; and the options and reports of the commands.
//!
//! Small shapes, multiples of no tile, odd weight counts (a half-filled last word).

use std::sync::{Mutex, OnceLock};

use crate::common::*;
use gan_bias::backend::cpu::CpuBackend;
use gan_bias::backend::gpu::{GpuBackend, GpuError, weights};
use gan_bias::backend::{Backend, BackendError, WeightPrecision};
use gan_bias::model::Network;
use gan_bias::ops::Op;
use gan_bias::ops::act::{Act, Epilogue};
use gan_bias::ops::conv_transpose2d::ConvTranspose;
use gan_bias::ops::conv2d::{Conv, ConvArgs, ConvDims};
use gan_bias::ops::covariance::{ColumnMean, CovArgs};
use gan_bias::ops::{BufId, StepParams};
use gan_bias::probe::{ProbeSettings, run_probe};
use gan_bias::program::{Phase, Program};
use gan_bias::stats::top_covarying;
use half::f16;
use serde_json::Value;

/// How far a tiny probe's covariance may move with f16 weights, as a fraction of its largest
/// value (see [`probe_with_f16_weights_matches_the_cpu`]).
const PROBE_TOLERANCE: f32 = 0.1;

/// Unit roundoff of f16: rounding to nearest moves a normal value by at most this fraction.
const F16_EPS: f32 = 1.0 / 2048.0;

/// A small seeded generator (an LCG), so every run sees the same values.
struct Rng(u64);

impl Rng {
    /// Uniform in [-scale, scale).
    fn vec(&mut self, len: usize, scale: f32) -> Vec<f32> {
        (0..len)
            .map(|_| {
                self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                scale * (2.0 * ((self.0 >> 40) as f32 / (1u64 << 24) as f32) - 1.0)
            })
            .collect()
    }
}

fn rounded(w: &[f32]) -> Vec<f32> {
    w.iter().map(|&x| f16::from_f32(x).to_f32()).collect()
}

/// One GPU backend for the tests of this file (opening an adapter is the slow part); each test
/// sets the weight precision it needs.
fn with_gpu<R>(weights: WeightPrecision, f: impl FnOnce(&mut GpuBackend) -> R) -> R {
    static GPU: OnceLock<Mutex<GpuBackend>> = OnceLock::new();
    let mut gpu = GPU.get_or_init(|| Mutex::new(gpu())).lock().unwrap_or_else(|p| p.into_inner());
    gpu.weights = weights;
    f(&mut gpu)
}

fn run(b: &mut dyn Backend, p: &Program, init: &[(BufId, Vec<f32>)], outs: &[BufId]) -> Vec<Vec<f32>> {
    b.load(p).unwrap();
    for (id, data) in init {
        b.write(*id, data).unwrap();
    }
    b.run(Phase::Step, StepParams::new(0, 0, 0, 1)).unwrap();
    outs.iter().map(|&id| b.read(id).unwrap()).collect()
}

// ---------------------------------------------------------------------------------------------
// The kernels

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Conv,
    Transpose,
}

/// A layer and its input-gradient, as the probe runs them: the forward op (bias, LeakyReLU)
/// and the adjoint kernel on the same weight buffer (tanh's derivative as the mask).
struct Layer {
    kind: Kind,
    fwd: ConvDims,
    w: Vec<f32>,
    b: Vec<f32>,
    x: Vec<f32>,
    grad: Vec<f32>,
    aux: Vec<f32>,
}

fn layers() -> Vec<Layer> {
    let mut rng = Rng(7);
    // (kind, n, cin, hin, win, cout, k, stride, pad): M, N and K multiples of no tile; odd weight
    // counts (135, 189); several tiles of channels (70); stride 3 with phases few taps reach.
    let shapes = [
        (Kind::Conv, 2, 5, 7, 6, 3, 3, 2, 1),
        (Kind::Transpose, 2, 5, 4, 3, 7, 4, 2, 1),
        (Kind::Conv, 3, 3, 9, 10, 70, 3, 1, 1),
        (Kind::Transpose, 1, 7, 5, 4, 3, 3, 3, 0),
    ];
    shapes
        .iter()
        .map(|&(kind, n, cin, hin, win, cout, k, stride, pad)| {
            let (hout, wout) = match kind {
                Kind::Conv => ((hin + 2 * pad - k) / stride + 1, (win + 2 * pad - k) / stride + 1),
                Kind::Transpose => ((hin - 1) * stride + k - 2 * pad, (win - 1) * stride + k - 2 * pad),
            };
            let fwd = ConvDims { n, cin, hin, win, cout, hout, wout, k, stride, pad };
            let scale = 1.7 / ((cin * k * k) as f32).sqrt();
            Layer {
                kind,
                fwd,
                w: rng.vec(fwd.weight_len(), scale),
                b: rng.vec(cout, 0.5),
                x: rng.vec(fwd.in_len(), 1.0),
                grad: rng.vec(fwd.out_len(), 1.0),
                aux: rng.vec(fwd.in_len(), 0.999),
            }
        })
        .collect()
}

/// A program, what to write into its buffers, and its outputs by name.
type Built = (Program, Vec<(BufId, Vec<f32>)>, Vec<(String, BufId)>);

/// The program of every layer's forward op and input-gradient, on weights `weights(layer)`;
/// `bound`: every weight and input by its absolute value, no bias, no activation, which gives
/// each output's sum of |w x| (what rounding the weights can move it by, over F16_EPS).
fn program(layers: &[Layer], weights: impl Fn(&Layer) -> Vec<f32>, bound: bool) -> Built {
    let mut p = Program::default();
    let (mut init, mut outs) = (Vec::new(), Vec::new());
    let abs = |v: &[f32]| -> Vec<f32> { if bound { v.iter().map(|x| x.abs()).collect() } else { v.to_vec() } };
    for (i, l) in layers.iter().enumerate() {
        let d = l.fwd;
        let adj = ConvDims { cin: d.cout, hin: d.hout, win: d.wout, cout: d.cin, hout: d.hin, wout: d.win, ..d };
        let w = p.constant(format!("layer {i} weight"), abs(&weights(l)));
        let b = (!bound).then(|| p.constant(format!("layer {i} bias"), l.b.clone()));
        let (x, y) = (p.buffer(format!("layer {i} x"), d.in_len()), p.buffer(format!("layer {i} y"), d.out_len()));
        let (g, dx) = (p.buffer(format!("layer {i} grad"), d.out_len()), p.buffer(format!("layer {i} dx"), d.in_len()));
        let aux = (!bound).then(|| p.buffer(format!("layer {i} aux"), d.in_len()));
        let (fwd_act, mask) = if bound {
            (Epilogue::Forward(Act::Identity), Epilogue::Forward(Act::Identity))
        } else {
            (Epilogue::Forward(Act::LeakyRelu(0.2)), Epilogue::GradMask(Act::Tanh))
        };
        let forward = ConvArgs {
            label: format!("layer {i} forward"),
            dims: d,
            input: x,
            weight: w,
            bias: b,
            aux: None,
            output: y,
            epilogue: fwd_act,
        };
        let backward = ConvArgs {
            label: format!("layer {i} input-gradient"),
            dims: adj,
            input: g,
            weight: w,
            bias: None,
            aux,
            output: dx,
            epilogue: mask,
        };
        let (f, bk) = match l.kind {
            Kind::Conv => (Op::Conv2d(Conv(forward)), Op::ConvTranspose2d(ConvTranspose(backward))),
            Kind::Transpose => (Op::ConvTranspose2d(ConvTranspose(forward)), Op::Conv2d(Conv(backward))),
        };
        p.push(Phase::Step, f);
        p.push(Phase::Step, bk);
        init.push((x, abs(&l.x)));
        init.push((g, abs(&l.grad)));
        if let Some(a) = aux {
            init.push((a, l.aux.clone()));
        }
        outs.push((format!("{:?} {d:?} forward", l.kind), y));
        outs.push((format!("{:?} {d:?} input-gradient", l.kind), dx));
    }
    (p, init, outs)
}

#[test]
fn f16_weight_convolutions_match_the_cpu_on_the_same_rounded_weights_and_stay_within_the_rounding_bound() {
    let layers = layers();
    let (p16, init, outs) = program(&layers, |l| l.w.clone(), false);
    let ids: Vec<BufId> = outs.iter().map(|(_, id)| *id).collect();
    let gpu = with_gpu(WeightPrecision::F16, |g| run(g, &p16, &init, &ids));
    let (p_round, ..) = program(&layers, |l| rounded(&l.w), false);
    let cpu_round = run(&mut CpuBackend::new(), &p_round, &init, &ids);
    let cpu_f32 = run(&mut CpuBackend::new(), &p16, &init, &ids);
    let (p_bound, init_bound, outs_bound) = program(&layers, |l| l.w.clone(), true);
    let bound = run(&mut CpuBackend::new(), &p_bound, &init_bound, &outs_bound.iter().map(|(_, id)| *id).collect::<Vec<_>>());
    let (mut worst_rounded, mut worst_f32, mut of_bound) = (0.0f32, 0.0f32, 0.0f32);
    for (i, (label, _)) in outs.iter().enumerate() {
        let (g, c) = (&gpu[i], &cpu_round[i]);
        let m = max_abs(c);
        // Same weights: only the order of the f32 sums differs, as between f32 GPU and CPU.
        assert_close(&format!("{label}: f16 GPU vs CPU on rounded weights"), g, c, 1e-5, 1e-5 * m);
        // The f32 weights: each output moves by at most F16_EPS * sum |w x| (every epilogue here
        // is 1-Lipschitz), plus the f32 sums' own differences.
        for (j, ((&gv, &fv), &bv)) in g.iter().zip(&cpu_f32[i]).zip(&bound[i]).enumerate() {
            let diff = (gv - fv).abs();
            let allowed = F16_EPS * bv + 1e-5 * m;
            assert!(diff <= allowed, "{label}: element {j}: f16 GPU {gv} vs f32 CPU {fv}: |diff| {diff:e} > {allowed:e}");
            if bv > 0.0 {
                of_bound = of_bound.max(diff / (F16_EPS * bv));
            }
        }
        worst_rounded = worst_rounded.max(g.iter().zip(c).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / m);
        worst_f32 = worst_f32.max(g.iter().zip(&cpu_f32[i]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max) / m);
    }
    println!(
        "f16 GPU vs CPU, max|diff|/max|cpu|: rounded weights {worst_rounded:.3e}, f32 weights {worst_f32:.3e} ({of_bound:.2} of the bound)"
    );
    // The weights really were rounded: the f32 result is further away than summation order goes.
    assert!(worst_f32 > 1e-5, "the f16 run matches the f32 weights to {worst_f32:e}: were the weights stored as f16?");
}

// ---------------------------------------------------------------------------------------------
// Buffers

/// One conv on a 135-value weight, one on a weight some other op also reads (which stays f32).
fn buffer_program() -> (Program, BufId, BufId, Vec<f32>, Vec<f32>) {
    let mut rng = Rng(3);
    let d = ConvDims { n: 1, cin: 5, hin: 4, win: 4, cout: 3, hout: 2, wout: 2, k: 3, stride: 1, pad: 0 };
    let (w1, w2) = (rng.vec(d.weight_len(), 0.3), rng.vec(d.weight_len(), 0.3));
    let mut p = Program::default();
    let x = p.buffer("x", d.in_len());
    let a = p.constant("packed weight", w1.clone());
    let b = p.constant("shared weight", w2.clone());
    let (y1, y2) = (p.buffer("y1", d.out_len()), p.buffer("y2", d.out_len()));
    let (mean, cov) = (p.buffer("mean", 5), p.buffer("cov", 25));
    let conv = |weight, output, label: &str| {
        Op::Conv2d(Conv(ConvArgs {
            label: label.into(),
            dims: d,
            input: x,
            weight,
            bias: None,
            aux: None,
            output,
            epilogue: Epilogue::Forward(Act::Identity),
        }))
    };
    p.push(Phase::Step, conv(a, y1, "packed"));
    p.push(Phase::Step, conv(b, y2, "shared"));
    p.push(Phase::Step, Op::ColumnMean(ColumnMean(CovArgs { rows_per_step: 27, steps: 1, slots: 1, features: 5, x: b, mean, cov })));
    (p, a, b, w1, w2)
}

#[test]
fn f16_weights_take_half_the_bytes_read_back_rounded_and_are_written_whole() {
    let (p, a, b, w1, w2) = buffer_program();
    let mut g = gpu().with_weights(WeightPrecision::F16);
    assert_eq!(g.weight_precision(), WeightPrecision::F16);
    g.load(&p).unwrap();
    let bytes16 = g.buffer_bytes();
    assert_eq!(g.read(a).unwrap(), rounded(&w1), "a packed weight reads back as its f16 values");
    assert_eq!(g.read(b).unwrap(), w2, "a weight another op reads as f32 stays f32");
    // Writes pack; a write that would split a word is refused.
    let new: Vec<f32> = w1.iter().map(|v| -2.0 * v).collect();
    g.write(a, &new).unwrap();
    assert_eq!(g.read(a).unwrap(), rounded(&new));
    g.write(a, &w1[..4]).unwrap();
    assert_eq!(g.read(a).unwrap()[..5], [rounded(&w1)[..4].to_vec(), rounded(&new[4..5])].concat()[..]);
    match g.write(a, &w1[..3]) {
        Err(BackendError::Gpu(GpuError::PackedWrite { label, given: 3 })) => assert_eq!(label, "packed weight"),
        other => panic!("an odd partial write: {other:?}"),
    }
    // f32: the buffer peak grows by exactly what packing saved on the one packed buffer.
    g.weights = WeightPrecision::F32;
    g.load(&p).unwrap();
    assert_eq!(g.read(a).unwrap(), w1);
    let saved = 135 * 4 - weights::packed_bytes(135);
    assert_eq!(saved, 268);
    assert_eq!(g.buffer_bytes() - bytes16, saved);
}

#[test]
fn unknown_buffer_ids_are_errors_on_both_backends() {
    let (p, ..) = buffer_program();
    let backends: [Box<dyn Backend>; 2] = [Box::new(CpuBackend::new()), Box::new(gpu())];
    for mut b in backends {
        b.load(&p).unwrap();
        let far = BufId(10_000);
        assert!(matches!(b.read(far), Err(BackendError::NotLoaded)), "{}: read of an unknown buffer", b.describe());
        assert!(matches!(b.write(far, &[1.0]), Err(BackendError::NotLoaded)), "{}: write to an unknown buffer", b.describe());
    }
}

#[test]
fn weights_beyond_f16_are_refused_naming_the_buffer() {
    let (mut p, a, ..) = buffer_program();
    let mut big = p.buffers[a.0].init.as_deref().unwrap().clone();
    big[17] = 1e5;
    p.buffers[a.0].init = Some(big.into());
    let err = with_gpu(WeightPrecision::F16, |g| g.load(&p).err()).expect("a weight of 1e5 loaded as f16");
    let msg = err.to_string();
    assert!(msg.contains("packed weight") && msg.contains("index 17") && msg.contains("100000"), "{msg}");
    with_gpu(WeightPrecision::F32, |g| g.load(&p)).unwrap();
}

/// One program with each precision in turn on one backend: each runs its own kernel (the f16
/// twin is a shader of its own name, which keys the pipeline cache).
#[test]
fn f16_and_f32_weights_alternate_on_one_backend() {
    let layers = layers();
    let (p, init, outs) = program(&layers[..1], |l| l.w.clone(), false);
    let ids: Vec<BufId> = outs.iter().map(|(_, id)| *id).collect();
    let cpu = run(&mut CpuBackend::new(), &p, &init, &ids);
    let (p_round, ..) = program(&layers[..1], |l| rounded(&l.w), false);
    let cpu_round = run(&mut CpuBackend::new(), &p_round, &init, &ids);
    for precision in [WeightPrecision::F16, WeightPrecision::F32, WeightPrecision::F16] {
        let got = with_gpu(precision, |g| run(g, &p, &init, &ids));
        let want = if precision == WeightPrecision::F16 { &cpu_round } else { &cpu };
        for (i, (label, _)) in outs.iter().enumerate() {
            assert_close(&format!("{label} {precision:?}"), &got[i], &want[i], 1e-5, 1e-5 * max_abs(&want[i]));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A probe

fn rounded_network(net: &Network) -> Network {
    map_weights(net, rounded)
}

/// The tiny models, 3 images x 4 steps: the f16 GPU run against the CPU reference on the
/// rounded weights (as close as an f32 GPU run is to the CPU) and on the f32 weights.
#[test]
fn probe_with_f16_weights_matches_the_cpu() {
    let generator = generator(&fixture("tiny_coursera_gen.safetensors"));
    let classifier = classifier(&fixture("tiny_classifier.safetensors"));
    let noise = gan_bias::rng::torch_randn(0, 3 * generator.input[0]);
    let settings = ProbeSettings { target: 20, steps: 4, update: gan_bias::ops::noise_update::UpdateRule::Notebook, max_batch: None };
    let gpu16 = with_gpu(WeightPrecision::F16, |g| run_probe(g, &generator, &classifier, &noise, &settings)).unwrap();
    let (gen_r, cls_r) = (rounded_network(&generator), rounded_network(&classifier));
    let cpu_round = run_probe(&mut CpuBackend::new(), &gen_r, &cls_r, &noise, &settings).unwrap();
    let cpu = run_probe(&mut CpuBackend::new(), &generator, &classifier, &noise, &settings).unwrap();
    let m = max_abs(&cpu.cov);
    assert_close("f16 GPU probe vs CPU on rounded weights: covariance", &gpu16.cov, &cpu_round.cov, 2e-3, 1e-4 * m);
    let diff = gpu16.cov.iter().zip(&cpu.cov).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    println!("probe covariance, f16 GPU vs f32 CPU: max|diff| {diff:.3e}, max|cov| {m:.3e} ({:.3e} of it)", diff / m);
    // The probe's covariance of logit changes over 4 steps of random tiny models is sensitive
    // to any change of the weights: multiplying each by 1 +- 2^-12 at random (half f16's
    // largest rounding) moves it by 0.05-0.12 of max|cov|; f16 rounding moves it by 0.056.
    assert_close("f16 GPU probe vs f32 CPU: covariance", &gpu16.cov, &cpu.cov, 0.0, PROBE_TOLERANCE * m);
    let top = |o: &gan_bias::probe::ProbeOutcome| {
        let mut t: Vec<usize> = top_covarying(&o.cov, &classifier.features, 20, 10).iter().map(|t| t.index).collect();
        t.sort();
        t
    };
    assert_eq!(top(&gpu16), top(&cpu), "the top 10 features, f16 GPU vs f32 CPU");
    let means = |o: &gan_bias::probe::ProbeOutcome| [o.start_mean as f32, o.end_mean_up as f32, o.end_mean_down as f32];
    assert_close("f16 GPU probe vs CPU on rounded weights: target means", &means(&gpu16), &means(&cpu_round), 1e-4, 1e-4);
    // The starting logits move by f16's rounding; the distance the steps move them, by up to
    // 2.6% here (1.91 vs 1.96 down).
    let (m16, m32) = (means(&gpu16), means(&cpu));
    assert_close("f16 GPU probe vs f32 CPU: start mean", &m16[..1], &m32[..1], 2e-3, 0.0);
    let moved = |m: [f32; 3]| [m[1] - m[0], m[2] - m[0]];
    assert_close("f16 GPU probe vs f32 CPU: target mean moved up / down", &moved(m16), &moved(m32), 0.05, 0.0);
}

// ---------------------------------------------------------------------------------------------
// The commands

#[test]
fn probe_reports_f16_weights_and_the_cpu_backend_refuses_them() {
    let dir = tempfile::tempdir().unwrap();
    let (j16, j32) = (dir.path().join("f16.json"), dir.path().join("cpu.json"));
    let a16 = probe_args(&["--json", &j16.display().to_string(), "--weights-f16"]);
    // probe_args runs the CPU backend; the option needs a WGSL one.
    let a16: Vec<String> = a16.iter().map(|s| if s == "cpu" { "vulkan".to_string() } else { s.clone() }).collect();
    let out = succeeds(&a16);
    assert!(out.lines().nth(1).is_some_and(|l| l.starts_with("# adapter: ") && l.contains("weights stored as f16")), "{out}");
    succeeds(&probe_args(&["--json", &j32.display().to_string()]));
    let (r16, r32) = (read_json(&j16), read_json(&j32));
    assert_eq!(r16["settings"]["weight_precision"], "f16");
    assert_eq!(r32["settings"]["weight_precision"], "f32");
    let flat = |v: &Value| -> Vec<f32> {
        v["covariance"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap().clone()).map(|x| x.as_f64().unwrap() as f32).collect()
    };
    let (c16, c32) = (flat(&r16), flat(&r32));
    assert_close("probe --weights-f16 (vulkan) vs --backend cpu: covariance", &c16, &c32, 0.0, PROBE_TOLERANCE * max_abs(&c32));

    let out = gan(&probe_args(&["--weights-f16"]));
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.contains("XDG_RUNTIME_DIR") && !l.trim().is_empty()).collect();
    assert!(!out.status.success() && lines.len() == 1, "{err}");
    assert!(lines[0].contains("--weights-f16") && lines[0].contains("CPU backend"), "{err}");
}

#[test]
fn bench_reports_the_weight_precision_in_table_json_csv_and_compare() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let bench = |extra: &[&str]| {
        let mut a = strs(&["bench", "--backend", "vulkan", "--images", "1", "--warmup", "0", "--repeats", "1", "--generator"]);
        a.extend([fixture("tiny_dcgan_gen.safetensors").display().to_string(), "--classifier".into()]);
        a.push(fixture("tiny_classifier.safetensors").display().to_string());
        a.extend(strs(extra));
        succeeds(&a)
    };
    let out = bench(&["--weights-f16", "--json", &path("f16.json"), "--csv", &path("f16.csv")]);
    assert!(out.contains("# precision: weights f16 "), "{out}");
    bench(&["--json", &path("f32.json")]);
    let (r16, r32) = (read_json(&dir.path().join("f16.json")), read_json(dir.path().join("f32.json").as_path()));
    assert_eq!(r16["runs"][0]["weight_precision"], "f16");
    assert_eq!(r32["runs"][0]["weight_precision"], "f32");
    let bytes = |r: &Value| r["runs"][0]["buffer_bytes"].as_u64().unwrap();
    assert!(bytes(&r16) < bytes(&r32), "f16 {} bytes, f32 {}", bytes(&r16), bytes(&r32));
    let csv = std::fs::read_to_string(dir.path().join("f16.csv")).unwrap();
    assert!(csv.lines().next().unwrap().ends_with(",error,weight_precision,peak_gflop_per_s,peak_fraction"), "{csv}");
    // No peak measured or given: its two fields empty.
    assert!(csv.lines().skip(1).all(|l| l.ends_with(",f16,,")), "{csv}");
    // Merged: the f16 run is labelled as such; a file written before the field existed is f32.
    let out = succeeds(&strs(&["bench", "compare", &path("f32.json"), &path("f16.json"), "--json", &path("cmp.json")]));
    assert!(out.contains("f16 weights") && out.contains(", f32 weights, "), "{out}");
    let cmp = read_json(dir.path().join("cmp.json").as_path());
    assert_eq!(cmp["columns"][1]["weight_precision"], "f16");
    assert!(cmp["columns"][1]["label"].as_str().unwrap().ends_with("f16 weights"), "{cmp}");
    let old = fixture("bench/run_a.json");
    assert!(!std::fs::read_to_string(&old).unwrap().contains("weight_precision"));
    succeeds(&strs(&["bench", "compare", &old.display().to_string(), "--json", &path("old.json")]));
    assert_eq!(read_json(dir.path().join("old.json").as_path())["columns"][0]["weight_precision"], "f32");
}
