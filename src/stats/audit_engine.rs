//! The counting pass behind the audit ([`super::audit`], whose documentation defines every
//! statistic): per feature, the images are sorted by logit once (the positives first among
//! ties), and that order is split into one list per group (`all` and each finest group). Then
//! one O(N) pass over each list, with any integer weights per image, gives the group's
//! confusion counts and twice its Mann–Whitney U, exactly, in integers, with every running
//! sum in a register and no branch on the data. The point values are the pass with every
//! weight 1, a bootstrap replicate the pass with a resample's weights.
//!
//! Owns: the sorted orders, the weighted counts, the flat statistics of a pass and their
//! replicates. Must not touch: the result types, the Wilson intervals, the leakage.

use super::audit_results::GroupMetric;
use super::bootstrap::{SplitMix64, draw_weights};

/// The most groups: `all` and four finest.
const SLOTS: usize = 5;
const METRICS: usize = GroupMetric::ALL.len();

/// One group's images in ascending order of one feature's logit, the positives first among
/// tied logits.
struct GroupOrder {
    /// Per position, `2 j + y` for the image j and its true label y, plus [`TIED`] when the
    /// logit equals the one before.
    entries: Vec<u32>,
    /// The first position whose logit is > the threshold: those from here on are predicted.
    cut: usize,
    ties: Ties,
}

/// How a group's order counts its ties.
enum Ties {
    /// Few (or none): the runs of two or more tied logits, as position ranges, each summed
    /// after the pass.
    Few(Vec<(u32, u32)>),
    /// Many: counted within the pass.
    Many,
}

/// An entry's flag: its logit ties with the entry before.
const TIED: u32 = 1 << 31;

/// What one pass counts for one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct GroupSums {
    /// The weight of `[tn, fp, fn, tp]`.
    pub counts: [u64; 4],
    /// Twice the Mann–Whitney U of the logit: per positive, its weight times twice the weight
    /// of the negatives below it plus the weight of those tied with it.
    u2: u64,
}

/// What one pass counts for every group, in output order (0 all, 1.. the finest).
pub(super) type Sums = [GroupSums; SLOTS];

/// The running sums of a pass.
#[derive(Clone, Copy, Default)]
struct RankSum {
    /// The negatives' weight so far.
    below: u64,
    /// Per positive, its weight times the negatives' weight before it.
    u: u64,
    /// Per negative, its weight times the weight of the positives tied with it (all of which
    /// come before it).
    tied: u64,
    /// The positives' weight in the current run of ties.
    run: u64,
}

impl RankSum {
    /// Adds `entries`, returning their positives' weight. Without `TIES` the flag is ignored
    /// (no logit ties).
    #[inline(always)]
    fn add<W: Copy + Into<u64>, const TIES: bool>(&mut self, entries: &[u32], weights: &[W]) -> u64 {
        let RankSum { mut below, mut u, mut tied, mut run } = *self;
        let mut pos = 0u64;
        for &e in entries {
            let w: u64 = weights[((e & !TIED) >> 1) as usize].into();
            let pw = w & 0u64.wrapping_sub(u64::from(e & 1));
            let nw = w - pw;
            u += pw * below;
            below += nw;
            pos += pw;
            if TIES {
                run = (run & 0u64.wrapping_sub(u64::from(e >> 31))) + pw;
                tied += nw * run;
            }
        }
        *self = RankSum { below, u, tied, run };
        pos
    }
}

