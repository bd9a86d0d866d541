//! ONNX models as both PyTorch exporters write them (tools/onnx/make_fixtures.py): read,
//! listed, run forward against PyTorch's output on every backend, probed as their
//! safetensors twins are, and hostile files refused in one line before anything is read.

use std::path::{Path, PathBuf};

use crate::common::*;
use gan_bias::backend::Backend;
use gan_bias::backend::cpu::CpuBackend;
use gan_bias::model::Network;
use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::probe::{ProbeOutcome, ProbeSettings, run_probe};
use safetensors::SafeTensors;

fn onnx(name: &str) -> PathBuf {
    fixture(&format!("onnx/{name}"))
}

/// The one tensor of a safetensors file: (name, shape, values).
fn only_tensor(path: &Path) -> (String, Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let (name, view) = st.tensors().into_iter().next().unwrap();
    (name, view.shape().to_vec(), bytemuck::pod_collect_to_vec(view.data()))
}

#[test]
fn both_exporters_forward_as_pytorch_on_every_backend() {
    let (io, _) = golden("onnx/tiny_gen_io.safetensors");
    let want = &io["image"].1;
    let dir = tempfile::tempdir().unwrap();
    // One row too: any batch runs.
    let one = dir.path().join("one.safetensors");
    let z = &io["z"].1[..8];
    let view = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![1, 8, 1, 1], bytemuck::cast_slice(z)).unwrap();
    std::fs::write(&one, safetensors::serialize([("noise", view)], None).unwrap()).unwrap();
    for (model, out_name) in [("tiny_gen_ts.onnx", "image"), ("tiny_gen_dynamo.onnx", "tanh")] {
        for backend in ["cpu", "vulkan", "gl"] {
            let out = dir.path().join(format!("{model}.{backend}.safetensors"));
            let args = strs(&[
                "forward",
                &p(&onnx(model)),
                "--input",
                &p(&fixture("onnx/tiny_gen_io.safetensors")),
                "-o",
                &p(&out),
                "--backend",
                backend,
            ]);
            // The file holds z and image: the input is found by the graph input's name.
            succeeds(&args);
            let (name, shape, got) = only_tensor(&out);
            assert_eq!((name.as_str(), shape.as_slice()), (out_name, &[5, 3, 8, 8][..]), "{model} {backend}");
            assert_close(&format!("{model} on {backend}"), &got, want, 1e-5, 1e-5);
            let args = strs(&["forward", &p(&onnx(model)), "--input", &p(&one), "-o", &p(&out), "--backend", backend]);
            succeeds(&args);
            let (_, shape, got) = only_tensor(&out);
            assert_eq!(shape, [1, 3, 8, 8]);
            assert_close(&format!("{model} on {backend}, one row"), &got, &want[..192], 1e-5, 1e-5);
        }
    }
}

fn probe(backend: &mut dyn Backend, g: &Network, c: &Network) -> ProbeOutcome {
    let noise = gan_bias::rng::torch_randn(0, 4 * g.input[0]);
    let settings = ProbeSettings { target: 20, steps: 3, update: UpdateRule::Notebook, max_batch: None };
    run_probe(backend, g, c, &noise, &settings).unwrap_or_else(|e| panic!("{e}"))
}

/// The tiny notebook presets exported by each exporter give their safetensors twins' probe,
/// to 1e-5 of the covariance's scale (the exporters fold the classifier's BatchNorms
/// themselves, rounding differently); the generators exported by the TorchScript exporter
/// (whose BatchNorms are folded here, as for the twins) draw the same images bit for bit. The
/// export with a fixed batch of 1 runs at batch 4.
#[test]
fn exported_presets_probe_as_their_safetensors_twins() {
    let (g0, c0) = (generator(&fixture("tiny_coursera_gen.safetensors")), classifier(&fixture("tiny_classifier.safetensors")));
    let mut backends: Vec<(&str, Box<dyn Backend>)> = vec![("cpu", Box::new(CpuBackend::new())), ("gpu", Box::new(gpu()))];
    let noise = gan_bias::rng::torch_randn(1, 5 * g0.input[0]);
    for (name, backend) in backends.iter_mut() {
        let want = probe(backend.as_mut(), &g0, &c0);
        let images = gan_bias::probe::generate(backend.as_mut(), &g0.graph, &noise).unwrap();
        for (gen_file, cls, exact_images) in [
            ("tiny_coursera_ts.onnx", "tiny_classifier_ts.onnx", true),
            ("tiny_coursera_fixed1.onnx", "tiny_classifier_ts.onnx", true),
            ("tiny_coursera_dynamo.onnx", "tiny_classifier_dynamo.onnx", false),
        ] {
            let g = generator(&onnx(gen_file));
            let c = classifier(&onnx(cls));
            assert_eq!((g.arch, c.features.len(), c.features[20].as_str()), ("onnx", 40, "Male"));
            let got = gan_bias::probe::generate(backend.as_mut(), &g.graph, &noise).unwrap();
            if exact_images {
                assert!(got == images, "{name}: {gen_file} draws other images than its twin");
            } else {
                assert_close(&format!("{name}: {gen_file} images"), &got, &images, 1e-4, 1e-5);
            }
            let got = probe(backend.as_mut(), &g, &c);
            let scale = max_abs(&want.cov);
            assert_close(&format!("{name}: {gen_file} + {cls}"), &got.cov, &want.cov, 1e-4, 1e-5 * scale);
            assert_close(&format!("{name}: {gen_file} + {cls} logits"), &got.start_logits, &want.start_logits, 1e-4, 1e-5);
        }
    }
}

