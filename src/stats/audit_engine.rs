//! The counting pass behind the audit ([`super::audit`], whose documentation defines every
//! statistic): per feature, the images are sorted by logit once; then one O(N) pass over that
//! order, with any integer weights per image, gives every finest group's confusion counts and
//! twice its Mann–Whitney U, exactly, in integers. The point values are the pass with every
//! weight 1, a bootstrap replicate the pass with a resample's weights.
//!
//! Owns: the sorted orders, the weighted counts, the flat statistics of a pass and their
//! replicates. Must not touch: the result types, the Wilson intervals, the leakage.

use super::audit_results::GroupMetric;
use super::bootstrap::{SplitMix64, draw_weights};

/// A position's code: bit 0 the true label, bits 1–2 the finest group, then two flags.
const LABEL: u8 = 1;
/// The position's logit is tied with no other.
const SINGLE: u8 = 0x40;
/// The position is the last of its run of tied logits.
const END: u8 = 0x80;
/// The slot of the overall group in the pass's sums.
const ALL: usize = 4;
const METRICS: usize = GroupMetric::ALL.len();

/// One feature's images in ascending order of logit.
struct FeatureOrder {
    images: Vec<u32>,
    codes: Vec<u8>,
    /// The first position whose logit is > the threshold: those from here on are predicted.
    cut: usize,
}

/// What one pass counts: per finest group (slots 0..4) and overall (slot 4).
#[derive(Debug, Clone, Default)]
pub(super) struct Sums {
    /// Per finest group, the weight of `[tn, fp, fn, tp]` (index `2 y + pred`).
    counts: [[u64; 4]; 4],
    /// Twice the Mann–Whitney U of the logit: per positive, its weight times twice the weight
    /// of the negatives below it plus the weight of those tied with it.
    u2: [u64; 5],
}

impl Sums {
    /// `[tn, fp, fn, tp]` of a group in output order (0 all, 1.. the finest).
    pub fn counts(&self, slot: usize, finest: usize) -> [u64; 4] {
        if slot == 0 {
            let mut c = [0; 4];
            for g in &self.counts[..finest] {
                for (t, v) in c.iter_mut().zip(g) {
                    *t += v;
                }
            }
            c
        } else {
            self.counts[slot - 1]
        }
    }

    /// Twice the U of a group in output order.
    fn u2(&self, slot: usize) -> u64 {
        if slot == 0 { self.u2[ALL] } else { self.u2[slot - 1] }
    }
}

/// `a / b`, NaN when `b` is 0.
fn share(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// The metrics of `[tn, fp, fn, tp]` and twice U, in the order of [`GroupMetric::ALL`]; NaN
/// where undefined.
fn rates(c: [u64; 4], u2: u64) -> [f64; METRICS] {
    let [tn, fp, fneg, tp] = c.map(|v| v as f64);
    let (n, pos, neg) = (tn + fp + fneg + tp, tp + fneg, tn + fp);
    [
        share(pos, n),
        share(tp + fp, n),
        share(tp + tn, n),
        share(tp, pos),
        share(fp, neg),
        share(fneg, pos),
        share(tn, neg),
        share(tp, tp + fp),
        share(u2 as f64, 2.0 * pos * neg),
    ]
}

/// Max - min and min / max of the defined (non-NaN) values: NaN both when fewer than two
/// are defined, and the ratio NaN when the max is 0.
pub(super) fn spread(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi, mut k) = (f64::INFINITY, f64::NEG_INFINITY, 0);
    for v in values.filter(|v| !v.is_nan()) {
        lo = lo.min(v);
        hi = hi.max(v);
        k += 1;
    }
    if k < 2 {
        return (f64::NAN, f64::NAN);
    }
    (hi - lo, share(lo, hi))
}

/// The sorted orders of the measured features.
pub(super) struct Engine {
    finest: usize,
    images: usize,
    orders: Vec<FeatureOrder>,
}

