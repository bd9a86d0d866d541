//! The fast CPU path of the stride-2, 4 x 4 convolutions (every large layer of a DCGAN
//! generator and of the notebook's classifier, in both directions) by Winograd's minimal
//! filtering F(2 x 2, 2 x 2) (Lavin and Gray, "Fast Algorithms for Convolutional Neural
//! Networks", 2016), on each stride phase.
//!
//! Split by stride phase, such a layer is a sum of 2 x 2 correlations at stride 1: along an
//! axis, `conv2d` sums two input phases into its output, and `conv_transpose2d` makes each of
//! its two output phases from its input; every such pairing has two taps `(g0, g1)`, `out[o]
//! += g0 * u[o + off] + g1 * u[o + off + 1]`. F(2, 2) makes two outputs from three inputs with
//! three products instead of four:
//!
//! ```text
//! d = (u0 - u1, u1, u2 - u1)     G g = (g0, g0 + g1, g1)     (y0, y1) = (m0 + m1, m1 + m2)
//! ```
//!
//! with `m = d * G g` elementwise. In two dimensions a 2 x 2 output tile takes 9 products
//! instead of 16, and the products of all channels and pairings at one of the 9 points are
//! one matrix product: `M (cout, tiles) = (G g G^T) (cout, pairings cin) * (B^T d B)
//! (pairings cin, tiles)`, 9 per output phase. The transforms add and subtract only (every
//! constant is 0 or 1), so the results keep the direct sum's accuracy up to its order.
//!
//! Owns: the Winograd transforms and their products. Must not touch: the direct path.

use super::finish::Finish;
use super::phases::{phase_len, tap};
use super::runs::{Along, Runs, with_runs};
use super::sgemm::{Strided, gemm};
use super::{Form, Scratch};
use crate::ops::conv2d::ConvDims;

/// The largest share of the direct product's multiply-adds this path may take (9 / 16 where
/// the tiles cover the output exactly; images with an odd edge take more, and gain too
/// little to pay for the transforms: the classifier's second layer's input-gradient, 31 x 31
/// from 14 x 14, would take 0.73 and ran 1.1x the direct path's time).
const MAX_WORK: f64 = 0.65;

/// The fewest channels, in and out, of a layer on this path.
pub(super) const MIN_CHANNELS: usize = 16;

/// One 2-tap correlation along an axis: output phase position `o` gets `g0 * u[o + off] + g1 *
/// u[o + off + 1]`, `u` the input's phase plane `plane`, `(g0, g1)` kernel taps `taps`.
#[derive(Clone, Copy, Debug)]
struct Pairing {
    plane: usize,
    off: isize,
    taps: [usize; 2],
}

/// One output phase along an axis: `len` positions, position `o` landing at `o * step + phase`
/// of the output (`step` the axis's), and the pairings summed into it.
#[derive(Clone, Debug)]
struct OutPhase {
    phase: usize,
    len: usize,
    pairings: Vec<Pairing>,
}

/// The stride-phase structure of one axis: input plane `p` holds the input's positions
/// `p + in_step * j`; output phase positions land at `o * step + phase`.
#[derive(Clone, Debug)]
struct Axis {
    in_step: usize,
    step: usize,
    outs: Vec<OutPhase>,
}

impl Axis {
    fn new(form: Form, pad: usize, len_out: usize) -> Axis {
        // The one tap of {0, 1} in each phase: its partner, two further, has the same phase
        // and the next shift.
        let first = |phase: usize| (0..2).find(|&t| tap(t, 2, pad).0 == phase).expect("taps 0 and 1 have both phases");
        match form {
            // Input phase plane p, position j: x[2 j + p]; x[2 o + t - pad] = plane[o + shift].
            Form::Conv => Axis {
                in_step: 2,
                step: 1,
                outs: vec![OutPhase {
                    phase: 0,
                    len: len_out,
                    pairings: (0..2)
                        .map(|p| {
                            let t = first(p);
                            Pairing { plane: p, off: tap(t, 2, pad).1, taps: [t, t + 2] }
                        })
                        .collect(),
                }],
            },
            // x[i] reaches y[2 (i + shift) + phase]: output phase position a takes x[a - shift]
            // by tap t and x[a - shift - 1] by tap t + 2.
            Form::Transpose => Axis {
                in_step: 1,
                step: 2,
                outs: (0..2)
                    .map(|p| {
                        let t = first(p);
                        let pairing = Pairing { plane: 0, off: -tap(t, 2, pad).1 - 1, taps: [t + 2, t] };
                        OutPhase { phase: p, len: phase_len(len_out, 2, p), pairings: vec![pairing] }
                    })
                    .filter(|o| o.len > 0)
                    .collect(),
            },
        }
    }
}

