//! The shape checks every op makes before anything runs, and the aliasing checks.

use super::conv::{Kind, conv_op};
use crate::common::ops::*;
use gan_bias::backend::Backend;
use gan_bias::backend::cpu::CpuBackend;

/// A backward conv op (stored activation, no bias) with its own buffers, each of length
/// `lens[i]` (input, weight, bias, aux, output; the bias unused).
fn conv_program(kind: Kind, lens: [usize; 5]) -> Program {
    conv_program_with(kind, lens, false)
}

/// A conv op with its own buffers, each of length `lens[i]` (input, weight, bias, aux,
/// output): forward with a bias when `forward`, else backward with a stored activation.
fn conv_program_with(kind: Kind, lens: [usize; 5], forward: bool) -> Program {
    let d = ConvDims { n: 2, cin: 3, hin: 5, win: 5, cout: 4, hout: 3, wout: 3, k: 3, stride: 1, pad: 0 };
    let mut p = Program::default();
    let input = p.buffer("x", lens[0]);
    let weight = p.buffer("w", lens[1]);
    let bias = p.buffer("b", lens[2]);
    let aux = p.buffer("a", lens[3]);
    let output = p.buffer("y", lens[4]);
    let label = "layer 7 input-gradient".to_string();
    p.push(
        Phase::Step,
        conv_op(
            kind,
            if forward {
                ConvArgs { label, dims: d, input, weight, bias: Some(bias), aux: None, output, epilogue: Epilogue::Forward(Act::Relu) }
            } else {
                ConvArgs { label, dims: d, input, weight, bias: None, aux: Some(aux), output, epilogue: Epilogue::GradMask(Act::Relu) }
            },
        ),
    );
    p
}

/// `p` is refused by `validate` and by both backends' `load`, with a message naming `op` and
/// `words`; the refused backends have nothing to run.
fn assert_refused(p: &Program, op: &str, words: &[&str]) {
    let err: OpError = p.validate().expect_err("validate accepted a bad program");
    let msg = err.to_string();
    assert_eq!(err.op, op, "{msg}");
    for w in words {
        assert!(msg.contains(w), "the message {msg:?} does not name {w:?}");
    }
    let mut cpu = CpuBackend::new();
    match cpu.load(p) {
        Err(BackendError::Op(e)) => assert_eq!(e.to_string(), msg),
        other => panic!("cpu load: {:?}", other.err()),
    }
    assert!(matches!(cpu.run(Phase::Step, StepParams::default()), Err(BackendError::NotLoaded)), "cpu ran a refused program");
    on_each_gpu(|| {
        with_gpu(|gpu| match gpu.load(p) {
            Err(BackendError::Op(e)) => assert_eq!(e.to_string(), msg),
            other => panic!("gpu load: {:?}", other.err()),
        })
    });
}

