//! The cluster bootstrap over images: resample images with replacement, re-weight their
//! per-image sums, recompute every metric, take percentile intervals.
//!
//! An image's up and down rows and its starting logits travel together, because an image's 2S
//! rows are strongly correlated and must never be resampled as if independent.
//!
//! **Draws.** SplitMix64 seeded with the seed (`state += 0x9E3779B97F4A7C15`, then the
//! finaliser `z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB;
//! z ^= z >> 31`). Resample b draws n image indices in turn, each `floor(z n / 2^64)` (a bias
//! of at most n / 2^64). Deterministic for a seed, on every platform.
//!
//! **Intervals.** At level `ci`, the `(1 - ci) / 2` and `(1 + ci) / 2` quantiles of the B
//! replicates, exact, by statrs' `Data::quantile`: Hyndman and Fan's definition 8 (numpy's
//! `method="median_unbiased"`), `h = (B + 1/3) p + 1/3`, linear between the order statistics
//! `x_(floor h)` and `x_(floor h + 1)`, clamped to the smallest and largest. No interval when
//! any replicate of that statistic is undefined (NaN).
//!
//! Owns: resampling, its generator and quantiles. Must not touch: the metrics' definitions.

use statrs::statistics::{Data, OrderStatistics};

use super::metrics::{set_len, set_metrics, sigmas};
use super::sufficient::{ImageSums, StartSums, weighted_total};
use super::{Estimate, Interval, StatsSettings};

/// SplitMix64 (see the module's documentation).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An index in `0..n`: `floor(z n / 2^64)`.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// Everything the metrics of a probe are computed from: the per-image sums of the up, down
/// and pooled rows and of the starting logits.
pub(crate) struct Engine {
    pub features: usize,
    pub target: usize,
    pub up: ImageSums,
    pub down: ImageSums,
    pub pooled: ImageSums,
    pub start: StartSums,
}

/// Where the flat statistics of [`Engine::evaluate`] lie: σ (F values), then the pooled, up
/// and down sets, each laid out as [`set_len`] says.
pub(crate) mod layout {
    pub const POOLED: usize = 0;
    pub const UP: usize = 1;
    pub const DOWN: usize = 2;

    /// The first index of set `set` (0 pooled, 1 up, 2 down).
    pub fn set_start(features: usize, set: usize) -> usize {
        features + set * super::set_len(features)
    }
}

impl Engine {
    pub fn new(up: ImageSums, down: ImageSums, start: StartSums) -> Self {
        let pooled = up.plus(&down);
        Engine { features: up.features, target: up.target, up, down, pooled, start }
    }

    /// The number of flat statistics.
    pub fn len(&self) -> usize {
        self.features + 3 * set_len(self.features)
    }

    /// Every statistic of the images drawn `weights[j]` times each, into `out` (see
    /// [`layout`]). `scratch` is any buffer; it is resized as needed.
    pub fn evaluate(&self, weights: &[u32], scratch: &mut Vec<f64>, out: &mut [f64]) {
        let (f, t) = (self.features, self.target);
        let (kr, ks) = (self.up.block(), self.start.block());
        scratch.resize(3 * kr + ks, 0.0);
        let (up, rest) = scratch.split_at_mut(kr);
        let (down, rest) = rest.split_at_mut(kr);
        let (pooled, start) = rest.split_at_mut(kr);
        weighted_total(&self.up.values, kr, weights, up);
        weighted_total(&self.down.values, kr, weights, down);
        for ((p, a), b) in pooled.iter_mut().zip(up.iter()).zip(down.iter()) {
            *p = a + b;
        }
        weighted_total(&self.start.values, ks, weights, start);
        let (sigma, sets) = out.split_at_mut(f);
        sigmas(start, f, sigma);
        let l = set_len(f);
        set_metrics(pooled, sigma, f, t, &mut sets[..l]);
        set_metrics(up, sigma, f, t, &mut sets[l..2 * l]);
        set_metrics(down, sigma, f, t, &mut sets[2 * l..3 * l]);
    }
}

