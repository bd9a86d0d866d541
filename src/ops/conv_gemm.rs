//! The fast CPU path of both convolution kernels: per group of images, one matrix product
//! (the `gemm` crate's sgemm, cache-blocked, AVX-512 where the CPU has it) with an im2col
//! gather (conv2d) or a col2im scatter (conv_transpose2d), images spread over the machine's
//! cores; this module picks each layer's path (Winograd, channels-last, the few-channel
//! direct kernel, a whole-image product, or the channels-first gather and scatter here) and
//! splits its images into groups. Same results as the plain twins in `conv2d.rs` /
//! `conv_transpose2d.rs` up to summation order.
//!
//! Owns: the convolutions' fast CPU path. Must not touch: the GPU dispatch.

use super::CpuMemory;
use super::conv_finish::Finish;
use super::conv_last::{self, Last};
use super::conv_phases::{gather_columns, scatter_columns};
use super::conv_thin::{self, Thin};
use super::conv_winograd::{self as winograd, Plan, Winograd};
use super::conv2d::{ConvArgs, ConvDims};
use super::sgemm::{Strided, gemm, threads};

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

/// Floats of scratch per thread a group of images may use, by [`Form`]; images are grouped
/// into one matrix product (more columns) so that small layers do not repack the weights for
/// every image. `conv2d`'s groups are about the L2 cache (2 MiB on the 2-core Xeon they were
/// tuned on: larger groups took up to 1.2x the time on the big layers); `conv_transpose2d`'s
/// 1 MiB, its columns then chunked by [`CHUNK`] (this path now takes the RGB-output layers
/// only, 64 to 3 channels, whose three channels fit one chunk then: 8 MiB took 1.4x the time).
const GROUP_SCRATCH: [usize; 2] = [1 << 19, 1 << 18];

/// Floats of scratch per thread a group of the channels-last path may use (4 MiB: on the
/// bundled generator's and the classifier's layers, 2 MiB took 0.95-1.1x the time, 8 MiB
/// 1.0-1.2x).
const LAST_SCRATCH: usize = 1 << 20;

/// Images per group of the few-input-channel direct path (no product: a unit of work only).
const THIN_GROUP: usize = 8;

/// Conv2d on `g` images: `Y (cout, full P) = W (cout, cin k k) * im2col(x) (cin k k, full P)`,
/// the columns of the `full - g` missing images zero (see [`run_on`]).
#[allow(clippy::too_many_arguments)]
fn conv_group(d: &ConvDims, g: usize, full: usize, x: &[f32], w: &[f32], y: &mut [f32], fin: &Finish, s: &mut Scratch) {
    let (kk, p) = (d.k * d.k, d.hout * d.wout);
    let (in_len, width) = (d.cin * d.hin * d.win, full * p);
    s.col.resize(d.cin * kk * width, 0.0);
    for b in 0..g {
        gather_columns(d, &x[b * in_len..][..in_len], &mut s.col[b * p..], width, &mut s.phases);
    }
    if g < full {
        for row in s.col.chunks_exact_mut(width) {
            row[g * p..].fill(0.0);
        }
    }
    s.tmp.resize(d.cout * width, 0.0);
    gemm(d.cout, d.cin * kk, width, Strided::rows(w, d.cin * kk), Strided::rows(&s.col, width), &mut s.tmp, width, 1);
    for b in 0..g {
        let yb = &mut y[b * d.cout * p..][..d.cout * p];
        for (o, yp) in yb.chunks_exact_mut(p).enumerate() {
            yp.copy_from_slice(&s.tmp[o * width + b * p..][..p]);
        }
        fin.image(b, yb);
    }
}

/// ConvTranspose2d on `g` images: `C (cout k k, full Q) = W^T * x (cin, full Q)`, the columns
/// of the `full - g` missing images zero (see [`run_on`]), then col2im into `y`.
#[allow(clippy::too_many_arguments)]
fn transpose_group(d: &ConvDims, g: usize, full: usize, x: &[f32], w: &[f32], y: &mut [f32], fin: &Finish, s: &mut Scratch) {
    let (kk, q) = (d.k * d.k, d.hin * d.win);
    let (m, width, out_len) = (d.cout * kk, full * q, d.cout * d.hout * d.wout);
    // Gather the images side by side: (cin, full Q), a short group's missing images zero.
    s.tmp.resize(d.cin * width, 0.0);
    for (i, row) in s.tmp.chunks_exact_mut(width).enumerate() {
        for b in 0..g {
            row[b * q..][..q].copy_from_slice(&x[(b * d.cin + i) * q..][..q]);
        }
        row[g * q..].fill(0.0);
    }
    // The product and its scatter run a few output channels at a time, so that the columns
    // are added into the output while they are still in cache.
    let chunk = (CHUNK / (kk * width)).clamp(1, d.cout);
    s.col.resize(chunk * kk * width, 0.0);
    let plane = d.hout * d.wout;
    for o0 in (0..d.cout).step_by(chunk) {
        let co = chunk.min(d.cout - o0);
        // W is (cin, cout k k) row-major, so W^T(r, i) sits at i * m + r. Every cell of
        // the chunk's columns is written by the product: no clearing.
        gemm(co * kk, d.cin, width, Strided::cols(&w[o0 * kk..], m), Strided::rows(&s.tmp, width), &mut s.col, width, 1);
        for b in 0..g {
            let yb = &mut y[b * out_len + o0 * plane..][..co * plane];
            scatter_columns(d, &s.col[b * q..], width, yb, &mut s.phases);
        }
    }
    fin.images(g, y);
}

