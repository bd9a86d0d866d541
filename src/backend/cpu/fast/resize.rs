//! The fast CPU path of nearest resizing (`ops/resize.rs`), planes spread over the cores.
//! Forward each output row gathers from its source row by a precomputed column map.
//! Backward each input pixel's gradient is the sum of a block of the output's gradient: the
//! outputs whose source is input row `iy` are a run of rows, and likewise for columns, as
//! `floor(o * inv)` never decreases. So each input row first sums its output rows, then each
//! pixel sums its run of that sum. Same results as the twin up to summation order.
//!
//! Owns: this path's loops and its split over threads. Must not touch: the kernel's checks.

use crate::ops::CpuMemory;
use crate::ops::act::Act;
use crate::ops::resize::{Resize, source};

/// For each input index of an axis of `size`, the run `[start, end)` of the `out` output
/// indices whose source it is.
fn runs(inv: f32, size: usize, out: usize) -> Vec<(usize, usize)> {
    let mut r = vec![(0, 0); size];
    let mut o = 0;
    for (i, run) in r.iter_mut().enumerate() {
        let start = o;
        while o < out && source(o, inv, size) == i {
            o += 1;
        }
        *run = (start, o);
    }
    r
}

/// Runs `r` on `threads` threads.
pub fn run(r: &Resize, mem: &mut CpuMemory, threads: usize) {
    let (hin, win, hout, wout) = (r.hin, r.win, r.hout, r.wout);
    let (x_plane, y_plane) = if r.backward { (hout * wout, hin * win) } else { (hin * win, hout * wout) };
    let per = r.planes.div_ceil(threads.max(1)).max(1);
    mem.with_output(r.output, |mem, y| {
        let x = &mem.get(r.input)[..r.planes * x_plane];
        let aux = r.aux.map(|a| &mem.get(a)[..r.planes * y_plane]);
        let y = &mut y[..r.planes * y_plane];
        if !r.backward {
            let sy: Vec<usize> = (0..hout).map(|o| source(o, r.inv[0], hin)).collect();
            let sx: Vec<usize> = (0..wout).map(|o| source(o, r.inv[1], win)).collect();
            std::thread::scope(|s| {
                for (xs, ys) in x.chunks(per * x_plane).zip(y.chunks_mut(per * y_plane)) {
                    let (sy, sx) = (&sy, &sx);
                    s.spawn(move || {
                        for (xp, yp) in xs.chunks(x_plane).zip(ys.chunks_mut(y_plane)) {
                            for (oy, row) in yp.chunks_mut(wout).enumerate() {
                                let src = &xp[sy[oy] * win..(sy[oy] + 1) * win];
                                for (v, &c) in row.iter_mut().zip(sx) {
                                    *v = src[c];
                                }
                            }
                        }
                    });
                }
            });
            return;
        }
        let (ry, rx) = (runs(r.inv[0], hin, hout), runs(r.inv[1], win, wout));
        let act = r.act;
        std::thread::scope(|s| {
            for (k, (gs, ys)) in x.chunks(per * x_plane).zip(y.chunks_mut(per * y_plane)).enumerate() {
                let (ry, rx) = (&ry, &rx);
                let aux = aux.map(|a| &a[k * per * y_plane..]);
                s.spawn(move || {
                    let mut rowsum = vec![0.0f32; wout];
                    for (p, (gp, yp)) in gs.chunks(x_plane).zip(ys.chunks_mut(y_plane)).enumerate() {
                        for (iy, out_row) in yp.chunks_mut(win).enumerate() {
                            rowsum.iter_mut().for_each(|v| *v = 0.0);
                            for oy in ry[iy].0..ry[iy].1 {
                                for (acc, &g) in rowsum.iter_mut().zip(&gp[oy * wout..(oy + 1) * wout]) {
                                    *acc += g;
                                }
                            }
                            for (ix, v) in out_row.iter_mut().enumerate() {
                                let sum: f32 = rowsum[rx[ix].0..rx[ix].1].iter().sum();
                                *v = match aux {
                                    Some(a) if act != Act::Identity => sum * act.grad_from_output(a[(p * hin + iy) * win + ix]),
                                    _ => sum,
                                };
                            }
                        }
                    }
                });
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn runs_cover_every_output_once() {
        for (inv, size, out) in [(0.5f32, 4, 8), (1.0 / 3.0, 5, 15), (2.0, 8, 4), (0.4, 7, 17)] {
            let r = runs(inv, size, out);
            assert_eq!(r[0].0, 0);
            assert_eq!(r[size - 1].1, out, "{inv} {size} {out}: {r:?}");
            assert!(r.windows(2).all(|w| w[0].1 == w[1].0), "{r:?}");
        }
    }
}