impl Engine {
    /// `logits` and `labels` are N x F row-major; `group_of[j]` is image j's finest group
    /// (0..4); `features` the measured ones. Every logit is finite.
    pub fn new(logits: &[f32], labels: &[bool], f: usize, threshold: f64, group_of: &[u8], finest: usize, features: &[usize]) -> Self {
        let n = group_of.len();
        let orders = features
            .iter()
            .map(|&a| {
                let logit = |j: usize| logits[j * f + a];
                let mut images: Vec<u32> = (0..n as u32).collect();
                // Finite, so partial_cmp never fails; -0 and 0 compare equal and tie.
                images.sort_by(|&x, &y| logit(x as usize).partial_cmp(&logit(y as usize)).expect("finite logits"));
                let codes = (0..n)
                    .map(|i| {
                        let j = images[i] as usize;
                        let first = i == 0 || logit(images[i - 1] as usize) != logit(j);
                        let last = i + 1 == n || logit(images[i + 1] as usize) != logit(j);
                        let mut code = u8::from(labels[j * f + a]) | (group_of[j] << 1);
                        if last {
                            code |= END;
                        }
                        if first && last {
                            code |= SINGLE;
                        }
                        code
                    })
                    .collect();
                let cut = images.partition_point(|&j| f64::from(logit(j as usize)) <= threshold);
                FeatureOrder { images, codes, cut }
            })
            .collect();
        Engine { finest, images: n, orders }
    }

    /// The groups of the output: all, then the finest.
    pub fn groups(&self) -> usize {
        1 + self.finest
    }

    /// The flat statistics of one feature: the AUC of each group (output order), each
    /// metric's difference, each metric's ratio, the equalized-odds difference.
    pub fn len(&self) -> usize {
        self.groups() + 2 * METRICS + 1
    }

    pub fn auc_at(&self, slot: usize) -> usize {
        slot
    }

    pub fn difference_at(&self, metric: GroupMetric) -> usize {
        self.groups() + metric.position()
    }

    pub fn ratio_at(&self, metric: GroupMetric) -> usize {
        self.groups() + METRICS + metric.position()
    }

    pub fn equalized_odds_at(&self) -> usize {
        self.groups() + 2 * METRICS
    }

    /// One pass over measured feature `k` with the images weighted by `weights`.
    pub fn sums(&self, k: usize, weights: &[u32]) -> Sums {
        let o = &self.orders[k];
        let mut s = Sums::default();
        // Per slot: the negatives' weight below the current run, and the pending run's
        // positives' and negatives' weights.
        let (mut below, mut pos, mut neg) = ([0u64; 5], [0u64; 5], [0u64; 5]);
        for (i, (&j, &code)) in o.images.iter().zip(&o.codes).enumerate() {
            let w = u64::from(weights[j as usize]);
            let y = u64::from(code & LABEL);
            let g = usize::from((code >> 1) & 3);
            let pred = usize::from(i >= o.cut);
            s.counts[g][2 * y as usize + pred] += w;
            let (pw, nw) = (w * y, w - w * y);
            if code & SINGLE != 0 {
                s.u2[g] += 2 * pw * below[g];
                s.u2[ALL] += 2 * pw * below[ALL];
                below[g] += nw;
                below[ALL] += nw;
            } else {
                pos[g] += pw;
                pos[ALL] += pw;
                neg[g] += nw;
                neg[ALL] += nw;
                if code & END != 0 {
                    for h in 0..5 {
                        s.u2[h] += pos[h] * (2 * below[h] + neg[h]);
                        below[h] += neg[h];
                        (pos[h], neg[h]) = (0, 0);
                    }
                }
            }
        }
        s
    }

    /// The metrics of every group of a pass, in output order.
    pub fn group_rates(&self, s: &Sums) -> Vec<[f64; METRICS]> {
        (0..self.groups()).map(|slot| rates(s.counts(slot, self.finest), s.u2(slot))).collect()
    }