#[test]
fn import_list_shows_every_node_and_marks_what_is_not_supported() {
    let out = succeeds(&strs(&["import", "--list", &p(&onnx("tiny_gen_ts.onnx"))]));
    for needle in [
        "opset 17",
        "input z [N, 8, 1, 1]",
        "/main/main.0/ConvTranspose",
        "[N, 12, 4, 4]",
        "BatchNormalization",
        "[N, 3, 8, 8]",
        "all 5 nodes are supported",
        "runs as 2 fused node(s)",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    let out = succeeds(&strs(&["import", "--list", &p(&onnx("hostile_op.onnx"))]));
    assert!(out.contains("Softsign            ?  UNSUPPORTED: op Softsign is not supported"), "{out}");
    assert!(out.contains("1 of 5 nodes are not supported; supported ops: Add, AveragePool, BatchNormalization"), "{out}");
    let out = succeeds(&strs(&["import", "--list", &p(&onnx("tiny_coursera_fixed1.onnx"))]));
    assert!(out.contains("exported with a fixed batch of 1"), "{out}");
}

/// `probe` with `flag model`, which must fail in one line holding every needle, writing no
/// JSON report.
fn refused(flag: &str, model: &Path, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let mut args = strs(&["probe", "--backend", "cpu", "--images", "2", "--steps", "2", "--feature", "Male", "--json", &p(&json)]);
    args.extend(strs(&[flag, &p(model)]));
    fails(&args, needles);
    assert!(!json.exists(), "{}: a refused run wrote its report", model.display());
}

#[test]
fn hostile_models_are_refused_in_one_line_naming_the_problem() {
    refused(
        "--generator",
        &onnx("hostile_absolute.onnx"),
        &["hostile_absolute.onnx", "main.0.weight", "\"/etc/passwd\" outside the model's folder"],
    );
    refused("--generator", &onnx("hostile_dotdot.onnx"), &["hostile_dotdot.onnx", "\"../outside.bin\" outside the model's folder"]);
    refused(
        "--generator",
        &onnx("hostile_short.onnx"),
        &["hostile_short.onnx", "main.0.weight", "holds 16 bytes, fewer than offset 0 + length 6144"],
    );
    refused(
        "--generator",
        &onnx("hostile_op.onnx"),
        &["node /main/main.4/Tanh (Softsign)", "op Softsign is not supported", "supported ops: Add, AveragePool, BatchNormalization, Cast"],
    );
    refused(
        "--generator",
        &onnx("hostile_fixed1_mixing.onnx"),
        &["node /Reshape", "mixes the rows", "dynamic_axes={\"z\": {0: \"batch\"}}"],
    );
    refused("--generator", &onnx("tiny_classifier_ts.onnx"), &["a generator's input must be noise", "(batch, 3, 64, 64)"]);
    refused("--classifier", &onnx("tiny_gen_ts.onnx"), &["a classifier's output must be logits (batch, F), not (batch, 3, 8, 8)"]);
    refused("--generator", &onnx("missing.onnx"), &["cannot read", "missing.onnx"]);
    // A symlink from the model's folder to a file outside it, refused before it is read.
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.bin");
    std::fs::write(&secret, vec![0u8; 8448]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny_gen_dynamo.onnx");
    std::fs::copy(onnx("tiny_gen_dynamo.onnx"), &model).unwrap();
    std::os::unix::fs::symlink(&secret, dir.path().join("tiny_gen_dynamo.onnx.data")).unwrap();
    refused("--generator", &model, &["main.0.weight", "resolves outside the model's folder"]);
    // The same folder with the real data file instead runs.
    std::fs::remove_file(dir.path().join("tiny_gen_dynamo.onnx.data")).unwrap();
    std::fs::copy(onnx("tiny_gen_dynamo.onnx.data"), dir.path().join("tiny_gen_dynamo.onnx.data")).unwrap();
    assert!(gan_bias::onnx::read(&model).is_ok());
}

/// Every cut of a model file, at every byte, is refused (never read as a smaller model).
#[test]
fn truncated_models_are_refused() {
    for model in ["tiny_gen_ts.onnx", "tiny_gen_dynamo.onnx"] {
        let path = onnx(model);
        let bytes = std::fs::read(&path).unwrap();
        for cut in 0..bytes.len() {
            let r = gan_bias::onnx::from_bytes(&bytes[..cut], &path).and_then(|m| m.check().map(|_| m));
            let m = r.err().unwrap_or_else(|| panic!("{model} cut at {cut} of {} was read", bytes.len()));
            assert!(!m.to_string().contains('\n'));
        }
    }
}

/// A classifier's forward and input-gradient of mean(logits[:, `target`]) (5 logits) against
/// PyTorch's float64 autograd (`{prefix}_golden.safetensors`) on every backend (both CPU
/// backends, every wgpu adapter of the tests), for both
/// exporters' files, and the input-gradient against central differences of the CPU backend's
/// own forward pass along seeded directions.
fn classifier_matches_pytorch_and_finite_differences(prefix: &str, target: usize, check: impl Fn(&gan_bias::graph::Graph)) {
    central_differences_with_step(prefix, target, 1e-3, check)
}

/// [`classifier_matches_pytorch_and_finite_differences`] with central differences of step
/// `eps` along each direction (smaller for models with many kinks, whose differences cross them).
fn central_differences_with_step(prefix: &str, target: usize, eps: f32, check: impl Fn(&gan_bias::graph::Graph)) {
    let (g, _) = golden(&format!("onnx/{prefix}_golden.safetensors"));
    let (images, logits, grad) = (&g["images"].1, &g["logits"].1, &g["grad"].1);
    let mut backends: Vec<(&str, Box<dyn Backend>)> =
        vec![("cpu", Box::new(CpuBackend::new())), ("cpu-fast", Box::new(CpuBackend::fast()))];
    for model in [format!("{prefix}_ts.onnx"), format!("{prefix}_dynamo.onnx")] {
        let (net, _) = gan_bias::load::onnx_network(&onnx(&model), gan_bias::model::Role::Classifier).unwrap();
        check(&net.graph);
        let agrees = |name: &str, b: &mut dyn Backend| {
            let ev = gan_bias::probe::evaluate(b, &net.graph, images, target).unwrap();
            assert_close(&format!("{model} {name} logits"), ev.outputs.last().unwrap(), logits, 1e-4, 1e-5);
            assert_close(&format!("{model} {name} input-gradient"), &ev.input_grad, grad, 1e-3, 1e-4 * max_abs(grad));
        };
        for (name, b) in backends.iter_mut() {
            agrees(name, b.as_mut());
        }
        // Every wgpu adapter of the tests: lavapipe (Vulkan) and llvmpipe (GL) by default.
        crate::common::ops::on_each_gpu(|| crate::common::ops::with_gpu(|g| agrees("gpu", g)));
        // Central differences of mean(logits[:, target]) along seeded directions, in f32 on the CPU.
        let cpu = &mut CpuBackend::new();
        let rows = images.len() / net.graph.input_len();
        let objective = |b: &mut CpuBackend, x: &[f32]| -> f64 {
            let out = gan_bias::probe::evaluate(b, &net.graph, x, target).unwrap().outputs.pop().unwrap();
            out.chunks(5).map(|r| r[target] as f64).sum::<f64>() / rows as f64
        };
        let ev = gan_bias::probe::evaluate(cpu, &net.graph, images, target).unwrap();
        let mut rng = SimRng(3);
        for k in 0..4 {
            let dir: Vec<f32> = (0..images.len()).map(|_| rng.normal() as f32).collect();
            let shifted = |s: f32| -> Vec<f32> { images.iter().zip(&dir).map(|(x, d)| x + s * eps * d).collect() };
            let fd = (objective(cpu, &shifted(1.0)) - objective(cpu, &shifted(-1.0))) / (2.0 * eps as f64);
            let want: f64 = ev.input_grad.iter().zip(&dir).map(|(&g, &d)| g as f64 * d as f64).sum();
            // Relative to the typical size of a directional derivative along a normal
            // direction, the gradient's norm (one along which it nearly cancels is no
            // smaller a test of the differences, only of their noise).
            let norm = ev.input_grad.iter().map(|&g| g as f64 * g as f64).sum::<f64>().sqrt();
            assert!(
                (fd - want).abs() <= 2e-2 * want.abs().max(norm).max(1e-6),
                "{model} direction {k}: input-gradient {want:.6e}, central differences {fd:.6e}"
            );
        }
    }
}

/// The per-channel affine kernel's ops: a BatchNorm that follows no convolution, products,
/// sums and quotients with scalar and per-channel constants, activations on their own.
#[test]
fn affine_ops_match_pytorch_and_finite_differences() {
    classifier_matches_pytorch_and_finite_differences("tiny_affine", 2, |g| {
        let tanh = gan_bias::ops::act::Act::Tanh;
        assert!(
            g.nodes.iter().any(|n| n.op == gan_bias::graph::NodeOp::Affine { axis: 0, scale: true, shift: true, act: tanh }),
            "{}",
            g.listing()
        );
    });
}

/// Linear layers (Gemm, and MatMul + Add), a BatchNorm1d between them, Flatten.
#[test]
fn linear_layers_match_pytorch_and_finite_differences() {
    classifier_matches_pytorch_and_finite_differences("tiny_linear", 2, |g| {
        let convs = g.nodes.iter().filter(|n| matches!(&n.op, gan_bias::graph::NodeOp::Conv(a) if a.kernel == [1, 1])).count();
        assert_eq!(convs, 3, "{}", g.listing());
    });
}

/// A generator and a small classifier exported both ways (`{gen}_*.onnx`, `{judge}_*.onnx`):
/// their images and the notebook's probe (6 images, 4 steps each way, target 1) against
/// PyTorch's in float64 (`{gen_name}_probe.safetensors`), the covariance within 1e-3 of its scale,
/// on the CPU backends and the GPU.
fn probes_as_pytorch(gen_name: &str, judge: &str, check: impl Fn(&gan_bias::graph::Graph)) {
    let (g, _) = golden(&format!("onnx/{gen_name}_probe.safetensors"));
    let (noise, images, cov) = (&g["noise"].1, &g["images"].1, &g["covariance"].1);
    let mut backends: Vec<(&str, Box<dyn Backend>)> =
        vec![("cpu", Box::new(CpuBackend::new())), ("cpu-fast", Box::new(CpuBackend::fast())), ("gpu", Box::new(gpu()))];
    let names = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(names.path(), "a\nb\nc\nd\ne\n").unwrap();
    for exporter in ["ts", "dynamo"] {
        let gen_net = generator(&onnx(&format!("{gen_name}_{exporter}.onnx")));
        let judge =
            gan_bias::load::classifier(Some(&onnx(&format!("{judge}_{exporter}.onnx"))), None, Some(&gen_net), Some(names.path())).unwrap();
        check(&gen_net.graph);
        for (name, b) in backends.iter_mut() {
            let got = gan_bias::probe::generate(b.as_mut(), &gen_net.graph, noise).unwrap();
            assert_close(&format!("{gen_name} {exporter} {name} images"), &got, images, 1e-4, 1e-5);
            let settings = ProbeSettings { target: 1, steps: 4, update: UpdateRule::Notebook, max_batch: None };
            let out = run_probe(b.as_mut(), &gen_net, &judge, noise, &settings).unwrap();
            let scale = max_abs(cov);
            assert_close(&format!("{gen_name} {exporter} {name} covariance"), &out.cov, cov, 1e-3, 1e-3 * scale);
        }
    }
}

/// A WGAN-GP-style generator: Linear, reshape, BatchNorm, ReLU, nearest upsampling, 3x3
/// convolutions, Tanh.
#[test]
fn wgan_style_generator_probes_as_pytorch() {
    probes_as_pytorch("tiny_wgan", "tiny_judge", |g| {
        assert!(g.nodes.iter().any(|n| matches!(n.op, gan_bias::graph::NodeOp::ResizeNearest { .. })), "{}", g.listing());
    });
}

/// An SNGAN-style residual generator: one tensor down two branches and added back, so its
/// gradient is the sum of both branches'.
#[test]
fn sngan_style_residual_generator_probes_as_pytorch() {
    probes_as_pytorch("tiny_sngan", "tiny_judge8", |g| {
        assert!(g.nodes.iter().any(|n| matches!(n.op, gan_bias::graph::NodeOp::Add { .. })), "{}", g.listing());
        let plan = gan_bias::program::reverse::plan(g).unwrap();
        assert!(plan.steps.iter().any(|s| matches!(s, gan_bias::program::reverse::Step::Sum { .. })), "no gradient sum: {:?}", plan.steps);
    });
}

/// A classifier that ends in a Sigmoid is read without it (the probe works on logits), says so
/// in the printed header and the JSON report, and probes as the same classifier without it.
#[test]
fn a_final_sigmoid_is_dropped_and_said() {
    let names = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(names.path(), "a\nb\nc\nd\ne\n").unwrap();
    let g = generator(&onnx("tiny_sngan_ts.onnx"));
    let noise = gan_bias::rng::torch_randn(2, 3 * g.input[0]);
    let settings = ProbeSettings { target: 1, steps: 3, update: UpdateRule::Notebook, max_batch: None };
    let plain = gan_bias::load::classifier(Some(&onnx("tiny_judge8_ts.onnx")), None, Some(&g), Some(names.path())).unwrap();
    let want = run_probe(&mut CpuBackend::new(), &g, &plain, &noise, &settings).unwrap();
    for exporter in ["ts", "dynamo"] {
        let c =
            gan_bias::load::classifier(Some(&onnx(&format!("tiny_judge8_sigmoid_{exporter}.onnx"))), None, Some(&g), Some(names.path()))
                .unwrap();
        assert_eq!(c.notes.len(), 1, "{exporter}: {:?}", c.notes);
        assert!(c.notes[0].contains("final Sigmoid") && c.notes[0].contains("dropped"), "{}", c.notes[0]);
        let got = run_probe(&mut CpuBackend::new(), &g, &c, &noise, &settings).unwrap();
        assert_close(&format!("{exporter}: probe without the Sigmoid"), &got.cov, &want.cov, 1e-5, 1e-6 * max_abs(&want.cov));
    }
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("out.json");
    let out = succeeds(&strs(&[
        "probe",
        "--backend",
        "cpu",
        "--images",
        "2",
        "--steps",
        "2",
        "--feature",
        "b",
        "--json",
        &p(&json),
        "--generator",
        &p(&onnx("tiny_sngan_ts.onnx")),
        "--classifier",
        &p(&onnx("tiny_judge8_sigmoid_ts.onnx")),
        "--feature-names",
        &p(names.path()),
    ]));
    assert!(out.lines().any(|l| l.starts_with("# classifier ") && l.contains("final Sigmoid")), "{out}");
    let report = read_json(&json);
    assert!(report["settings"]["classifier"]["notes"][0].as_str().unwrap().contains("final Sigmoid"), "{report}");
    // The all-target matrix says it too, in its header and its report's settings.
    let json = dir.path().join("matrix.json");
    let mut args = strs(&["probe", "--backend", "cpu", "--images", "2", "--steps", "2", "--features", "a,b", "--json", &p(&json)]);
    args.extend(strs(&["--generator", &p(&onnx("tiny_sngan_ts.onnx")), "--classifier", &p(&onnx("tiny_judge8_sigmoid_dynamo.onnx"))]));
    args.extend(strs(&["--feature-names", &p(names.path())]));
    let out = succeeds(&args);
    assert!(out.lines().any(|l| l.starts_with("# classifier ") && l.contains("final Sigmoid")), "{out}");
    let report = read_json(&json);
    assert!(report["settings"]["classifier"]["notes"][0].as_str().unwrap().contains("final Sigmoid"), "{report}");
}

/// Products, differences and quotients of two computed tensors, a Concat along channels with
/// the image among its inputs, a constant Pad of 0.5 and a zero one.
#[test]
fn elementwise_concat_and_pad_match_pytorch_and_finite_differences() {
    classifier_matches_pytorch_and_finite_differences("tiny_mix", 3, |g| {
        use gan_bias::graph::NodeOp;
        use gan_bias::ops::binary::BinOp;
        let has = |f: &dyn Fn(&NodeOp) -> bool| g.nodes.iter().any(|n| f(&n.op));
        for op in [BinOp::Sub, BinOp::Mul, BinOp::Div] {
            assert!(has(&|o| matches!(o, NodeOp::Binary { op: p, .. } if *p == op)), "{op:?}\n{}", g.listing());
        }
        assert!(has(&|o| matches!(o, NodeOp::Concat { axis: 0 })), "{}", g.listing());
        assert!(has(&|o| matches!(o, NodeOp::Pad { value, .. } if *value == 0.5)), "{}", g.listing());
    });
}

/// Convolutions the tiled kernels do not serve: a 3x2 kernel with per-axis strides, pads and
/// dilations; a grouped dilated one; a grouped transposed one with output padding.
#[test]
fn general_convolutions_match_pytorch_and_finite_differences() {
    classifier_matches_pytorch_and_finite_differences("tiny_convs", 1, |g| {
        let general = g.nodes.iter().filter(|n| matches!(&n.op, gan_bias::graph::NodeOp::Conv(a) | gan_bias::graph::NodeOp::ConvTranspose(a) if a.as_square().is_none())).count();
        assert_eq!(general, 4, "{}", g.listing());
    });
}

/// Bilinear resizing with half-pixel coordinates (by scale and by size, up and down) and
/// with align_corners.
#[test]
fn bilinear_resizing_matches_pytorch_and_finite_differences() {
    classifier_matches_pytorch_and_finite_differences("tiny_bilinear", 4, |g| {
        use gan_bias::ops::bilinear::Coord;
        let coords: Vec<Coord> = g
            .nodes
            .iter()
            .filter_map(|n| match n.op {
                gan_bias::graph::NodeOp::ResizeBilinear { coord, .. } => Some(coord),
                _ => None,
            })
            .collect();
        assert_eq!(coords.len(), 3, "{}", g.listing());
        assert!(coords.contains(&Coord::AlignCorners), "{coords:?}");
    });
}

/// Max pooling (padded; dilated with ceil_mode), average pooling (ceil_mode without padded
/// positions counted; with them counted), GlobalAveragePool and ReduceMean over the image.
#[test]
fn pooling_matches_pytorch_and_finite_differences() {
    classifier_matches_pytorch_and_finite_differences("tiny_pool", 0, |g| {
        use gan_bias::graph::NodeOp;
        use gan_bias::ops::pool::PoolKind;
        let kinds: Vec<(PoolKind, bool)> = g
            .nodes
            .iter()
            .filter_map(|n| match n.op {
                NodeOp::Pool { kind, ceil_mode, .. } => Some((kind, ceil_mode)),
                _ => None,
            })
            .collect();
        assert_eq!(kinds.len(), 7, "{}", g.listing());
        for want in
            [(PoolKind::Max, true), (PoolKind::Average { include_pad: true }, false), (PoolKind::Average { include_pad: false }, true)]
        {
            assert!(kinds.contains(&want), "{want:?} in {kinds:?}");
        }
    });
}

/// A MobileNet-shaped classifier: ReLU6 (Clip), a depthwise convolution, HardSwish (read as
/// x times HardSigmoid(x)), a pointwise convolution, HardSigmoid, a residual Add followed by
/// ReLU, global average pooling and a Linear head.
#[test]
fn mobilenet_ops_match_pytorch_and_finite_differences() {
    // ReLU6, HardSigmoid, HardSwish and ReLU: kinks everywhere, so a smaller step.
    central_differences_with_step("tiny_mobile", 2, 1e-4, |g| {
        use gan_bias::graph::NodeOp;
        use gan_bias::ops::act::Act;
        let acts: Vec<Act> = g
            .nodes
            .iter()
            .filter_map(|n| match &n.op {
                NodeOp::Act(a) | NodeOp::Affine { act: a, .. } | NodeOp::Add { act: a } => Some(*a),
                NodeOp::Conv(c) => Some(c.act),
                _ => None,
            })
            .collect();
        assert!(acts.contains(&Act::Clip(6.0)), "{}", g.listing());
        assert_eq!(acts.iter().filter(|a| matches!(a, Act::HardSigmoid(_))).count(), 2, "{}", g.listing());
        assert!(g.nodes.iter().any(|n| matches!(&n.op, NodeOp::Conv(c) if c.group == 6)), "{}", g.listing());
    });
}
