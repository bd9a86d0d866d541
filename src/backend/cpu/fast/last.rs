//! The fast CPU path's direct convolutions with their data movement channels-last, for the
//! layers with many channels on the side that the movement copies: `conv2d`'s input (its
//! im2col gather) and `conv_transpose2d`'s output (its col2im sum).
//!
//! Laid out channels-first, every run that the gather copies or the sum adds is one image row
//! long: 3 to 31 floats on the layers of a 64 x 64 generator, most of them in one masked
//! instruction with its loop around it. Channels-last, a run is a pixel's channels (16 to 512
//! floats), and a gather row's taps along `x` that lie inside the image are one run. The
//! images go channels-last and back through [`Runs::transpose`], which touches the image once;
//! the columns it saves copying run to run are `k k / s s` times larger.
//!
//! - `conv2d`: a column row per output pixel, `(k, k, cin)`; `Y (P, cout) = cols (P, k k cin) *
//!   W'^T`, the weights' taps moved outside their input channels; the sums come out
//!   channels-last (the product runs fastest so: 0.7-0.9x the time of writing them
//!   channels-first on the generator's layers) and are transposed back.
//! - `conv_transpose2d`: `C (Q, k k cout) = X (Q, cin) * W' (cin, k k cout)`, a row of every
//!   tap's contribution per input pixel; each output pixel then sums its taps' rows in `(ky,
//!   kx)` order (the order of the reference loops), channels-last, transposed back after.
//!
//! The transposes back walk the output's rows ([`Along::Dst`]): written one 16 x 16 block per
//! row at a time, an output plane of the 31 x 31 layers took 5x as long.
//!
//! Owns: this path's data movement. Must not touch: the products' arithmetic, the epilogues.

use super::finish::Finish;
use super::runs::{Along, Runs, with_runs};
use super::sgemm::{Strided, gemm};
use super::{Form, Scratch};
use crate::ops::conv2d::ConvDims;

/// The fewest channels on the side whose pixels are the runs (RGB images keep the
/// channels-first path, whose runs are their rows).
pub(super) const MIN_CHANNELS: usize = 16;

/// Whether a layer (not a whole-image window, not on the Winograd path) takes this path.
pub(super) fn applies(d: &ConvDims, form: Form) -> bool {
    match form {
        Form::Conv => d.cin >= MIN_CHANNELS,
        Form::Transpose => d.cout >= MIN_CHANNELS,
    }
}

/// Floats of scratch one image of a group takes, and the group's fixed extra.
pub(super) fn scratch(d: &ConvDims, form: Form) -> (usize, usize) {
    let kk = d.k * d.k;
    match form {
        Form::Conv => ((kk * d.cin + d.cout) * d.hout * d.wout, d.cin * d.hin * d.win),
        Form::Transpose => ((kk * d.cout + d.cin) * d.hin * d.win, d.cout * d.hout * d.wout),
    }
}

/// A layer on this path, planned once per call: its weights with their taps moved outside
/// the runs' channels (`conv2d`'s `(cout, cin, k, k)` as `(cout, k, k, cin)`,
/// `conv_transpose2d`'s `(cin, cout, k, k)` as `(cin, k, k, cout)`) and, per axis, which taps
/// reach which positions.
pub(super) struct Last {
    weights: Vec<f32>,
    axes: Axes,
}

/// `(y, x)`: [`conv_axis`] for `conv2d`, [`transpose_axis`] for `conv_transpose2d`.
enum Axes {
    Conv([Vec<(usize, usize, usize)>; 2]),
    Transpose([Vec<Vec<(usize, usize)>>; 2]),
}

impl Last {
    pub(super) fn new(d: &ConvDims, form: Form, w: &[f32]) -> Last {
        let mut weights = vec![0.0f32; d.weight_len()];
        reorder_taps(d, form, w, &mut weights);
        let (k, s, pad) = (d.k, d.stride, d.pad);
        let axes = match form {
            Form::Conv => Axes::Conv([conv_axis(d.hout, d.hin, k, s, pad), conv_axis(d.wout, d.win, k, s, pad)]),
            Form::Transpose => Axes::Transpose([transpose_axis(d.hout, d.hin, k, s, pad), transpose_axis(d.wout, d.win, k, s, pad)]),
        };
        Last { weights, axes }
    }
}

with_runs!(fn reorder_taps(d: &ConvDims, form: Form, w: &[f32], out: &mut [f32]) {
    let kk = d.k * d.k;
    let inner = match form {
        Form::Conv => d.cin,
        Form::Transpose => d.cout,
    };
    for (src, dst) in w[..out.len()].chunks_exact(inner * kk).zip(out.chunks_exact_mut(inner * kk)) {
        R::transpose(src, inner, kk, dst, Along::Src);
    }
} as R);

/// The taps along one axis that reach each position of the strided side (`conv2d`'s output,
/// `conv_transpose2d`'s input) from the dense side of `len` positions: for position `o`, the
/// range `lo..hi` of taps `t` with `o s + t - pad` inside, and the first one's dense position.
fn conv_axis(count: usize, len: usize, k: usize, s: usize, pad: usize) -> Vec<(usize, usize, usize)> {
    (0..count)
        .map(|o| {
            let base = (o * s) as isize - pad as isize;
            let lo = (-base).clamp(0, k as isize) as usize;
            let hi = (len as isize - base).clamp(lo as isize, k as isize) as usize;
            (lo, hi, (base + lo as isize).max(0) as usize)
        })
        .collect()
}