    /// The flat statistics (see [`Engine::len`]) of a pass, into `out`.
    pub fn statistics(&self, s: &Sums, out: &mut [f64]) {
        let by_group = self.group_rates(s);
        for (slot, r) in by_group.iter().enumerate() {
            out[self.auc_at(slot)] = r[GroupMetric::Auc.position()];
        }
        for m in GroupMetric::ALL {
            let (d, r) = spread(by_group[1..].iter().map(|r| r[m.position()]));
            out[self.difference_at(m)] = d;
            out[self.ratio_at(m)] = r;
        }
        let (tpr, fpr) = (out[self.difference_at(GroupMetric::Tpr)], out[self.difference_at(GroupMetric::Fpr)]);
        out[self.equalized_odds_at()] = if tpr.is_nan() || fpr.is_nan() { f64::NAN } else { tpr.max(fpr) };
    }

    /// B replicates of every measured feature's flat statistics, each resample shared by all
    /// features: replicate b of statistic s of feature k at `(k * len + s) * B + b`.
    pub fn bootstrap(&self, resamples: usize, seed: u64) -> Vec<f64> {
        let (len, features) = (self.len(), self.orders.len());
        let mut rng = SplitMix64::new(seed);
        let mut reps = vec![0.0; features * len * resamples];
        let (mut weights, mut out) = (vec![0u32; self.images], vec![0.0; len]);
        for b in 0..resamples {
            draw_weights(&mut rng, &mut weights);
            for k in 0..features {
                self.statistics(&self.sums(k, &weights), &mut out);
                for (s, &v) in out.iter().enumerate() {
                    reps[(k * len + s) * resamples + b] = v;
                }
            }
        }
        reps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One feature, every image in finest group 0 of 1.
    fn engine(logits: &[f32], labels: &[bool]) -> Engine {
        Engine::new(logits, labels, 1, 0.0, &vec![0; logits.len()], 1, &[0])
    }

    /// The AUC by its definition: over all (positive, negative) pairs, 1 when the positive
    /// scores higher, 1/2 on a tie, weighted by both weights.
    fn brute_auc(logits: &[f32], labels: &[bool], w: &[u32]) -> f64 {
        let (mut num, mut den) = (0.0, 0.0);
        for i in 0..logits.len() {
            for j in 0..logits.len() {
                if labels[i] && !labels[j] {
                    let pair = f64::from(w[i]) * f64::from(w[j]);
                    den += pair;
                    num += pair
                        * if logits[i] > logits[j] {
                            1.0
                        } else if logits[i] == logits[j] {
                            0.5
                        } else {
                            0.0
                        };
                }
            }
        }
        num / den
    }

    #[test]
    fn the_weighted_rank_sum_is_the_pairwise_auc() {
        let logits: Vec<f32> = (0..60).map(|k| ((k * 37 % 13) as f32 - 6.0) * 0.5).collect();
        let labels: Vec<bool> = (0..60).map(|k| (k * 11 % 7) < 3 || k % 13 == 4).collect();
        let e = engine(&logits, &labels);
        let mut rng = SplitMix64::new(9);
        let mut w = vec![0u32; 60];
        for _ in 0..5 {
            draw_weights(&mut rng, &mut w);
            let r = e.group_rates(&e.sums(0, &w));
            let want = brute_auc(&logits, &labels, &w);
            assert!((r[0][8] - want).abs() < 1e-14 && (r[1][8] - want).abs() < 1e-14, "{} {} {want}", r[0][8], r[1][8]);
        }
    }

    #[test]
    fn minus_zero_ties_with_zero_and_the_threshold_is_strict() {
        let e = engine(&[-0.0, 0.0, 0.5], &[true, false, false]);
        let s = e.sums(0, &[1, 1, 1]);
        // -0 and 0 tie: the positive beats neither negative fully; 0.5 is above it.
        assert_eq!(e.group_rates(&s)[0][8], 0.25);
        // 0 is not > 0: only 0.5 is predicted, a false positive.
        assert_eq!(s.counts(0, 1), [1, 1, 1, 0]);
    }

    #[test]
    fn spread_skips_undefined_values_and_needs_two() {
        assert_eq!(spread([0.2, f64::NAN, 0.8].into_iter()), (0.6000000000000001, 0.25));
        assert!(spread([f64::NAN, 0.3].into_iter()).0.is_nan());
        let (d, r) = spread([0.0, 0.0].into_iter());
        assert_eq!(d, 0.0);
        assert!(r.is_nan());
    }
}