#[test]
fn undersized_buffers_are_refused_before_running() {
    let d = ConvDims { n: 2, cin: 3, hin: 5, win: 5, cout: 4, hout: 3, wout: 3, k: 3, stride: 1, pad: 0 };
    let good = [d.in_len(), d.weight_len(), d.cout, d.out_len(), d.out_len()];
    for kind in [Kind::Conv, Kind::Transpose] {
        let op = if kind == Kind::Conv { "conv2d" } else { "conv_transpose2d" };
        conv_program(kind, good).validate().unwrap();
        conv_program_with(kind, good, true).validate().unwrap();
        for (i, what) in ["input", "weight", "bias", "activation", "output"].iter().enumerate() {
            let mut lens = good;
            lens[i] -= 1;
            // The bias is read going forward only, the stored activation backward only.
            let p = conv_program_with(kind, lens, what == &"bias");
            assert_refused(&p, op, &[op, "layer 7 input-gradient", what, &format!("needs {}", good[i])]);
        }
        // A backward epilogue with a bias: the kernels bind one operand for the epilogue.
        let mut p = conv_program(kind, good);
        conv_args(&mut p).bias = Some(BufId(2));
        assert_refused(&p, op, &[op, "backward epilogue takes no bias"]);
        // A backward epilogue without its stored activation.
        let mut p = conv_program(kind, good);
        if let Some((_, ops)) = p.phases.first_mut()
            && let Some(Op::Conv2d(Conv(a)) | Op::ConvTranspose2d(ConvTranspose(a))) = ops.first_mut()
        {
            a.aux = None;
        }
        assert_refused(&p, op, &[op, "activation"]);
        // Zero-sized dimensions.
        let mut p = conv_program(kind, good);
        if let Some((_, ops)) = p.phases.first_mut()
            && let Some(Op::Conv2d(Conv(a)) | Op::ConvTranspose2d(ConvTranspose(a))) = ops.first_mut()
        {
            a.dims.stride = 0;
        }
        assert_refused(&p, op, &[op, "zero-sized"]);
    }

    // seed_grad
    let mut p = Program::default();
    let out = p.buffer("seed", 3 * 4 - 1);
    let targets = p.buffer("targets", 1);
    p.push(Phase::Setup, Op::SeedGrad(SeedGrad { rows: 3, features: 4, scale: 1.0, rows_per_target: 3, targets, out }));
    assert_refused(&p, "seed_grad", &["seed_grad", "gradient", "needs 12"]);
    let mut p = Program::default();
    let out = p.buffer("seed", 12);
    let targets = p.buffer("targets", 1);
    p.push(Phase::Setup, Op::SeedGrad(SeedGrad { rows: 3, features: 4, scale: 1.0, rows_per_target: 0, targets, out }));
    assert_refused(&p, "seed_grad", &["seed_grad", "no targets"]);
    // (A target out of range is a run's value, refused by the probe before it runs:
    // tests/probe_targets.rs.)

    // record: logits and start hold a batch, the history every step of both directions.
    let (n, steps, features, capacity) = (3, 2, 5, 4);
    let need = [capacity * features, capacity * features, 2 * steps * n * features];
    for (i, what) in ["logits", "start", "history"].iter().enumerate() {
        let mut lens = need;
        lens[i] -= 1;
        let mut p = Program::default();
        let ids: Vec<BufId> = lens.iter().map(|&l| p.buffer("b", l)).collect();
        p.push(Phase::Step, Op::Record(Record { n, steps, slots: 1, features, capacity, logits: ids[0], start: ids[1], history: ids[2] }));
        assert_refused(&p, "record", &["record", what, &format!("needs {}", need[i])]);
    }

    // noise_update
    let zdim = 6;
    for (i, what) in ["gradient", "accumulator", "noise"].iter().enumerate() {
        let mut lens = [capacity * zdim; 3];
        lens[i] -= 1;
        let mut p = Program::default();
        let ids: Vec<BufId> = lens.iter().map(|&l| p.buffer("b", l)).collect();
        let rule = UpdateRule::Notebook;
        p.push(Phase::Step, Op::NoiseUpdate(NoiseUpdate { n, zdim, capacity, rule, grad: ids[0], acc: ids[1], z: ids[2] }));
        assert_refused(&p, "noise_update", &["noise_update", what, &format!("needs {}", capacity * zdim)]);
    }

    // column_mean and covariance
    let (rows, features) = (11, 3);
    let need = [rows * features, features, features * features];
    for (i, what) in ["changes", "mean", "covariance"].iter().enumerate() {
        let mut lens = need;
        lens[i] -= 1;
        for mean_first in [true, false] {
            let mut p = Program::default();
            let ids: Vec<BufId> = lens.iter().map(|&l| p.buffer("b", l)).collect();
            let args = CovArgs { rows_per_step: rows, steps: 1, slots: 1, features, x: ids[0], mean: ids[1], cov: ids[2] };
            p.push(Phase::Finish, if mean_first { Op::ColumnMean(ColumnMean(args)) } else { Op::Covariance(Covariance(args)) });
            assert_refused(&p, "covariance", &["covariance", what, &format!("needs {}", need[i])]);
        }
    }
    let mut p = Program::default();
    let ids: Vec<BufId> = [3, 3, 9].iter().map(|&l| p.buffer("b", l)).collect();
    p.push(
        Phase::Finish,
        Op::Covariance(Covariance(CovArgs { rows_per_step: 1, steps: 1, slots: 1, features: 3, x: ids[0], mean: ids[1], cov: ids[2] })),
    );
    assert_refused(&p, "covariance", &["at least 2 rows"]);
}