/// Tiles along an output phase of `len` positions.
fn tiles(len: usize) -> usize {
    len.div_ceil(2)
}

/// One output phase of a layer: its phase along each axis and the pairings `(y, x)` summed
/// into it, column block `pairing` of its matrices' `K = pairings * cin` columns.
struct Phase {
    y: OutPhase,
    x: OutPhase,
    pairs: Vec<(Pairing, Pairing)>,
}

impl Phase {
    /// Tiles along `y` and `x`.
    fn tiles(&self) -> (usize, usize) {
        (tiles(self.y.len), tiles(self.x.len))
    }
}

/// The layer's geometry on this path.
pub(super) struct Plan {
    ys: Axis,
    xs: Axis,
    phases: Vec<Phase>,
}

impl Plan {
    /// The plan of a layer that takes this path: stride 2 and a 4 x 4 kernel, so that every
    /// stride phase has two taps along each axis; at least [`MIN_CHANNELS`] channels on both
    /// sides (the transforms run over channel vectors); at most [`MAX_WORK`] of the direct
    /// product's multiply-adds. `None` for any other layer.
    pub(super) fn new(d: &ConvDims, form: Form) -> Option<Plan> {
        if !(d.stride == 2 && d.k == 4 && d.hout > 0 && d.wout > 0 && d.cin.min(d.cout) >= MIN_CHANNELS) {
            return None;
        }
        let (ys, xs) = (Axis::new(form, d.pad, d.hout), Axis::new(form, d.pad, d.wout));
        let phases: Vec<Phase> = ys
            .outs
            .iter()
            .flat_map(|oy| xs.outs.iter().map(move |ox| (oy, ox)))
            .map(|(oy, ox)| Phase {
                pairs: oy.pairings.iter().flat_map(|&py| ox.pairings.iter().map(move |&px| (py, px))).collect(),
                y: oy.clone(),
                x: ox.clone(),
            })
            .collect();
        // Multiply-adds per channel pair: 9 a tile and pairing, against 16 a pixel of the
        // strided side.
        let work: usize = phases.iter().map(|ph| 9 * ph.tiles().0 * ph.tiles().1 * ph.pairs.len()).sum();
        let pixels = match form {
            Form::Conv => d.hout * d.wout,
            Form::Transpose => d.hin * d.win,
        };
        (work as f64 <= MAX_WORK * (16 * pixels) as f64).then_some(Plan { ys, xs, phases })
    }

    /// Floats of scratch one image takes in [`group`].
    pub(super) fn scratch_per_image(&self, d: &ConvDims) -> usize {
        let most = self.phases.iter().map(|ph| 9 * (ph.pairs.len() * d.cin + d.cout) * ph.tiles().0 * ph.tiles().1).max().unwrap_or(0);
        most + d.cin * d.hin * d.win + d.cout * d.hout * d.wout
    }
}

/// A layer's plan and its transformed weights: for output phase `q`, 9 matrices `(cout, K)`,
/// point `p` at `p * cout * K`.
pub(super) struct Winograd {
    plan: Plan,
    weights: Vec<Vec<f32>>,
}