/// For each position `o` of `conv_transpose2d`'s output axis (`len_out` long), the taps `t`
/// (ascending) and input positions `i` with `i s + t - pad = o`, `i` inside `0..len_in`.
fn transpose_axis(len_out: usize, len_in: usize, k: usize, s: usize, pad: usize) -> Vec<Vec<(usize, usize)>> {
    (0..len_out)
        .map(|o| {
            (0..k)
                .filter_map(|t| {
                    let r = (o + pad) as isize - t as isize;
                    (r >= 0 && r % s as isize == 0 && ((r / s as isize) as usize) < len_in).then(|| (t, (r / s as isize) as usize))
                })
                .collect()
        })
        .collect()
}

// Runs the layer on `g` images of a group of `full` (the missing ones zero), writing the
// finished outputs into `y`.
with_runs!(fn group(d: &ConvDims, last: &Last, g: usize, full: usize, x: &[f32], y: &mut [f32], fin: &Finish, s: &mut Scratch) {
    match &last.axes {
        Axes::Conv([ys, xs]) => conv::<R>(d, &last.weights, ys, xs, g, full, x, y, fin, s),
        Axes::Transpose([ys, xs]) => transpose::<R>(d, &last.weights, ys, xs, g, full, x, y, fin, s),
    }
} as R);

/// `conv2d` on `g` images of a group of `full` (the columns of the missing ones zero), the
/// sums before the epilogue into `y`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn conv<R: Runs>(
    d: &ConvDims,
    wr: &[f32],
    ys: &[(usize, usize, usize)],
    xs: &[(usize, usize, usize)],
    g: usize,
    full: usize,
    x: &[f32],
    y: &mut [f32],
    fin: &Finish,
    s: &mut Scratch,
) {
    let (cin, k, in_plane, p) = (d.cin, d.k, d.hin * d.win, d.hout * d.wout);
    let (kc, width) = (k * k * cin, full * p);
    s.phases.resize(in_plane * cin, 0.0);
    s.col.resize(width * kc, 0.0);
    for (b, rows) in s.col.chunks_exact_mut(p * kc).enumerate() {
        if b >= g {
            rows.fill(0.0);
            continue;
        }
        R::transpose(&x[b * cin * in_plane..][..cin * in_plane], cin, in_plane, &mut s.phases, Along::Src);
        let image = &s.phases[..];
        // Row (oy, ox): tap (ky, kx)'s channels at (ky k + kx) cin; the taps of one ky that
        // lie inside the image are one run of the channels-last image.
        for (pix, row) in rows.chunks_exact_mut(kc).enumerate() {
            let ((ky0, ky1, iy0), (kx0, kx1, ix0)) = (ys[pix / d.wout], xs[pix % d.wout]);
            for (ky, r) in row.chunks_exact_mut(k * cin).enumerate() {
                if ky < ky0 || ky >= ky1 || kx0 >= kx1 {
                    r.fill(0.0);
                    continue;
                }
                let iy = iy0 + ky - ky0;
                r[..kx0 * cin].fill(0.0);
                R::copy(&mut r[kx0 * cin..kx1 * cin], &image[(iy * d.win + ix0) * cin..]);
                r[kx1 * cin..].fill(0.0);
            }
        }
    }
    s.tmp.resize(d.cout * width, 0.0);
    gemm(d.cout, kc, width, Strided::rows(wr, kc), Strided::cols(&s.col, kc), &mut s.tmp, 1, d.cout);
    for b in 0..g {
        let yb = &mut y[b * d.cout * p..][..d.cout * p];
        R::transpose(&s.tmp[b * p * d.cout..][..p * d.cout], p, d.cout, yb, Along::Dst);
        fin.image(b, yb);
    }
}

/// `conv_transpose2d` on `g` images of a group of `full` (the rows of the missing ones zero),
/// the sums before the epilogue into `y`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn transpose<R: Runs>(
    d: &ConvDims,
    wr: &[f32],
    ys: &[Vec<(usize, usize)>],
    xs: &[Vec<(usize, usize)>],
    g: usize,
    full: usize,
    x: &[f32],
    y: &mut [f32],
    fin: &Finish,
    s: &mut Scratch,
) {
    let (cin, cout, k, q, out_plane) = (d.cin, d.cout, d.k, d.hin * d.win, d.hout * d.wout);
    let m = k * k * cout;
    // The images channels-last, one under the other: (full Q, cin).
    s.tmp.resize(full * q * cin, 0.0);
    for (b, rows) in s.tmp.chunks_exact_mut(q * cin).enumerate() {
        if b < g {
            R::transpose(&x[b * cin * q..][..cin * q], cin, q, rows, Along::Src);
        } else {
            rows.fill(0.0);
        }
    }
    s.col.resize(full * q * m, 0.0);
    gemm(full * q, cin, m, Strided::rows(&s.tmp, cin), Strided::rows(wr, m), &mut s.col, m, 1);
    s.planes.resize(out_plane * cout, 0.0);
    for b in 0..g {
        let c = &s.col[b * q * m..][..q * m];
        for (pix, out) in s.planes.chunks_exact_mut(cout).enumerate() {
            let (ty, tx) = (&ys[pix / d.wout], &xs[pix % d.wout]);
            let mut first = true;
            for &(ky, iy) in ty {
                for &(kx, ix) in tx {
                    let src = &c[(iy * d.win + ix) * m + (ky * k + kx) * cout..][..cout];
                    if first {
                        R::copy(out, src);
                    } else {
                        R::add(out, src);
                    }
                    first = false;
                }
            }
            if first {
                out.fill(0.0);
            }
        }
        let yb = &mut y[b * cout * out_plane..][..cout * out_plane];
        R::transpose(&s.planes, out_plane, cout, yb, Along::Dst);
        fin.image(b, yb);
    }
}