/// The first op of `p`'s first phase, as conv args.
fn conv_args(p: &mut Program) -> &mut ConvArgs {
    match p.phases[0].1.first_mut() {
        Some(Op::Conv2d(Conv(a)) | Op::ConvTranspose2d(ConvTranspose(a))) => a,
        _ => unreachable!(),
    }
}

#[test]
fn conv_output_aliasing_an_input_is_refused() {
    let d = ConvDims { n: 2, cin: 3, hin: 5, win: 5, cout: 4, hout: 3, wout: 3, k: 3, stride: 1, pad: 0 };
    // Buffers large enough to pass every size check whatever they are bound as.
    let big = d.in_len().max(d.out_len()).max(d.weight_len());
    for kind in [Kind::Conv, Kind::Transpose] {
        let op = if kind == Kind::Conv { "conv2d" } else { "conv_transpose2d" };
        for i in 0..2 {
            let mut p = conv_program(kind, [big; 5]);
            p.validate().unwrap();
            let a = conv_args(&mut p);
            if i == 0 {
                a.output = a.input;
            } else {
                a.output = a.aux.unwrap();
            }
            assert_refused(&p, op, &[op, "layer 7 input-gradient", "aliases"]);
        }
    }
}

/// Output aliasing any buffer an op reads (or another buffer it writes) must be refused the
/// same way; today only a convolution's input and stored activation are checked (see the
/// report: with output == weight the CPU twin panics and wgpu reports a usage conflict).
#[test]
fn output_aliasing_any_other_buffer_is_refused() {
    let d = ConvDims { n: 2, cin: 3, hin: 5, win: 5, cout: 4, hout: 3, wout: 3, k: 3, stride: 1, pad: 0 };
    let big = d.in_len().max(d.out_len()).max(d.weight_len());
    for kind in [Kind::Conv, Kind::Transpose] {
        let op = if kind == Kind::Conv { "conv2d" } else { "conv_transpose2d" };
        for which in ["weight", "bias"] {
            let mut p = conv_program_with(kind, [big; 5], which == "bias");
            let a = conv_args(&mut p);
            a.output = if which == "weight" { a.weight } else { a.bias.unwrap() };
            assert_refused(&p, op, &[op, "aliases"]);
        }
    }
    // Two roles of one buffer in the small ops.
    let b = |p: &mut Program| p.buffer("b", 1000);
    let mut p = Program::default();
    let (x, y) = (b(&mut p), b(&mut p));
    p.push(Phase::Step, Op::Record(Record { n: 2, steps: 2, slots: 1, features: 3, capacity: 4, logits: x, start: y, history: y }));
    assert_refused(&p, "record", &["aliases"]);
    let mut p = Program::default();
    let (x, y) = (b(&mut p), b(&mut p));
    p.push(Phase::Step, Op::NoiseUpdate(NoiseUpdate { n: 2, zdim: 3, capacity: 4, rule: UpdateRule::Notebook, grad: x, acc: y, z: y }));
    assert_refused(&p, "noise_update", &["aliases"]);
    let mut p = Program::default();
    let (x, y) = (b(&mut p), b(&mut p));
    p.push(Phase::Step, Op::Covariance(Covariance(CovArgs { rows_per_step: 4, steps: 1, slots: 1, features: 3, x, mean: y, cov: y })));
    assert_refused(&p, "covariance", &["aliases"]);
}
