//! Calibration of the audit's intervals on simulated images with known truth, with fixed
//! seeds.
//!
//! Two independent group attributes A and B, each 1 with probability 1/2, make four finest
//! groups of a quarter each. In every group a feature is true with probability 0.4; its
//! logit is normal with sd 1 and mean `Φ⁻¹(TPR_g)` on the positives and `Φ⁻¹(FPR_g)` on the
//! negatives, so at threshold 0 the group's TPR and FPR are exactly `TPR_g` and `FPR_g`, and
//! its AUC is `Φ((Φ⁻¹(TPR_g) - Φ⁻¹(FPR_g)) / √2)`. The truth of the equalized-odds difference
//! is `max(max - min of TPR_g, max - min of FPR_g)`; that of the FP leakage of A is
//! `FPR(A=1) - FPR(A=0)`, each the mean of its two groups' FPRs (equal sizes, equal base
//! rates).

use gan_bias::stats::{AuditData, AuditSpec, AuditStatistics, Estimate, StatsSettings, audit_statistics, normal_quantile};
use statrs::distribution::{ContinuousCDF, Normal};

use crate::common::SimRng as Rng;

/// Per finest group, in the audit's order (A=1&B=1, A=1&B=0, A=0&B=1, A=0&B=0).
const TPR: [f64; 4] = [0.90, 0.80, 0.74, 0.62];
const FPR: [f64; 4] = [0.08, 0.12, 0.15, 0.20];
const BASE: f64 = 0.4;

/// N images of three features: A, B and the measured one.
fn simulate(rng: &mut Rng, n: usize) -> (Vec<f32>, Vec<bool>) {
    let (mut logits, mut labels) = (Vec::with_capacity(3 * n), Vec::with_capacity(3 * n));
    for _ in 0..n {
        let (a, b) = (rng.uniform() < 0.5, rng.uniform() < 0.5);
        let g = 2 * usize::from(!a) + usize::from(!b);
        let y = rng.uniform() < BASE;
        let mean = normal_quantile(if y { TPR[g] } else { FPR[g] });
        logits.extend([0.0, 0.0, (mean + rng.normal()) as f32]);
        labels.extend([a, b, y]);
    }
    (logits, labels)
}

fn covers(e: &Estimate, truth: f64) -> bool {
    e.interval.expect("an interval").contains(truth)
}

#[test]
fn bootstrap_and_newcombe_intervals_cover_the_truth_at_about_their_level() {
    let phi = Normal::standard();
    let auc = |g: usize| phi.cdf((normal_quantile(TPR[g]) - normal_quantile(FPR[g])) / 2f64.sqrt());
    let spread = |v: &[f64; 4]| v.iter().cloned().fold(f64::MIN, f64::max) - v.iter().cloned().fold(f64::MAX, f64::min);
    let eo_truth = spread(&TPR).max(spread(&FPR));
    let fp_gap_truth = (FPR[0] + FPR[1]) / 2.0 - (FPR[2] + FPR[3]) / 2.0;

    let (replicates, n) = (200, 2000);
    let spec = AuditSpec { threshold: 0.0, group_attributes: vec![0, 1], features: vec![2], min_group: 30 };
    let mut rng = Rng(20260601);
    let mut hits = [0usize; 4];
    let mut eo_mean = 0.0;
    for r in 0..replicates {
        let (logits, labels) = simulate(&mut rng, n);
        let data = AuditData { logits: &logits, labels: &labels, features: 3 };
        let settings = StatsSettings { ci: 0.95, bootstrap: 1000, seed: 1000 + r as u64, alpha: 0.05 };
        let st: AuditStatistics = audit_statistics(&data, &spec, &settings).unwrap();
        let fa = &st.features[0];
        eo_mean += fa.equalized_odds_difference.estimate.unwrap() / replicates as f64;
        hits[0] += usize::from(covers(&fa.equalized_odds_difference, eo_truth));
        hits[1] += usize::from(covers(&fa.by_group[1].auc, auc(0)));
        hits[2] += usize::from(covers(&fa.by_group[4].auc, auc(3)));
        let leak = st.leakage.iter().find(|l| l.group_attribute == 0).unwrap();
        hits[3] += usize::from(covers(&leak.fp_gap, fp_gap_truth));
    }
    let names = ["equalized-odds difference", "AUC of A=1&B=1", "AUC of A=0&B=0", "FP leakage of A (Newcombe)"];
    let rates: Vec<f64> = hits.iter().map(|&h| h as f64 / replicates as f64).collect();
    eprintln!(
        "coverage of 95% intervals over {replicates} replicates: {names:?} {rates:?}; mean EO difference {eo_mean} (truth {eo_truth})"
    );
    for (name, rate) in names.iter().zip(&rates) {
        assert!((0.90..=0.985).contains(rate), "{name}: coverage {rate} of 95% intervals");
    }
    // The point estimate is about unbiased here: the groups' extremes are well apart.
    assert!((eo_mean - eo_truth).abs() < 0.01, "mean EO difference {eo_mean}, truth {eo_truth}");
}
