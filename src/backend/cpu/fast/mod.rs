//! The fast CPU path of both convolution kernels: per group of images, one matrix product
//! (the `gemm` crate's sgemm, cache-blocked, AVX-512 where the CPU has it) with the data
//! movement around it, images spread over the machine's cores. This module picks each
//! layer's path (Winograd, channels-last, the few-channel direct kernel, a whole-image
//! product, or the channels-first gather and scatter of `columns`), sizes its groups and
//! hands them to the threads. Same results as the plain twins in `conv2d.rs` /
//! `conv_transpose2d.rs` up to summation order.
//!
//! Owns: the choice of path and the groups' threads. Must not touch: the GPU dispatch.

mod columns;
mod finish;
mod last;
mod phases;
pub(crate) mod resize;
mod runs;
pub(crate) mod sgemm;
mod thin;
mod winograd;

use crate::ops::CpuMemory;
use crate::ops::conv2d::{ConvArgs, ConvDims};
use columns::{GROUP_SCRATCH, conv_group, dense_group, is_dense, transpose_group};
use finish::Finish;
use last::Last;
use sgemm::threads;
use thin::Thin;
use winograd::{Plan, Winograd};

/// Floats of scratch per thread a Winograd group may use (16 MiB: its products want wide
/// right-hand matrices, and the generator's 4 x 4 -> 8 x 8 layer has only 4 tiles an image
/// per phase; 2, 4 and 8 MiB took 1.4x-3.6x, 1.2-1.9x and 1.05-1.4x the time on its layers,
/// 32 MiB 1.1-1.3x on the others).
const WINO_SCRATCH: usize = 1 << 22;

/// A fast path that an environment variable can turn off, for comparisons.
#[derive(Clone, Copy)]
enum Switch {
    /// `GAN_BIAS_WINOGRAD=0`: no Winograd path.
    Winograd,
    /// `GAN_BIAS_CHANNELS_LAST=0`: no channels-last path.
    ChannelsLast,
    /// `GAN_BIAS_THIN=0`: no few-input-channel direct kernel.
    Thin,
}

impl Switch {
    /// Whether the path is on (its variable unset or anything but `0`), read once per process.
    fn on(self) -> bool {
        static READ: [std::sync::OnceLock<bool>; 3] = [const { std::sync::OnceLock::new() }; 3];
        let var = match self {
            Switch::Winograd => "GAN_BIAS_WINOGRAD",
            Switch::ChannelsLast => "GAN_BIAS_CHANNELS_LAST",
            Switch::Thin => "GAN_BIAS_THIN",
        };
        *READ[self as usize].get_or_init(|| std::env::var_os(var).is_none_or(|v| v != "0"))
    }
}

/// Which of the two kernels.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Form {
    Conv,
    Transpose,
}

/// Floats of scratch per thread a group of the channels-last path may use (4 MiB: on the
/// bundled generator's and the classifier's layers, 2 MiB took 0.95-1.1x the time, 8 MiB
/// 1.0-1.2x).
const LAST_SCRATCH: usize = 1 << 20;

/// Images per group of the few-input-channel direct path (no product: a unit of work only).
const THIN_GROUP: usize = 8;

/// One thread's scratch, kept across the groups it takes.
#[derive(Default)]
pub(super) struct Scratch {
    pub col: Vec<f32>,
    pub tmp: Vec<f32>,
    pub phases: Vec<f32>,
    /// The Winograd path's output, channels-last.
    pub planes: Vec<f32>,
}

/// The most images one product holds (64: smaller groups of the notebook's 512 rows raised the
/// peak RSS by about 120 MiB, for no clear gain in speed). A group's size depends on the layer's shape alone
/// (the scratch and this), never on the number of images or threads, and a short last group is
/// padded with zero images: every product of a layer has one shape, so an image's bits do not
/// depend on the thread count nor on which other images (targets, shards, batches) share its
/// op.
const MAX_GROUP: usize = 64;

/// A layer's path, chosen from its shape and the switches before its weights are read.
enum Choice {
    Winograd(Plan),
    Last,
    Thin,
    Dense,
    Columns,
}