/// A convolution whose window covers the whole image (`conv2d` to 1 x 1, `conv_transpose2d`
/// from 1 x 1, no padding) is a plain product over the group, with no columns: `Y (full,
/// out) = X (full, in) * W^T` for `conv2d` (W is `(cout, cin k k)`), `* W` for
/// `conv_transpose2d` (W is `(cin, cout k k)`).
fn is_dense(d: &ConvDims, form: Form) -> bool {
    let (small, large) = match form {
        Form::Conv => ((d.hout, d.wout), (d.hin, d.win)),
        Form::Transpose => ((d.hin, d.win), (d.hout, d.wout)),
    };
    d.pad == 0 && small == (1, 1) && large == (d.k, d.k)
}

/// [`is_dense`]'s product for `g` images, a short group padded with zero images.
#[allow(clippy::too_many_arguments)]
fn dense_group(d: &ConvDims, form: Form, g: usize, full: usize, x: &[f32], w: &[f32], y: &mut [f32], fin: &Finish, s: &mut Scratch) {
    let (k_in, n_out) = (d.in_len() / d.n, d.out_len() / d.n);
    let b = match form {
        Form::Conv => Strided::cols(w, k_in),
        Form::Transpose => Strided::rows(w, n_out),
    };
    if g == full {
        gemm(full, k_in, n_out, Strided::rows(x, k_in), b, y, n_out, 1);
        fin.images(g, y);
        return;
    }
    s.tmp.clear();
    s.tmp.extend_from_slice(&x[..g * k_in]);
    s.tmp.resize(full * k_in, 0.0);
    s.col.resize(full * n_out, 0.0);
    gemm(full, k_in, n_out, Strided::rows(&s.tmp, k_in), b, &mut s.col, n_out, 1);
    y[..g * n_out].copy_from_slice(&s.col[..g * n_out]);
    fin.images(g, y);
}

/// Floats of columns a transposed convolution's chunk may hold (2 MiB, about the L2 cache of
/// the 2-core Xeon the groups and chunks were tuned on).
const CHUNK: usize = 1 << 19;

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
    if Switch::ChannelsLast.on() && conv_last::applies(d, form) {
        return Choice::Last;
    }
    if form == Form::Conv && Switch::Thin.on() && conv_thin::applies(d) {
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
            let (per_image, fixed) = conv_last::scratch(&d, form);
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
                            (Path::Last(last), _) => conv_last::group(&d, last, g, group, xg, yg, fin, &mut scratch),
                            (Path::Thin(thin), _) => conv_thin::group(&d, thin, g, xg, yg, fin, &mut scratch.phases),
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

    #[test]
    fn fast_path_equals_the_reference_loops() {
        // Strides 1-4, pads 0-2, odd sizes; the last two are whole-image windows (the plain
        // product of `dense_group`): conv2d from 4 x 4 to 1 x 1, conv_transpose2d from 1 x 1.
        let shapes = [
            (3, 5, 7, 6, 3, 2, 0),
            (2, 4, 9, 3, 4, 2, 1),
            (1, 6, 5, 2, 1, 1, 0),
            (2, 3, 8, 5, 4, 3, 2),
            // Images narrower than the stride: some phases are empty.
            (1, 2, 1, 3, 3, 3, 1),
            (2, 3, 2, 2, 3, 4, 1),
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
        for (case, &(n, cin, h, cout, k, stride, pad)) in shapes.iter().enumerate() {
            for transpose in [false, true] {
                if !transpose && h + 2 * pad < k {
                    continue;
                }
                let (hout, cin_w) = if transpose { ((h - 1) * stride + k - 2 * pad, cin) } else { ((h + 2 * pad - k) / stride + 1, cin) };
                let d = ConvDims { n, cin: cin_w, hin: h, win: h, cout, hout, wout: hout, k, stride, pad };
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
                let kernel: Box<dyn Kernel> = if transpose { Box::new(ConvTranspose(args)) } else { Box::new(Conv(args)) };
                let (mut plain, mut fast) = (mem(), mem());
                kernel.run_cpu(&mut plain, StepParams::default());
                kernel.run_cpu_fast(&mut fast, StepParams::default());
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