/// `G g G^T` of a 2 x 2 kernel `g`, point `(i, j)` at `3 i + j`.
fn transform_kernel(g: [[f32; 2]; 2]) -> [f32; 9] {
    let col = |r: [f32; 2]| [r[0], r[0] + r[1], r[1]];
    let (a, b) = (col(g[0]), col(g[1]));
    let mut t = [0.0; 9];
    for j in 0..3 {
        let c = col([a[j], b[j]]);
        for i in 0..3 {
            t[3 * i + j] = c[i];
        }
    }
    t
}

impl Winograd {
    /// Transforms the weights `w` (`(cout, cin, 4, 4)` for `conv2d`, `(cin, cout, 4, 4)` for
    /// `conv_transpose2d`) for `plan`, once per call. (Split over the threads, it took no
    /// measurable time off the step.)
    pub(super) fn new(plan: Plan, d: &ConvDims, form: Form, w: &[f32]) -> Winograd {
        let mut weights: Vec<Vec<f32>> = plan.phases.iter().map(|ph| vec![0.0f32; 9 * d.cout * ph.pairs.len() * d.cin]).collect();
        let mut matrices: Vec<&mut [f32]> =
            plan.phases.iter().zip(&mut weights).flat_map(|(ph, m)| m.chunks_exact_mut(d.cout * ph.pairs.len() * d.cin)).collect();
        transform_kernels(&plan.phases, d, form, w, &mut matrices);
        Winograd { plan, weights }
    }
}

/// [`Winograd::new`]'s transform: `matrices[9 q + p]` is phase `q`'s matrix `p`. Each 4 x 4
/// kernel is read once for every phase.
fn transform_kernels(phases: &[Phase], d: &ConvDims, form: Form, w: &[f32], matrices: &mut [&mut [f32]]) {
    for o in 0..d.cout {
        for ci in 0..d.cin {
            let start = match form {
                Form::Conv => (o * d.cin + ci) * 16,
                Form::Transpose => (ci * d.cout + o) * 16,
            };
            let kernel = &w[start..][..16];
            for (q, ph) in phases.iter().enumerate() {
                let k = ph.pairs.len() * d.cin;
                for (pi, (py, px)) in ph.pairs.iter().enumerate() {
                    let g = [0, 1].map(|a| [0, 1].map(|b| kernel[py.taps[a] * 4 + px.taps[b]]));
                    for (p, v) in transform_kernel(g).into_iter().enumerate() {
                        matrices[9 * q + p][o * k + pi * d.cin + ci] = v;
                    }
                }
            }
        }
    }
}

