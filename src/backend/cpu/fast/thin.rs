//! The fast CPU path of `conv2d` from few input channels (the classifier's first layer, on RGB
//! images, and the generator's last input-gradient), by a direct AVX-512 convolution.
//!
//! As a matrix product such a layer has a short inner side (`K = 3 k k`, 48 for a 4 x 4 window
//! on RGB), and the im2col columns around the product cost as much as the product. Here no
//! columns are made: each image is laid out once in zero-padded planes, its stride phases, so
//! that tap `(ky, kx)` of output row `oy` reads phase `(ky % s, kx % s)` at row `oy + ky / s`,
//! a contiguous segment from column `ox + kx / s`. A register block of 8 output channels x 32
//! output columns then sums the `tap x input channel` terms, each a vector load times a
//! broadcast weight, and is stored straight into the output, channels-first.
//!
//! Every output element sums its terms in one order set by the layer's shape, so the bits do
//! not depend on the thread count. Only on x86-64 CPUs with AVX-512F; elsewhere these layers
//! keep the channels-first path. (`conv_transpose2d` to RGB, the mirror case, ran no faster
//! this way than on that path: its time goes to reading its 64-channel input.)
//!
//! Owns: this direct kernel. Must not touch: the other layers' paths.

use super::finish::Finish;
use super::runs::has_avx512;
use crate::ops::conv2d::ConvDims;

/// Output channels per register block.
const CB: usize = 8;

/// Output columns per register block: two vectors of 16.
const COLS: usize = 32;

/// Whether a `conv2d` layer (not a whole-image window) takes this path: fewer than 16 input
/// channels (more take the channels-last path), at least [`CB`] output channels, on a CPU
/// with AVX-512F.
pub(super) fn applies(d: &ConvDims) -> bool {
    d.cin < super::last::MIN_CHANNELS && d.cout >= CB && has_avx512()
}

/// One layer on this path: the padded planes' geometry, each tap's offset in them and the
/// weights laid out for the kernel.
pub(super) struct Thin {
    /// The stride phases of the image padded by `pad` on the top and left, each `plane_h`
    /// rows of `plane_w`, laid out `(phase, row, input channel, column)`: the rows that a block
    /// reads for all its input channels lie together.
    plane_h: usize,
    plane_w: usize,
    /// Tap `(ky, kx)`'s offset from its output position's, at `ky k + kx`.
    taps: Vec<usize>,
    /// Per block of [`CB`] output channels, `(tap, input channel, CB)`, the missing channels
    /// of a last short block zero.
    weights: Vec<Vec<f32>>,
}

impl Thin {
    /// The geometry of layer `d` and its weights `w` (`(cout, cin, k, k)`) laid out for the
    /// kernel, once per call.
    pub(super) fn new(d: &ConvDims, w: &[f32]) -> Thin {
        let (k, s, pad, kk) = (d.k, d.stride, d.pad, d.k * d.k);
        // Padded position o s + t lands in phase t % s at position o + t / s.
        let reach = (k - 1) / s;
        let plane_h = (d.hout + reach).max((d.hin + pad).div_ceil(s));
        let plane_w = (d.wout.div_ceil(COLS) * COLS + reach).max((d.win + pad).div_ceil(s));
        let (row, plane) = (d.cin * plane_w, plane_h * d.cin * plane_w);
        let taps = (0..kk).map(|t| ((t / k % s) * s + t % k % s) * plane + (t / k / s) * row + t % k / s).collect();
        let weights = (0..d.cout.div_ceil(CB))
            .map(|j| {
                let mut b = vec![0.0f32; kk * d.cin * CB];
                for t in 0..kk {
                    for ci in 0..d.cin {
                        for c in 0..CB.min(d.cout - j * CB) {
                            b[(t * d.cin + ci) * CB + c] = w[((j * CB + c) * d.cin + ci) * kk + t];
                        }
                    }
                }
                b
            })
            .collect();
        Thin { plane_h, plane_w, taps, weights }
    }

    /// Where row `row` of phase `phase` of input channel `ci` starts (`cin` channels).
    fn at(&self, cin: usize, phase: usize, row: usize, ci: usize) -> usize {
        ((phase * self.plane_h + row) * cin + ci) * self.plane_w
    }
}

