//! The fast CPU path's data movement around its matrix products, split by stride phase so
//! that every inner loop runs over contiguous memory: the im2col gather of `conv2d` and the
//! col2im scatter-add of `conv_transpose2d`, one image at a time.
//!
//! Along one axis, tap `t` of a window at stride `s` and padding `pad` links position `o` of
//! the strided side to position `o * s + t - pad = (o + shift) * s + phase` of the dense side.
//! The dense side's positions of one phase, `phase, phase + s, ...`, form a plane of their
//! own; in it, tap `t` is a plain shift by `shift`. So the gather reads contiguous runs of the
//! input's phase planes, made in one strided pass per image (proportional to the image, not to
//! the columns). The scatter adds contiguous runs: at stride 1 straight into the output, at
//! stride 2 into the output's two phase planes of each row pair, interleaved after; at larger
//! strides (few taps per phase) it adds straight into the output at its stride.
//!
//! Both give the same bits as the strided loops they replace: the gathered values are the
//! same, and every output element receives its taps in the same `(ky, kx)` order, from zero.
//!
//! Owns: the im2col / col2im data movement. Must not touch: the products, the epilogues.

use super::runs::{Runs, with_runs};
use crate::ops::conv2d::ConvDims;

/// Tap `t`'s phase and shift along an axis (see the module docs).
pub(super) fn tap(t: usize, stride: usize, pad: usize) -> (usize, isize) {
    let r = t as isize - pad as isize;
    let s = stride as isize;
    (r.rem_euclid(s) as usize, r.div_euclid(s))
}

/// How many of the positions `0..len` have phase `phase` at this stride.
pub(super) fn phase_len(len: usize, stride: usize, phase: usize) -> usize {
    if len > phase { (len - phase).div_ceil(stride) } else { 0 }
}

/// The strided side's positions `o` in `0..count` whose partner `o + shift` lies in `0..len`.
fn overlap(count: usize, len: usize, shift: isize) -> (usize, usize) {
    let lo = (-shift).clamp(0, count as isize) as usize;
    let hi = (len as isize - shift).clamp(lo as isize, count as isize) as usize;
    (lo, hi)
}

/// One tap along one axis: its phase and shift, and the strided side's positions
/// `lo..hi` whose partner lies inside the dense side's phase.
struct AxisTap {
    phase: usize,
    shift: isize,
    lo: usize,
    hi: usize,
}

/// The `k` taps along an axis whose strided side has `count` positions and dense side `len`.
fn axis_taps(k: usize, stride: usize, pad: usize, count: usize, len: usize) -> Vec<AxisTap> {
    (0..k)
        .map(|t| {
            let (phase, shift) = tap(t, stride, pad);
            let (lo, hi) = overlap(count, phase_len(len, stride, phase), shift);
            AxisTap { phase, shift, lo, hi }
        })
        .collect()
}

/// A dense plane `(h, w)` split into its `s * s` phase planes, each `(ceil(h / s), ceil(w / s))`
/// (phase `(py, px)` at `((py * s + px) * hp) * wp`).
struct Phases {
    s: usize,
    hp: usize,
    wp: usize,
}

impl Phases {
    fn new(h: usize, w: usize, s: usize) -> Self {
        Phases { s, hp: h.div_ceil(s), wp: w.div_ceil(s) }
    }
    fn len(&self) -> usize {
        self.s * self.s * self.hp * self.wp
    }
    fn start(&self, py: usize, px: usize) -> usize {
        (py * self.s + px) * self.hp * self.wp
    }
}