// Runs the layer on `g` images of a group of `full` (the columns of the missing ones zero,
// so that every product of a layer has one shape), writing the sums, before the epilogue,
// into `y`.
//
// Everything between the products is laid out tile-major, channels contiguous: the input
// (`(g, hin, win, cin)`), the transformed tiles (point `p`: `(N, K)`, the product's right
// matrix by columns) and the products (point `p`: `(N, cout)`), so that every transform runs
// over channel vectors however small the image.
with_runs!(fn group(d: &ConvDims, wg: &Winograd, g: usize, full: usize, x: &[f32], y: &mut [f32], fin: &Finish, s: &mut Scratch) {
    run_group::<R>(d, wg, g, full, x, y, fin, s)
} as R);

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn run_group<R: Runs>(d: &ConvDims, wg: &Winograd, g: usize, full: usize, x: &[f32], y: &mut [f32], fin: &Finish, s: &mut Scratch) {
    let (ys, xs) = (&wg.plan.ys, &wg.plan.xs);
    let (in_plane, out_plane, cin, cout) = (d.hin * d.win, d.hout * d.wout, d.cin, d.cout);
    // The images channels-last.
    s.phases.resize(g * in_plane * cin, 0.0);
    for (xb, tb) in x[..g * cin * in_plane].chunks_exact(cin * in_plane).zip(s.phases.chunks_exact_mut(in_plane * cin)) {
        R::transpose(xb, cin, in_plane, tb, Along::Src);
    }
    let zero = vec![0.0f32; cin];
    // The output channels-last, transposed into `y` at the end.
    s.planes.resize(g * out_plane * cout, 0.0);
    for (q, ph) in wg.plan.phases.iter().enumerate() {
        let (oy, ox) = (&ph.y, &ph.x);
        let (ty_n, tx_n) = ph.tiles();
        let t = ty_n * tx_n;
        let (kc, n) = (ph.pairs.len() * cin, full * t);
        s.col.resize(9 * n * kc, 0.0);
        // Input transform: B^T d B of every tile and pairing.
        for b in 0..full {
            for ty in 0..ty_n {
                for tx in 0..tx_n {
                    let tile = b * t + ty * tx_n + tx;
                    for (pi, (py, px)) in ph.pairs.iter().enumerate() {
                        let at = tile * kc + pi * cin;
                        if b >= g {
                            (0..9).for_each(|p| s.col[p * n * kc + at..][..cin].fill(0.0));
                            continue;
                        }
                        let image = &s.phases[b * in_plane * cin..][..in_plane * cin];
                        let u: [[&[f32]; 3]; 3] = std::array::from_fn(|i| {
                            let r = py.plane as isize + ys.in_step as isize * (2 * ty as isize + py.off + i as isize);
                            std::array::from_fn(|j| {
                                let c = px.plane as isize + xs.in_step as isize * (2 * tx as isize + px.off + j as isize);
                                if r < 0 || c < 0 || r >= d.hin as isize || c >= d.win as isize {
                                    &zero[..]
                                } else {
                                    &image[(r as usize * d.win + c as usize) * cin..][..cin]
                                }
                            })
                        });
                        input_tile(&u, &mut s.col[..9 * n * kc], n * kc, at);
                    }
                }
            }
        }
        // The 9 products, each (cout, K) x (K, N) into (N, cout).
        s.tmp.resize(9 * n * cout, 0.0);
        for p in 0..9 {
            let a = Strided::rows(&wg.weights[q][p * cout * kc..][..cout * kc], kc);
            let v = Strided::cols(&s.col[p * n * kc..][..n * kc], kc);
            gemm(cout, kc, n, a, v, &mut s.tmp[p * n * cout..][..n * cout], 1, cout);
        }
        // Output transform: A^T M A of every tile, into the channels-last output.
        for b in 0..g {
            for ty in 0..ty_n {
                for tx in 0..tx_n {
                    let tile = b * t + ty * tx_n + tx;
                    let m: [&[f32]; 9] = std::array::from_fn(|p| &s.tmp[p * n * cout + tile * cout..][..cout]);
                    let yb = &mut s.planes[b * out_plane * cout..][..out_plane * cout];
                    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let (a, c) = (2 * ty + dy, 2 * tx + dx);
                        if a < oy.len && c < ox.len {
                            let pos = (a * ys.step + oy.phase) * d.wout + c * xs.step + ox.phase;
                            output_point(&m, dy, dx, &mut yb[pos * cout..][..cout]);
                        }
                    }
                }
            }
        }
    }
    for (b, (src, dst)) in
        s.planes.chunks_exact(out_plane * cout).zip(y[..g * cout * out_plane].chunks_exact_mut(cout * out_plane)).enumerate()
    {
        R::transpose(src, out_plane, cout, dst, Along::Dst);
        fin.image(b, dst);
    }
}

/// `out[t] = f(a[t], b[t], c[t], d[t])` over `out`'s length (the others at least as long),
/// in one loop the compiler vectorises.
#[inline(always)]
fn map4(out: &mut [f32], a: &[f32], b: &[f32], c: &[f32], d: &[f32], f: impl Fn(f32, f32, f32, f32) -> f32) {
    let n = out.len();
    let (a, b, c, d) = (&a[..n], &b[..n], &c[..n], &d[..n]);
    for t in 0..n {
        out[t] = f(a[t], b[t], c[t], d[t]);
    }
}