/// Runs the layer on the `g` images of `x`, writing the finished outputs into `y`; `planes` is
/// the thread's scratch.
pub(super) fn group(d: &ConvDims, thin: &Thin, g: usize, x: &[f32], y: &mut [f32], fin: &Finish, planes: &mut Vec<f32>) {
    #[cfg(target_arch = "x86_64")]
    if has_avx512() {
        // SAFETY: the CPU has AVX-512F, the one feature `avx512::group` is compiled for.
        return unsafe { avx512::group(d, thin, g, x, y, fin, planes) };
    }
    unreachable!("checked by `applies`: this path runs only on CPUs with AVX-512F ({g} images, {} taps)", thin.taps.len());
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{CB, COLS, ConvDims, Finish, Thin};
    use crate::backend::cpu::fast::runs::{Avx512, Runs, lanes};

    #[target_feature(enable = "avx512f")]
    pub(super) fn group(d: &ConvDims, thin: &Thin, g: usize, x: &[f32], y: &mut [f32], fin: &Finish, planes: &mut Vec<f32>) {
        let (in_len, out_len) = (d.cin * d.hin * d.win, d.cout * d.hout * d.wout);
        // The padding stays zero from here on: every image writes the same positions.
        planes.clear();
        planes.resize(thin.at(d.cin, d.stride * d.stride, 0, 0), 0.0);
        for b in 0..g {
            let yb = &mut y[b * out_len..][..out_len];
            lay_out(d, thin, &x[b * in_len..][..in_len], planes);
            blocks(d, thin, planes, yb);
            fin.image(b, yb);
        }
    }

    /// One image into the padded phase planes.
    #[target_feature(enable = "avx512f")]
    fn lay_out(d: &ConvDims, thin: &Thin, x: &[f32], planes: &mut [f32]) {
        let (s, pad, pw) = (d.stride, d.pad, thin.plane_w);
        for (ci, xc) in x.chunks_exact(d.hin * d.win).enumerate() {
            for (iy, row) in xc.chunks_exact(d.win).enumerate() {
                let (py, a) = ((iy + pad) % s, (iy + pad) / s);
                if s == 1 {
                    Avx512::copy(&mut planes[thin.at(d.cin, 0, a, ci) + pad..][..d.win], row);
                } else if s == 2 {
                    // Column ix lands at Q = ix + pad: phase Q % 2, position Q / 2; the row's
                    // even columns start at pad / 2, its odd ones at (pad + 1) / 2.
                    let (first, second) = (thin.at(d.cin, py * 2, a, ci), thin.at(d.cin, py * 2 + 1, a, ci));
                    let (p0, p1) = planes.split_at_mut(second);
                    let (phase0, phase1) = (&mut p0[first..][..pw], &mut p1[..pw]);
                    let (even, odd) = if pad % 2 == 0 { (phase0, phase1) } else { (phase1, phase0) };
                    let (h, l) = (d.win.div_ceil(2), d.win / 2);
                    Avx512::split2(row, &mut even[pad / 2..][..h], &mut odd[pad.div_ceil(2)..][..l]);
                } else {
                    for (ix, &v) in row.iter().enumerate() {
                        let q = ix + pad;
                        planes[thin.at(d.cin, py * s + q % s, a, ci) + q / s] = v;
                    }
                }
            }
        }
    }

    /// Every block of [`CB`] output channels x 1 row x [`COLS`] columns of one image.
    #[target_feature(enable = "avx512f")]
    fn blocks(d: &ConvDims, thin: &Thin, planes: &[f32], y: &mut [f32]) {
        let (pw, cin, plane) = (thin.plane_w, d.cin, d.hout * d.wout);
        let rs = cin * pw;
        // The furthest float a block reads, from its first: the last tap's last channel and
        // column.
        let reach = thin.taps.iter().max().copied().unwrap_or(0) + (cin - 1) * pw + COLS;
        for (j, w) in thin.weights.iter().enumerate() {
            assert!(w.len() == thin.taps.len() * cin * CB);
            let channels = CB.min(d.cout - j * CB);
            for oy in 0..d.hout {
                for ox in (0..d.wout).step_by(COLS) {
                    let base = oy * rs + ox;
                    assert!(base + reach <= planes.len(), "the direct kernel reads past its planes");
                    let mut acc = [[_mm512_setzero_ps(); 2]; CB];
                    // SAFETY: every load lies within `base + reach <= planes.len()` (asserted);
                    // the weights hold `taps * cin * CB` floats (asserted).
                    unsafe {
                        let mut wp = w.as_ptr();
                        for &off in &thin.taps {
                            let mut p = planes.as_ptr().add(base + off);
                            for _ in 0..cin {
                                let v = [_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16))];
                                for a in acc.iter_mut() {
                                    let wv = _mm512_set1_ps(*wp);
                                    wp = wp.add(1);
                                    a[0] = _mm512_fmadd_ps(v[0], wv, a[0]);
                                    a[1] = _mm512_fmadd_ps(v[1], wv, a[1]);
                                }
                                p = p.add(pw);
                            }
                        }
                    }
                    let cols = d.wout - ox;
                    for (c, a) in acc.iter().enumerate().take(channels) {
                        let dst = &mut y[(j * CB + c) * plane + oy * d.wout + ox..][..cols.min(COLS)];
                        // SAFETY: the masks keep both stores inside `dst`.
                        unsafe {
                            _mm512_mask_storeu_ps(dst.as_mut_ptr(), lanes(cols.min(16)), a[0]);
                            if cols > 16 {
                                _mm512_mask_storeu_ps(dst.as_mut_ptr().add(16), lanes((cols - 16).min(16)), a[1]);
                            }
                        }
                    }
                }
            }
        }
    }
}