/// `resamples` replicates of `len` statistics of `n` images, statistic-major (replicate b of
/// statistic s at `s * resamples + b`): each resample's weights drawn in turn from one
/// SplitMix64 seeded with `seed` ([`draw_weights`]), then `evaluate(weights, scratch, out)`
/// fills `out` with the `len` statistics.
pub(crate) fn replicates(
    n: usize,
    len: usize,
    resamples: usize,
    seed: u64,
    mut evaluate: impl FnMut(&[u32], &mut Vec<f64>, &mut [f64]),
) -> Vec<f64> {
    let mut rng = SplitMix64::new(seed);
    let mut reps = vec![0.0; len * resamples];
    let (mut weights, mut scratch, mut out) = (vec![0u32; n], Vec::new(), vec![0.0; len]);
    for b in 0..resamples {
        draw_weights(&mut rng, &mut weights);
        evaluate(&weights, &mut scratch, &mut out);
        for (s, &v) in out.iter().enumerate() {
            reps[s * resamples + b] = v;
        }
    }
    reps
}

/// One resample of the `weights.len()` images: n draws of `below(n)` in turn, each adding 1
/// to the drawn image's weight (the weights are zeroed first).
pub(crate) fn draw_weights(rng: &mut SplitMix64, weights: &mut [u32]) {
    let n = weights.len();
    weights.iter_mut().for_each(|w| *w = 0);
    for _ in 0..n {
        weights[rng.below(n)] += 1;
    }
}

/// Every statistic's value on the images (all weights 1) and, when the settings ask for a
/// bootstrap, its [`replicates`]: what each [`Estimate`] is read from.
pub(crate) struct Estimates {
    point: Vec<f64>,
    reps: Vec<f64>,
    resamples: usize,
    ci: f64,
}

impl Estimates {
    /// `len` statistics of `n` images by `evaluate` (as [`replicates`] calls it), on the images
    /// and on `settings.bootstrap` resamples of them.
    pub fn compute(
        n: usize,
        len: usize,
        settings: &StatsSettings,
        mut evaluate: impl FnMut(&[u32], &mut Vec<f64>, &mut [f64]),
    ) -> Estimates {
        let mut point = vec![0.0; len];
        evaluate(&vec![1; n], &mut Vec::new(), &mut point);
        let b = settings.bootstrap;
        let reps = if b > 0 { replicates(n, len, b, settings.seed, evaluate) } else { Vec::new() };
        Estimates { point, reps, resamples: b, ci: settings.ci }
    }

    /// Statistic `s`: None where undefined (NaN); its percentile interval where bootstrapped.
    pub fn get(&self, s: usize) -> Estimate {
        let (v, b) = (self.point[s], self.resamples);
        let interval = if b > 0 && !v.is_nan() {
            percentile_interval(&self.reps[s * b..(s + 1) * b], self.ci).map(|(low, high)| Interval { low, high })
        } else {
            None
        };
        Estimate { estimate: if v.is_nan() { None } else { Some(v) }, interval }
    }
}

/// The percentile interval at level `ci` of `replicates` (see the module's documentation);
/// None when there are none or any is NaN.
pub(crate) fn percentile_interval(replicates: &[f64], ci: f64) -> Option<(f64, f64)> {
    if replicates.is_empty() || replicates.iter().any(|v| v.is_nan()) {
        return None;
    }
    let mut data = Data::new(replicates.to_vec());
    let lo = data.quantile((1.0 - ci) / 2.0);
    let hi = data.quantile((1.0 + ci) / 2.0);
    Some((lo, hi))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_matches_its_reference_values() {
        // The reference implementation's first outputs for seed 1234567 (Vigna's splitmix64.c).
        let mut r = SplitMix64::new(1234567);
        let want = [6457827717110365317u64, 3203168211198807973, 9817491932198370423, 4593380528125082431];
        for w in want {
            assert_eq!(r.next_u64(), w);
        }
        let mut r = SplitMix64::new(0);
        assert!((0..1000).all(|_| r.below(7) < 7));
    }

    #[test]
    fn percentile_interval_is_hyndman_fan_8() {
        // numpy: np.quantile(np.arange(1, 11), [0.025, 0.975], method="median_unbiased")
        let x: Vec<f64> = (1..=10).rev().map(|v| v as f64).collect();
        let (lo, hi) = percentile_interval(&x, 0.95).unwrap();
        assert!((lo - 1.0).abs() < 1e-12 && (hi - 10.0).abs() < 1e-12, "{lo} {hi}");
        let (lo, hi) = percentile_interval(&x, 0.5).unwrap();
        assert!((lo - 2.9166666666666665).abs() < 1e-12 && (hi - 8.083333333333334).abs() < 1e-12, "{lo} {hi}");
        assert_eq!(percentile_interval(&[1.0, f64::NAN], 0.9), None);
        assert_eq!(percentile_interval(&[], 0.9), None);
    }
}