/// The input transform of one tile: `u[i][j]` its 3 x 3 inputs (channel vectors); point `p`
/// goes to `col[p * stride + first..]`.
#[inline(always)]
fn input_tile(u: &[[&[f32]; 3]; 3], col: &mut [f32], stride: usize, first: usize) {
    let n = u[1][1].len();
    let mut points = col.chunks_exact_mut(stride);
    let mut next = || &mut points.next().expect("9 points")[first..][..n];
    let [[u00, u01, u02], [u10, u11, u12], [u20, u21, u22]] = *u;
    // B^T d B: along y (r0 - r1, r1, r2 - r1), then along x (c0 - c1, c1, c2 - c1).
    map4(next(), u00, u10, u01, u11, |a, b, c, d| (a - b) - (c - d));
    map4(next(), u01, u11, u01, u11, |c, d, _, _| c - d);
    map4(next(), u02, u12, u01, u11, |a, b, c, d| (a - b) - (c - d));
    map4(next(), u10, u11, u10, u11, |a, b, _, _| a - b);
    map4(next(), u11, u11, u11, u11, |a, _, _, _| a);
    map4(next(), u12, u11, u12, u11, |a, b, _, _| a - b);
    map4(next(), u20, u10, u21, u11, |a, b, c, d| (a - b) - (c - d));
    map4(next(), u21, u11, u21, u11, |c, d, _, _| c - d);
    map4(next(), u22, u12, u21, u11, |a, b, c, d| (a - b) - (c - d));
}

/// Output `(dy, dx)` of one tile's output transform: `m` its 9 points' products (channel
/// vectors); `A^T M A` sums the points `(i, j)` with `i` in `{dy, dy + 1}`, `j` in `{dx, dx + 1}`.
#[inline(always)]
fn output_point(m: &[&[f32]; 9], dy: usize, dx: usize, out: &mut [f32]) {
    let p = 3 * dy + dx;
    map4(out, m[p], m[p + 3], m[p + 1], m[p + 4], |a, b, c, d| (a + b) + (c + d));
}

#[cfg(test)]
mod tests {
    use super::{Form, Plan};
    use crate::ops::conv2d::ConvDims;

    fn applies(d: &ConvDims, form: Form) -> bool {
        Plan::new(d, form).is_some()
    }

    fn dims(cin: usize, hin: usize, cout: usize, hout: usize, k: usize, stride: usize, pad: usize) -> ConvDims {
        ConvDims { n: 1, cin, hin, win: hin, cout, hout, wout: hout, k, stride, pad }
    }

    /// Which layers of the DCGAN generator and the notebook's classifier take the path (its
    /// results are checked against the reference loops in `fast`'s tests).
    #[test]
    fn the_large_stride_2_layers_take_the_path() {
        // Generator forward (transposed) and its input-gradients (conv2d, roles swapped).
        for (cin, hin, cout) in [(512, 4, 256), (256, 8, 128), (128, 16, 64)] {
            assert!(applies(&dims(cin, hin, cout, 2 * hin, 4, 2, 1), Form::Transpose), "{cin} x {hin} forward");
            assert!(applies(&dims(cout, 2 * hin, cin, hin, 4, 2, 1), Form::Conv), "{cin} x {hin} input-gradient");
        }
        // The classifier's second layer forward: 64 x 31 x 31 -> 128 x 14 x 14, no padding.
        assert!(applies(&dims(64, 31, 128, 14, 4, 2, 0), Form::Conv));
        // Its input-gradient overhangs: 0.73 of the direct multiply-adds.
        assert!(!applies(&dims(128, 14, 64, 31, 4, 2, 0), Form::Transpose));
        // Few channels (RGB in or out), other strides and kernels.
        assert!(!applies(&dims(64, 32, 3, 64, 4, 2, 1), Form::Transpose));
        assert!(!applies(&dims(3, 64, 64, 31, 4, 2, 0), Form::Conv));
        assert!(!applies(&dims(128, 14, 256, 4, 4, 3, 0), Form::Conv));
        assert!(!applies(&dims(64, 16, 64, 16, 3, 1, 1), Form::Conv));
    }
}