/// im2col of one image for `conv2d`: `col[(i * k + ky) * k + kx][oy * wout + ox]` (row stride
/// `width`) is `x[i][oy * s + ky - pad][ox * s + kx - pad]`, or zero outside the image. Every
/// element of the image's `hout * wout` columns is written. `scratch` holds one channel's
/// phase planes.
#[inline(always)]
fn gather<R: Runs>(d: &ConvDims, x: &[f32], col: &mut [f32], width: usize, scratch: &mut Vec<f32>) {
    let (s, plane) = (d.stride, d.hin * d.win);
    let ph = Phases::new(d.hin, d.win, s);
    let (ys, xs) = (axis_taps(d.k, s, d.pad, d.hout, d.hin), axis_taps(d.k, s, d.pad, d.wout, d.win));
    scratch.resize(ph.len(), 0.0);
    for i in 0..d.cin {
        let xp = &x[i * plane..][..plane];
        // With stride 1 the image is its only phase plane.
        let (planes, wp) = if s == 1 {
            (xp, d.win)
        } else {
            for (iy, row) in xp.chunks_exact(d.win).enumerate() {
                let (py, a) = (iy % s, iy / s);
                if s == 2 {
                    let (even, odd) = scratch[ph.start(py, 0) + a * ph.wp..].split_at_mut(ph.hp * ph.wp);
                    R::split2(row, &mut even[..phase_len(d.win, 2, 0)], &mut odd[..phase_len(d.win, 2, 1)]);
                    continue;
                }
                for px in 0..s {
                    let dst = &mut scratch[ph.start(py, px) + a * ph.wp..][..phase_len(d.win, s, px)];
                    dst.iter_mut().zip(row.iter().skip(px).step_by(s)).for_each(|(v, &x)| *v = x);
                }
            }
            (&scratch[..], ph.wp)
        };
        for (ky, ty) in ys.iter().enumerate() {
            for (kx, tx) in xs.iter().enumerate() {
                let src = if s == 1 { planes } else { &planes[ph.start(ty.phase, tx.phase)..] };
                let dst = &mut col[((i * d.k + ky) * d.k + kx) * width..][..d.hout * d.wout];
                for (oy, row) in dst.chunks_exact_mut(d.wout).enumerate() {
                    if oy < ty.lo || oy >= ty.hi || tx.lo >= tx.hi {
                        row.fill(0.0);
                        continue;
                    }
                    let a = (oy as isize + ty.shift) as usize;
                    let c0 = (tx.lo as isize + tx.shift) as usize;
                    row[..tx.lo].fill(0.0);
                    R::copy(&mut row[tx.lo..tx.hi], &src[a * wp + c0..]);
                    row[tx.hi..].fill(0.0);
                }
            }
        }
    }
}

/// col2im of one image for `conv_transpose2d`: adds `col[(o * k + ky) * k + kx][iy * win + ix]`
/// (row stride `width`) into `y[o][iy * s + ky - pad][ix * s + kx - pad]` where that lies in
/// the output, and overwrites `y` (the image's `(cout, hout, wout)`) with the sums. `scratch`
/// holds one channel's phase planes at stride 2 (unused otherwise).
#[inline(always)]
fn scatter<R: Runs>(d: &ConvDims, col: &[f32], width: usize, y: &mut [f32], scratch: &mut Vec<f32>) {
    let (s, plane, q) = (d.stride, d.hout * d.wout, d.hin * d.win);
    let ph = Phases::new(d.hout, d.wout, s);
    // Stride 1 sums straight into the output plane; stride 2 into two phase planes per row
    // pair, interleaved after; larger strides (rare, with few taps per phase) add straight
    // into the output at their stride.
    let phased = s == 2;
    let (ys, xs) = (axis_taps(d.k, s, d.pad, d.hin, d.hout), axis_taps(d.k, s, d.pad, d.win, d.wout));
    if phased {
        scratch.resize(ph.len(), 0.0);
    }
    for (o, yp) in y.chunks_exact_mut(plane).enumerate() {
        let acc = if phased { &mut scratch[..] } else { &mut yp[..] };
        acc.fill(0.0);
        for (ky, ty) in ys.iter().enumerate() {
            for (kx, tx) in xs.iter().enumerate() {
                if tx.lo >= tx.hi {
                    continue;
                }
                let src = &col[((o * d.k + ky) * d.k + kx) * width..][..q];
                let c0 = (tx.lo as isize + tx.shift) as usize;
                for iy in ty.lo..ty.hi {
                    let (a, run) = ((iy as isize + ty.shift) as usize, &src[iy * d.win + tx.lo..][..tx.hi - tx.lo]);
                    if phased {
                        R::add(&mut acc[ph.start(ty.phase, tx.phase) + a * ph.wp + c0..][..run.len()], run);
                    } else if s == 1 {
                        R::add(&mut acc[a * d.wout + c0..][..run.len()], run);
                    } else {
                        let out = acc[(a * s + ty.phase) * d.wout + c0 * s + tx.phase..].iter_mut().step_by(s);
                        out.zip(run).for_each(|(v, &c)| *v += c);
                    }
                }
            }
        }
        if !phased {
            continue;
        }
        // Interleave the phase planes into the output rows.
        for (oy, row) in yp.chunks_exact_mut(d.wout).enumerate() {
            let (py, a) = (oy % 2, oy / 2);
            let even = &scratch[ph.start(py, 0) + a * ph.wp..][..d.wout.div_ceil(2)];
            let odd = &scratch[ph.start(py, 1) + a * ph.wp..][..d.wout / 2];
            R::merge2(row, even, odd);
        }
    }
}

with_runs!(fn gather_columns(d: &ConvDims, x: &[f32], col: &mut [f32], width: usize, scratch: &mut Vec<f32>) {
    gather::<R>(d, x, col, width, scratch)
} as R);

with_runs!(fn scatter_columns(d: &ConvDims, col: &[f32], width: usize, y: &mut [f32], scratch: &mut Vec<f32>) {
    scatter::<R>(d, col, width, y, scratch)
} as R);