/// The path of layer `d`: a whole-image window is one plain product; else Winograd where its
/// plan takes the layer, the channels-last path where the copied side has the channels, the
/// few-channel direct kernel for `conv2d` from RGB, and the channels-first columns for the rest.
fn choose(d: &ConvDims, form: Form) -> Choice {
    if is_dense(d, form) {
        return Choice::Dense;
    }
    if let Some(plan) = Switch::Winograd.on().then(|| Plan::new(d, form)).flatten() {
        return Choice::Winograd(plan);
    }
    if Switch::ChannelsLast.on() && last::applies(d, form) {
        return Choice::Last;
    }
    if form == Form::Conv && Switch::Thin.on() && thin::applies(d) {
        return Choice::Thin;
    }
    Choice::Columns
}

/// [`Choice`] with what each path prepares from the weights, once per call.
enum Path {
    Winograd(Winograd),
    Last(Last),
    Thin(Thin),
    Dense,
    Columns,
}

/// Runs a convolution op with the fast path on all available cores.
pub(crate) fn run(args: &ConvArgs, form: Form, mem: &mut CpuMemory) {
    run_on(args, form, mem, threads());
}

/// [`run`] on `threads` threads: the images fall into groups of a size set by the scratch
/// and [`MAX_GROUP`] alone (one matrix product each, of the full group's width), and the
/// threads take whole groups as they come free, so the output is the same at every thread
/// count and whatever else runs in the op.
fn run_on(args: &ConvArgs, form: Form, mem: &mut CpuMemory, threads: usize) {
    let d = args.dims;
    let (in_len, out_len) = (d.in_len() / d.n, d.out_len() / d.n);
    let choice = choose(&d, form);
    let (per_image, budget) = match (&choice, form) {
        (Choice::Winograd(plan), _) => (plan.scratch_per_image(&d), WINO_SCRATCH),
        (Choice::Thin, _) => (1, THIN_GROUP),
        (Choice::Last, _) => {
            let (per_image, fixed) = last::scratch(&d, form);
            (per_image, LAST_SCRATCH.saturating_sub(fixed))
        }
        (Choice::Dense | Choice::Columns, Form::Conv) => ((d.cin * d.k * d.k + d.cout) * d.hout * d.wout, GROUP_SCRATCH[0]),
        (Choice::Dense | Choice::Columns, Form::Transpose) => ((d.cout * d.k * d.k + d.cin) * d.hin * d.win, GROUP_SCRATCH[1]),
    };
    let group = (budget / per_image.max(1)).clamp(1, MAX_GROUP);
    let groups = d.n.div_ceil(group);
    mem.with_output(args.output, |mem, y| {
        let x = &mem.get(args.input)[..d.in_len()];
        let w = mem.get(args.weight);
        let path = &match choice {
            Choice::Winograd(plan) => Path::Winograd(Winograd::new(plan, &d, form, w)),
            Choice::Last => Path::Last(Last::new(&d, form, w)),
            Choice::Thin => Path::Thin(Thin::new(&d, w)),
            Choice::Dense => Path::Dense,
            Choice::Columns => Path::Columns,
        };
        let bias = args.bias.map(|b| mem.get(b));
        let aux = args.aux.map(|a| mem.get(a));
        // Each thread takes the next group still to do: a core slowed by other work on the
        // machine takes fewer groups instead of holding up the op.
        let queue = std::sync::Mutex::new(y[..d.out_len()].chunks_mut(group * out_len).enumerate());
        std::thread::scope(|s| {
            for _ in 0..threads.clamp(1, groups) {
                let queue = &queue;
                s.spawn(move || {
                    let mut scratch = Scratch::default();
                    loop {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).next();
                        let Some((j, yg)) = next else { break };
                        let b0 = j * group;
                        let g = yg.len() / out_len;
                        let xg = &x[b0 * in_len..][..g * in_len];
                        let aux = aux.map(|a| &a[b0 * out_len..][..g * out_len]);
                        let fin = &Finish::new(args.epilogue, bias, aux, d.cout, d.hout * d.wout);
                        match (path, form) {
                            (Path::Winograd(wg), _) => winograd::group(&d, wg, g, group, xg, yg, fin, &mut scratch),
                            (Path::Last(last), _) => last::group(&d, last, g, group, xg, yg, fin, &mut scratch),
                            (Path::Thin(thin), _) => thin::group(&d, thin, g, xg, yg, fin, &mut scratch.phases),
                            (Path::Dense, _) => dense_group(&d, form, g, group, xg, w, yg, fin, &mut scratch),
                            (Path::Columns, Form::Conv) => conv_group(&d, g, group, xg, w, yg, fin, &mut scratch),
                            (Path::Columns, Form::Transpose) => transpose_group(&d, g, group, xg, w, yg, fin, &mut scratch),
                        }
                    }
                });
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::ops::act::{Act, Epilogue};
    use crate::ops::conv_transpose2d::ConvTranspose;
    use crate::ops::conv2d::{Conv, ConvArgs, ConvDims};
    use crate::ops::{BufId, CpuMemory, Kernel, StepParams};

    /// A small deterministic generator of values in [-1, 1).
    fn values(seed: u64, len: usize) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// `(n, cin, h, cout, k, stride, pad)` of square images.
    type Shape = (usize, usize, usize, usize, usize, usize, usize);

    /// The reference test's shapes: strides 1-4, pads 0-2, odd sizes, each path; two are
    /// whole-image windows (the plain product of `dense_group`): conv2d from 4 x 4 to 1 x 1,
    /// conv_transpose2d from 1 x 1.
    const SHAPES: [Shape; 35] = [
        (3, 5, 7, 6, 3, 2, 0),
        (2, 4, 9, 3, 4, 2, 1),
        (1, 6, 5, 2, 1, 1, 0),
        (2, 3, 8, 5, 4, 3, 2),
        // Images narrower than the stride: some phases are empty.
        (1, 2, 1, 3, 3, 3, 1),
        (2, 3, 2, 2, 3, 4, 1),
        // Whole-image windows.
        (3, 7, 4, 5, 4, 2, 0),
        (70, 7, 1, 5, 4, 1, 0),
        // Stride 2, 4 x 4 (the Winograd path): every padding, odd and even sizes, a
        // group of images cut short.
        (5, 6, 5, 7, 4, 2, 1),
        (2, 3, 6, 4, 4, 2, 0),
        (3, 5, 7, 3, 4, 2, 2),
        (2, 4, 3, 5, 4, 2, 3),
        (1, 2, 1, 3, 4, 2, 1),
        (67, 3, 3, 2, 4, 2, 1),
        // The same with 16 channels and more, on both sides.
        (3, 16, 5, 17, 4, 2, 1),
        (2, 17, 6, 16, 4, 2, 0),
        (2, 16, 7, 18, 4, 2, 2),
        (1, 19, 3, 16, 4, 2, 3),
        (67, 16, 2, 16, 4, 2, 1),
        // The channels-last path: 16 channels and more where the runs are (conv2d's
        // input, conv_transpose2d's output), other kernels and strides; a group cut
        // short; images narrower than the stride; one side thin.
        (3, 16, 7, 18, 3, 2, 1),
        (2, 17, 6, 16, 4, 3, 2),
        (1, 33, 9, 19, 5, 2, 2),
        (67, 16, 3, 16, 3, 2, 1),
        (2, 16, 2, 16, 3, 4, 1),
        (2, 20, 5, 3, 3, 1, 1),
        (2, 3, 5, 20, 3, 2, 0),
        // The direct path of conv2d from few channels (and the channels-first path of
        // conv_transpose2d to few): every padding and stride, images wider than one
        // block of 32, a last short block of output channels.
        (2, 3, 12, 20, 4, 2, 1),
        (2, 3, 9, 17, 4, 2, 0),
        (1, 3, 70, 9, 4, 2, 1),
        (2, 20, 9, 3, 4, 2, 1),
        (1, 40, 33, 3, 4, 2, 1),
        (2, 9, 8, 1, 3, 3, 2),
        (2, 8, 7, 2, 5, 1, 2),
        (3, 12, 6, 4, 3, 2, 0),
        (2, 4, 11, 8, 2, 3, 1),
    ];

    /// The dims of `shape` as `conv2d` (input `h`) or `conv_transpose2d` (input `h`); None
    /// where a `conv2d` window does not fit the padded image.
    fn dims(&(n, cin, h, cout, k, stride, pad): &Shape, transpose: bool) -> Option<ConvDims> {
        if !transpose && h + 2 * pad < k {
            return None;
        }
        let hout = if transpose { (h - 1) * stride + k - 2 * pad } else { (h + 2 * pad - k) / stride + 1 };
        Some(ConvDims { n, cin, hin: h, win: h, cout, hout, wout: hout, k, stride, pad })
    }

    /// The shapes take every path; the few-channel direct kernel wherever the CPU can run it
    /// (elsewhere they test its fallback, the channels-first columns).
    #[test]
    fn the_reference_shapes_take_every_path() {
        use super::{Choice, Form, Switch, choose};
        let mut taken = [false; 5];
        for shape in &SHAPES {
            for transpose in [false, true] {
                let Some(d) = dims(shape, transpose) else { continue };
                let form = if transpose { Form::Transpose } else { Form::Conv };
                taken[match choose(&d, form) {
                    Choice::Winograd(_) => 0,
                    Choice::Last => 1,
                    Choice::Thin => 2,
                    Choice::Dense => 3,
                    Choice::Columns => 4,
                }] = true;
            }
        }
        let thin = Switch::Thin.on() && super::runs::has_avx512();
        assert_eq!(taken, [Switch::Winograd.on(), Switch::ChannelsLast.on(), thin, true, true], "Winograd, last, thin, dense, columns");
    }

    #[test]
    fn fast_path_equals_the_reference_loops() {
        for (case, shape) in SHAPES.iter().enumerate() {
            for transpose in [false, true] {
                let Some(d) = dims(shape, transpose) else { continue };
                let cout = d.cout;
                let mem = || {
                    let bufs = [
                        values(case as u64, d.in_len()),
                        values(case as u64 + 100, d.weight_len()),
                        values(case as u64 + 200, cout),
                        values(case as u64 + 300, d.out_len()),
                        vec![0.0; d.out_len()],
                    ];
                    CpuMemory::new(bufs.into_iter().map(Arc::new).collect())
                };
                let (x, w, b, aux, out) = (BufId(0), BufId(1), BufId(2), BufId(3), BufId(4));
                let epilogue = if case % 2 == 0 { Epilogue::Forward(Act::LeakyRelu(0.2)) } else { Epilogue::GradMask(Act::Tanh) };
                let aux = matches!(epilogue, Epilogue::GradMask(_)).then_some(aux);
                let args = ConvArgs { label: "t".into(), dims: d, input: x, weight: w, bias: Some(b), aux, output: out, epilogue };
                let (mut plain, mut fast) = (mem(), mem());
                super::run(&args, if transpose { super::Form::Transpose } else { super::Form::Conv }, &mut fast);
                let kernel: Box<dyn Kernel> = if transpose { Box::new(ConvTranspose(args)) } else { Box::new(Conv(args)) };
                kernel.run_cpu(&mut plain, StepParams::default());
                let results = [plain.get(out).to_vec(), fast.get(out).to_vec()];
                let scale = results[0].iter().fold(1e-6f32, |m, v| m.max(v.abs()));
                for (i, (a, b)) in results[0].iter().zip(&results[1]).enumerate() {
                    assert!((a - b).abs() <= 1e-5 * scale, "case {case} transpose {transpose}: index {i}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn fast_path_gives_the_same_bits_at_every_thread_count() {
        use super::{Form, run_on};
        // Enough images for several groups; k = 4 * 64 taps and more, so sums run over many
        // blocks. The paths: Winograd, channels-last, whole-image products, and (RGB in, 3 x
        // 4 x 4 taps) the few-channel direct kernel.
        let shapes = [(20, 64, 6, 40, 4, 2, 0), (13, 96, 3, 16, 3, 2, 0), (9, 40, 1, 70, 4, 2, 0), (19, 3, 9, 20, 4, 2, 1)];
        for (case, &(n, cin, h, cout, k, stride, pad)) in shapes.iter().enumerate() {
            for form in [Form::Conv, Form::Transpose] {
                let hout = match form {
                    Form::Conv if h + 2 * pad >= k => (h + 2 * pad - k) / stride + 1,
                    Form::Conv => continue,
                    Form::Transpose => (h - 1) * stride + k - 2 * pad,
                };
                let d = ConvDims { n, cin, hin: h, win: h, cout, hout, wout: hout, k, stride, pad };
                let bufs = [values(case as u64, d.in_len()), values(case as u64 + 7, d.weight_len()), vec![0.0; d.out_len()]];
                let (x, w, out) = (BufId(0), BufId(1), BufId(2));
                let args = ConvArgs {
                    label: "t".into(),
                    dims: d,
                    input: x,
                    weight: w,
                    bias: None,
                    aux: None,
                    output: out,
                    epilogue: Epilogue::Forward(Act::Identity),
                };
                let results: Vec<Vec<u32>> = [1, 2, 3, 4, 7, 64]
                    .into_iter()
                    .map(|threads| {
                        let mut mem = CpuMemory::new(bufs.iter().cloned().map(Arc::new).collect());
                        run_on(&args, form, &mut mem, threads);
                        mem.get(out).iter().map(|v| v.to_bits()).collect()
                    })
                    .collect();
                assert!(results.iter().all(|r| r == &results[0]), "case {case}: the output depends on the thread count");
            }
        }
    }
}
