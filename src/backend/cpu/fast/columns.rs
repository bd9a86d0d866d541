//! The channels-first path of the fast CPU convolutions, and the whole-image product: per
//! group of images, `conv2d`'s im2col gather then one product, or `conv_transpose2d`'s one
//! product then col2im scatter ([`super::phases`] moves the data); a layer whose window
//! covers the whole image is one plain product with no columns. [`super`] picks
//! the layers that come here (those no other path takes) and hands out the groups.
//!
//! Owns: the channels-first groups and the dense product. Must not touch: the path choice.

use super::finish::Finish;
use super::phases::{gather_columns, scatter_columns};
use super::sgemm::{Strided, gemm};
use super::{Form, Scratch};
use crate::ops::conv2d::ConvDims;

/// Floats of scratch per thread a group of images may use, by [`Form`]; images are grouped
/// into one matrix product (more columns) so that small layers do not repack the weights for
/// every image. `conv2d`'s groups are about the L2 cache (2 MiB on the 2-core Xeon they were
/// tuned on: larger groups took up to 1.2x the time on the big layers); `conv_transpose2d`'s
/// 1 MiB, its columns then chunked by [`CHUNK`] (this path now takes the RGB-output layers
/// only, 64 to 3 channels, whose three channels fit one chunk then: 8 MiB took 1.4x the time).
pub(super) const GROUP_SCRATCH: [usize; 2] = [1 << 19, 1 << 18];

/// Conv2d on `g` images: `Y (cout, full P) = W (cout, cin k k) * im2col(x) (cin k k, full P)`,
/// the columns of the `full - g` missing images zero (see [`super`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn conv_group(d: &ConvDims, g: usize, full: usize, x: &[f32], w: &[f32], y: &mut [f32], fin: &Finish, s: &mut Scratch) {
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
/// of the `full - g` missing images zero (see [`super`]), then col2im into `y`.
#[allow(clippy::too_many_arguments)]
pub(super) fn transpose_group(d: &ConvDims, g: usize, full: usize, x: &[f32], w: &[f32], y: &mut [f32], fin: &Finish, s: &mut Scratch) {
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
pub(super) fn is_dense(d: &ConvDims, form: Form) -> bool {
    let (small, large) = match form {
        Form::Conv => ((d.hout, d.wout), (d.hin, d.win)),
        Form::Transpose => ((d.hin, d.win), (d.hout, d.wout)),
    };
    d.pad == 0 && small == (1, 1) && large == (d.k, d.k)
}

/// [`is_dense`]'s product for `g` images, a short group padded with zero images.
#[allow(clippy::too_many_arguments)]
pub(super) fn dense_group(
    d: &ConvDims,
    form: Form,
    g: usize,
    full: usize,
    x: &[f32],
    w: &[f32],
    y: &mut [f32],
    fin: &Finish,
    s: &mut Scratch,
) {
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
