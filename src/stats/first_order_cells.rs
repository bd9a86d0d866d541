//! The per-image values the first-order statistics are means of, and their weighted
//! evaluation, once on the images and once per bootstrap resample.
//!
//! Image j's block holds, for each row (target t) in turn, `1 + 3F` values: 1 if |g_t| > 0
//! (else 0), then for every feature i the cosine cos(g_t, g_i) (0 where undefined), 1 where
//! that cosine is defined (else 0), and the slope `g_i·g_t / |g_t|²` (0 where undefined). The
//! weighted total of the blocks holds every mean's numerator and its count, so a resample
//! costs one weighted sum over the images and never touches the gradients again.
//!
//! Owns: the layout of the per-image values and of the flat statistics. Must not touch: the
//! test, the q-values, the result types.

use super::metrics::sigmas;
use super::sufficient::{StartSums, weighted_total};

/// The number of flat statistics of one row for F features: correlation, slope and dependency
/// (F each), then mean |d| and max |d|.
pub(crate) fn row_len(features: usize) -> usize {
    3 * features + 2
}

/// The per-image values of every row (see the module's documentation) and the starting
/// logits' sums.
pub(crate) struct Cells {
    pub features: usize,
    pub targets: Vec<usize>,
    values: Vec<f64>,
    start: StartSums,
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
}

impl Cells {
    /// From `grads` (`[image][feature][zdim]`) and `start` (`[image][feature]`), both checked.
    pub fn new(grads: &[f32], start: &[f32], images: usize, features: usize, zdim: usize, targets: &[usize]) -> Self {
        let (f, rb) = (features, 1 + 3 * features);
        let mut values = vec![0.0; images * targets.len() * rb];
        let mut norm2 = vec![0.0; f];
        for (g, blocks) in grads.chunks_exact(f * zdim).zip(values.chunks_exact_mut((targets.len() * rb).max(1))) {
            let grad = |i: usize| &g[i * zdim..(i + 1) * zdim];
            for (i, n) in norm2.iter_mut().enumerate() {
                *n = dot(grad(i), grad(i));
            }
            for (&t, b) in targets.iter().zip(blocks.chunks_exact_mut(rb)) {
                let nt = norm2[t];
                if nt <= 0.0 {
                    continue;
                }
                b[0] = 1.0;
                for i in 0..f {
                    if i == t {
                        (b[1 + i], b[1 + f + i], b[1 + 2 * f + i]) = (1.0, 1.0, 1.0);
                        continue;
                    }
                    let d = dot(grad(t), grad(i));
                    if norm2[i] > 0.0 {
                        b[1 + i] = (d / (nt.sqrt() * norm2[i].sqrt())).clamp(-1.0, 1.0);
                        b[1 + f + i] = 1.0;
                    }
                    b[1 + 2 * f + i] = d / nt;
                }
            }
        }
        Cells { features, targets: targets.to_vec(), values, start: StartSums::new(start, images, features) }
    }

    fn row_block(&self) -> usize {
        1 + 3 * self.features
    }

    fn block(&self) -> usize {
        self.targets.len() * self.row_block()
    }

    /// The number of flat statistics: σ (F values), then each row's [`row_len`].
    pub fn len(&self) -> usize {
        self.features + self.targets.len() * row_len(self.features)
    }

    /// Where row `row`'s statistics begin in the flat layout.
    pub fn row_start(&self, row: usize) -> usize {
        self.features + row * row_len(self.features)
    }

    /// The slopes of feature `i` in row `row` of the images where the target's gradient is
    /// nonzero, in image order.
    pub fn slopes(&self, row: usize, i: usize) -> Vec<f64> {
        let (f, rb, k) = (self.features, self.row_block(), self.block());
        self.values.chunks_exact(k).map(|b| &b[row * rb..(row + 1) * rb]).filter(|b| b[0] > 0.0).map(|b| b[1 + 2 * f + i]).collect()
    }

    /// Every statistic of the images drawn `weights[j]` times each, into `out` (see
    /// [`Cells::len`]); NaN where undefined. `scratch` is any buffer; it is resized as needed.
    pub fn evaluate(&self, weights: &[u32], scratch: &mut Vec<f64>, out: &mut [f64]) {
        let (f, rb) = (self.features, self.row_block());
        let (kc, ks) = (self.block(), self.start.block());
        scratch.resize(kc + ks, 0.0);
        let (cells, start) = scratch.split_at_mut(kc);
        if kc > 0 {
            weighted_total(&self.values, kc, weights, cells);
        }
        weighted_total(&self.start.values, ks, weights, start);
        let (sigma, rows) = out.split_at_mut(f);
        sigmas(start, f, sigma);
        for ((&t, total), o) in self.targets.iter().zip(cells.chunks_exact(rb)).zip(rows.chunks_exact_mut(row_len(f))) {
            let with_slope = total[0];
            let (cos, rest) = total[1..].split_at(f);
            let (with_cos, slope) = rest.split_at(f);
            let (corr_out, rest) = o.split_at_mut(f);
            let (slope_out, rest) = rest.split_at_mut(f);
            let (dep_out, summary) = rest.split_at_mut(f);
            let (mut sum_abs, mut count, mut max_abs) = (0.0, 0usize, 0.0f64);
            for i in 0..f {
                corr_out[i] = if with_cos[i] > 0.0 { cos[i] / with_cos[i] } else { f64::NAN };
                slope_out[i] = if with_slope > 0.0 { slope[i] / with_slope } else { f64::NAN };
                dep_out[i] = if sigma[t] > 0.0 && sigma[i] > 0.0 { slope_out[i] * sigma[t] / sigma[i] } else { f64::NAN };
                if i != t && dep_out[i].is_finite() {
                    sum_abs += dep_out[i].abs();
                    count += 1;
                    max_abs = max_abs.max(dep_out[i].abs());
                }
            }
            summary[0] = if count > 0 { sum_abs / count as f64 } else { f64::NAN };
            summary[1] = if count > 0 { max_abs } else { f64::NAN };
        }
    }
}
