//! Per-image sufficient statistics of the recorded changes and of the starting logits.
//!
//! Every probe statistic is a function of these sums, so the bootstrap re-weights images'
//! sums and never touches the rows again. Owns the layout of the sums and their aggregation.

use super::{Changes, Direction};

/// Per-image sums of one row set, in f64, each feature shifted by a fixed value `c_i` (the mean
/// of feature i over all the rows, which keeps the sums small and their differences exact to
/// f64 precision; covariances do not depend on the shift).
///
/// Image j's block holds `1 + 3F` values: the row count m, then `Σ y_i`, `Σ y_t y_i` and
/// `Σ y_i²` for every feature i, where `y_i = x_i - c_i` over the image's rows in the set
/// (`Σ y_t²` is the i = t entry of the cross products).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImageSums {
    pub features: usize,
    pub target: usize,
    pub images: usize,
    pub values: Vec<f64>,
}

impl ImageSums {
    /// The length of one image's block.
    pub fn block(&self) -> usize {
        1 + 3 * self.features
    }

    /// Image j's block.
    pub fn image(&self, j: usize) -> &[f64] {
        let k = self.block();
        &self.values[j * k..(j + 1) * k]
    }

    /// The sums of the rows of `direction` (see the type's documentation) about `shift`.
    pub fn of_direction(changes: &Changes, direction: Direction, target: usize, shift: &[f64]) -> Self {
        let (f, n) = (changes.features(), changes.images());
        let k = 1 + 3 * f;
        let mut values = vec![0.0; n * k];
        let mut y = vec![0.0; f];
        for step in 0..changes.steps() {
            for j in 0..n {
                let row = changes.row(changes.row_index(direction, step, j));
                for ((yi, &x), &c) in y.iter_mut().zip(row).zip(shift) {
                    *yi = x as f64 - c;
                }
                let yt = y[target];
                let b = &mut values[j * k..(j + 1) * k];
                b[0] += 1.0;
                for (i, &yi) in y.iter().enumerate() {
                    b[1 + i] += yi;
                    b[1 + f + i] += yt * yi;
                    b[1 + 2 * f + i] += yi * yi;
                }
            }
        }
        ImageSums { features: f, target, images: n, values }
    }

    /// The image-by-image sum of two row sets' sums (the pooled set is up plus down).
    pub fn plus(&self, other: &ImageSums) -> Self {
        let values = self.values.iter().zip(&other.values).map(|(a, b)| a + b).collect();
        ImageSums { values, ..*self }
    }
}

/// Per-image sums of the starting logits about their mean `c_i` over the images: image j's
/// block holds `1 + 2F` values, 1, then `z_i` and `z_i²` with `z_i = start_ji - c_i`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StartSums {
    pub features: usize,
    pub images: usize,
    pub values: Vec<f64>,
}

impl StartSums {
    pub fn new(start: &[f32], images: usize, features: usize) -> Self {
        let f = features;
        let mut mean = vec![0.0; f];
        for row in start.chunks_exact(f) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += v as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= images as f64);
        let mut values = Vec::with_capacity(images * (1 + 2 * f));
        for row in start.chunks_exact(f) {
            values.push(1.0);
            values.extend(row.iter().zip(&mean).map(|(&v, m)| v as f64 - m));
            values.extend(row.iter().zip(&mean).map(|(&v, m)| (v as f64 - m).powi(2)));
        }
        StartSums { features, images, values }
    }

    pub fn block(&self) -> usize {
        1 + 2 * self.features
    }
}

/// `Σ_j w_j block_j` over images, into `out` (the block's length). `weights[j]` is how many
/// times image j is drawn; all ones gives the sample's own totals.
pub(crate) fn weighted_total(values: &[f64], block: usize, weights: &[u32], out: &mut [f64]) {
    out.iter_mut().for_each(|o| *o = 0.0);
    for (w, b) in weights.iter().zip(values.chunks_exact(block)) {
        if *w == 0 {
            continue;
        }
        let w = *w as f64;
        for (o, v) in out.iter_mut().zip(b) {
            *o += w * v;
        }
    }
}

/// The mean of every feature over all the rows of `changes`, in f64 (the shift of
/// [`ImageSums`]).
pub(crate) fn feature_means(changes: &Changes) -> Vec<f64> {
    let f = changes.features();
    let mut mean = vec![0.0; f];
    for row in changes.values().chunks_exact(f.max(1)) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    let rows = changes.rows().max(1) as f64;
    mean.iter_mut().for_each(|m| *m /= rows);
    mean
}