impl GroupOrder {
    /// The order of `images` (sorted by `logit`, positives first among ties, with true labels
    /// `label`).
    fn new(images: &[u32], logit: impl Fn(u32) -> f32, label: impl Fn(u32) -> bool, threshold: f64) -> Self {
        let (mut runs, mut tied) = (Vec::new(), 0);
        let entries = (0..images.len())
            .map(|i| {
                let j = images[i];
                let tie = i > 0 && logit(images[i - 1]) == logit(j);
                if tie {
                    match runs.last_mut() {
                        Some((_, end)) if *end == i as u32 => *end += 1,
                        _ => runs.push((i as u32 - 1, i as u32 + 1)),
                    }
                    tied += 1;
                }
                2 * j + u32::from(label(j)) + if tie { TIED } else { 0 }
            })
            .collect();
        // Summing the runs after the pass costs about a step per tied image and a few per
        // run; counting them within it, a little on every image.
        let ties = if tied <= images.len() / 8 { Ties::Few(runs) } else { Ties::Many };
        let cut = images.partition_point(|&j| f64::from(logit(j)) <= threshold);
        GroupOrder { entries, cut, ties }
    }

    /// The group's sums under `weights`: one pass in which each positive counts the negatives
    /// before it, none of them tied with it (the positives come first among ties). Each tie of
    /// a positive and a negative counts a half, so twice U gains it once: a run of ties with
    /// positives' weight P and negatives' weight M adds `P M`, summed per run after the pass
    /// (few ties), or within it, each negative adding its weight times the run's positives'
    /// before it (many). A run lies wholly on one side of the threshold.
    fn sums<W: Copy + Into<u64>>(&self, weights: &[W]) -> GroupSums {
        let mut r = RankSum::default();
        let (unpredicted, predicted) = self.entries.split_at(self.cut);
        let many = matches!(self.ties, Ties::Many);
        let pass = |r: &mut RankSum, part: &[u32]| if many { r.add::<W, true>(part, weights) } else { r.add::<W, false>(part, weights) };
        let fneg = pass(&mut r, unpredicted);
        let tn = r.below;
        let tp = pass(&mut r, predicted);
        let mut u2 = 2 * r.u + r.tied;
        if let Ties::Few(runs) = &self.ties {
            for &(start, end) in runs {
                let mut run = RankSum::default();
                let pos = run.add::<W, false>(&self.entries[start as usize..end as usize], weights);
                u2 += pos * run.below;
            }
        }
        GroupSums { counts: [tn, r.below - tn, fneg, tp], u2 }
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
    /// Per measured feature, one order per group in output order.
    orders: Vec<Vec<GroupOrder>>,
}

impl Engine {
    /// `logits` and `labels` are N x F row-major; `group_of[j]` is image j's finest group
    /// (0..finest, at most 4); `features` the measured ones. Every logit is finite.
    pub fn new(logits: &[f32], labels: &[bool], f: usize, threshold: f64, group_of: &[u8], finest: usize, features: &[usize]) -> Self {
        assert!(finest < SLOTS);
        let n = group_of.len();
        let orders = features
            .iter()
            .map(|&a| {
                let logit = |j: u32| logits[j as usize * f + a];
                let mut sorted: Vec<u32> = (0..n as u32).collect();
                // Finite, so partial_cmp never fails; -0 and 0 compare equal and tie.
                let label = |j: u32| labels[j as usize * f + a];
                sorted.sort_unstable_by(|&x, &y| logit(x).partial_cmp(&logit(y)).expect("finite logits").then(label(y).cmp(&label(x))));
                (0..=finest)
                    .map(|slot| {
                        let images: Vec<u32> =
                            sorted.iter().copied().filter(|&j| slot == 0 || usize::from(group_of[j as usize]) == slot - 1).collect();
                        GroupOrder::new(&images, logit, label, threshold)
                    })
                    .collect()
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

    /// One pass over measured feature `k` with image j weighted `weights[j]`.
    pub fn sums<W: Copy + Into<u64>>(&self, k: usize, weights: &[W]) -> Sums {
        let mut sums = Sums::default();
        for (o, out) in self.orders[k].iter().zip(sums.iter_mut()) {
            *out = o.sums(weights);
        }
        sums
    }

    /// The metrics of every group of a pass, in output order.
    pub fn group_rates(&self, s: &Sums) -> Vec<[f64; METRICS]> {
        s[..self.groups()].iter().map(|g| rates(g.counts, g.u2)).collect()
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
        let (mut weights, mut narrow, mut out) = (vec![0u32; self.images], vec![0u8; self.images], vec![0.0; len]);
        for b in 0..resamples {
            draw_weights(&mut rng, &mut weights);
            // Bytes where they fit (always, but for a vanishing chance): a quarter of the
            // memory to gather from.
            let fits = weights.iter().all(|&w| w <= u32::from(u8::MAX));
            if fits {
                narrow.iter_mut().zip(&weights).for_each(|(n, &w)| *n = w as u8);
            }
            for k in 0..features {
                let sums = if fits { self.sums(k, &narrow) } else { self.sums(k, &weights) };
                self.statistics(&sums, &mut out);
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
    fn the_weighted_rank_sum_is_the_pairwise_auc_in_every_group() {
        // Many ties (60 images on 13 values) or few (4 pairs, 2 of them at the threshold 0.2),
        // with distinct values besides; four groups.
        let many = |k: usize| if k < 60 { ((k * 37 % 13) as f32 - 6.0) * 0.5 } else { (k as f32 * 0.731).sin() };
        let few = |k: usize| if k < 8 { [0.2, -1.5, 0.75, 3.0][k / 2] } else { (k as f32 * 0.731).sin() * 2.0 };
        let labels: Vec<bool> = (0..90).map(|k| (k * 11 % 7) < 3 || k % 13 == 4).collect();
        let group_of: Vec<u8> = (0..90).map(|k| ((k + k / 13) % 4) as u8).collect();
        for (logits, want_many) in [((0..90).map(many).collect::<Vec<f32>>(), true), ((0..90).map(few).collect(), false)] {
            let e = Engine::new(&logits, &labels, 1, 0.2, &group_of, 4, &[0]);
            assert_eq!(matches!(e.orders[0][0].ties, Ties::Many), want_many);
            if let Ties::Few(runs) = &e.orders[0][0].ties {
                assert_eq!(runs.len(), 4, "{runs:?}");
            }
            let mut rng = SplitMix64::new(9);
            let mut w = vec![0u32; 90];
            for round in 0..6 {
                draw_weights(&mut rng, &mut w);
                if round == 5 {
                    // Weights past a byte, which the bootstrap gathers as u32.
                    w.iter_mut().enumerate().for_each(|(j, w)| *w = *w * 1000 + j as u32);
                } else {
                    let narrow: Vec<u8> = w.iter().map(|&v| v as u8).collect();
                    assert_eq!(e.sums(0, &narrow), e.sums(0, &w));
                }
                let s = e.sums(0, &w);
                let r = e.group_rates(&s);
                for slot in 0..5 {
                    let wg: Vec<u32> = (0..90).map(|j| if slot == 0 || usize::from(group_of[j]) == slot - 1 { w[j] } else { 0 }).collect();
                    let want = brute_auc(&logits, &labels, &wg);
                    assert!(want.is_finite() && (r[slot][8] - want).abs() < 1e-14, "group {slot}: {} {want}", r[slot][8]);
                    let count = |y: bool, pred: bool| {
                        let hit = |j: &usize| labels[*j] == y && (f64::from(logits[*j]) > 0.2) == pred;
                        (0..90).filter(hit).map(|j| u64::from(wg[j])).sum::<u64>()
                    };
                    assert_eq!(s[slot].counts, [count(false, false), count(false, true), count(true, false), count(true, true)]);
                }
            }
        }
    }

    #[test]
    fn minus_zero_ties_with_zero_and_the_threshold_is_strict() {
        let e = engine(&[-0.0, 0.0, 0.5], &[true, false, false]);
        let s = e.sums(0, &[1u32, 1, 1]);
        // -0 and 0 tie: the positive beats neither negative fully; 0.5 is above it.
        assert_eq!(e.group_rates(&s)[0][8], 0.25);
        // 0 is not > 0: only 0.5 is predicted, a false positive.
        assert_eq!(s[0].counts, [1, 1, 1, 0]);
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
