//! seaborn-style binning of x (`regplot(x_bins=k)`) with a t-based interval of each bin's
//! mean of y.
//!
//! Owns only the arithmetic, in f64; the confidence asked for comes from the caller.

use super::t_quantile;

/// One bin of x: its centre, how many points fell in it, the mean of their y and its
/// confidence interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub x: f64,
    pub count: usize,
    pub mean: f64,
    pub lo: f64,
    pub hi: f64,
}

/// Bins x as seaborn's `x_bins=k` does (`_RegressionPlotter.bin_predictor`): the k centres are
/// the percentiles `linspace(0, 100, k + 2)[1:-1]` of x (numpy's linear interpolation), and
/// each point goes to the nearest centre, the first on ties (so a repeated centre stays empty).
/// Per bin: the mean of y and a t-based two-sided `confidence` interval of that mean (0.99 for
/// 99%), `mean -+ t(0.5 + confidence / 2, m - 1) * sd / sqrt(m)` (seaborn bootstraps it
/// instead); a single point has a zero-width interval. Empty bins are kept, with count 0.
///
/// # Panics
/// When `x` and `y` differ in length.
pub fn x_bins(x: &[f64], y: &[f64], k: usize, confidence: f64) -> Vec<Bin> {
    assert_eq!(x.len(), y.len(), "x_bins: x and y differ in length");
    if x.is_empty() || k == 0 {
        return Vec::new();
    }
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let last = (sorted.len() - 1) as f64;
    let centres: Vec<f64> = (1..=k)
        .map(|i| {
            let pos = i as f64 / (k + 1) as f64 * last;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(sorted.len() - 1);
            sorted[lo] + (pos - lo as f64) * (sorted[hi] - sorted[lo])
        })
        .collect();
    let mut members: Vec<Vec<f64>> = vec![Vec::new(); k];
    for (a, b) in x.iter().zip(y) {
        let mut best = 0;
        for (i, c) in centres.iter().enumerate() {
            if (a - c).abs() < (a - centres[best]).abs() {
                best = i;
            }
        }
        members[best].push(*b);
    }
    centres
        .iter()
        .zip(members)
        .map(|(&c, ys)| {
            let m = ys.len();
            let mean = if m > 0 { ys.iter().sum::<f64>() / m as f64 } else { 0.0 };
            let half = if m > 1 {
                let sd = (ys.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (m - 1) as f64).sqrt();
                t_quantile(0.5 + confidence / 2.0, (m - 1) as f64) * sd / (m as f64).sqrt()
            } else {
                0.0
            };
            Bin { x: c, count: m, mean, lo: mean - half, hi: mean + half }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::torch_randn;

    fn close(what: &str, got: f64, want: f64, tol: f64) {
        assert!((got - want).abs() <= tol * (1.0 + want.abs()), "{what}: got {got}, want {want}");
    }

    #[test]
    fn bins_take_every_point_once_at_seaborn_percentile_centres() {
        let noise = torch_randn(3, 600);
        let x: Vec<f64> = noise[..300].iter().map(|&v| v as f64).collect();
        let y: Vec<f64> = noise[300..].iter().map(|&v| v as f64 * 2.0).collect();
        let k = 12;
        let bins = x_bins(&x, &y, k, 0.99);
        assert_eq!(bins.len(), k);
        assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), x.len());
        // Centres: numpy's percentile at linspace(0, 100, k + 2)[1:-1], linear interpolation.
        let mut sorted = x.clone();
        sorted.sort_by(f64::total_cmp);
        for (i, b) in bins.iter().enumerate() {
            let pos = (i + 1) as f64 / (k + 1) as f64 * (sorted.len() - 1) as f64;
            let (l, frac) = (pos.floor() as usize, pos - pos.floor());
            close("centre", b.x, sorted[l] + frac * (sorted[l + 1] - sorted[l]), 1e-12);
        }
        // Each point in exactly one bin: the nearest centre; means recomputed independently.
        let mut members = vec![Vec::new(); k];
        for (a, b) in x.iter().zip(&y) {
            let nearest = (0..k).min_by(|&i, &j| (a - bins[i].x).abs().total_cmp(&(a - bins[j].x).abs())).unwrap();
            members[nearest].push(*b);
        }
        for (b, m) in bins.iter().zip(&members) {
            assert_eq!(b.count, m.len());
            if !m.is_empty() {
                close("bin mean", b.mean, m.iter().sum::<f64>() / m.len() as f64, 1e-12);
                assert!(b.lo <= b.mean && b.mean <= b.hi);
            }
        }
        // Repeated values make repeated centres; the later one stays empty, nothing is lost.
        let x = vec![0.0; 10].into_iter().chain((1..=5).map(|i| i as f64)).collect::<Vec<_>>();
        let bins = x_bins(&x, &vec![1.0; x.len()], 6, 0.99);
        assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), x.len());
        assert!(bins.iter().any(|b| b.count == 0));
    }

    #[test]
    fn no_points_or_no_bins_make_no_bins_and_one_point_no_interval() {
        assert!(x_bins(&[], &[], 3, 0.99).is_empty());
        assert!(x_bins(&[1.0], &[2.0], 0, 0.99).is_empty());
        let one = x_bins(&[1.0], &[2.0], 1, 0.99);
        assert_eq!(one, vec![Bin { x: 1.0, count: 1, mean: 2.0, lo: 2.0, hi: 2.0 }]);
    }
}
