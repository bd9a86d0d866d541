//! The observational block: what the classifier reads on the unedited starting images.
//!
//! An attribute is *predicted* on an image when its starting logit is > 0 (strictly).
//!
//! - **Prevalence** of attribute a: `k / n`, the share of the n images that predict it, with
//!   the Wilson score interval at level ci: with `z = Φ⁻¹((1 + ci) / 2)`,
//!   `(p + z²/2n ± z sqrt(p(1 - p)/n + z²/4n²)) / (1 + z²/n)`.
//! - **Demographic-parity gap** of the target t for attribute a:
//!   `P(a | t predicted) - P(a | t not predicted)`, with Newcombe's hybrid score interval
//!   (his method 10) from the two groups' Wilson intervals `(l1, u1)` and `(l0, u0)`:
//!   `gap - sqrt((p1 - l1)² + (u0 - p0)²)` to `gap + sqrt((u1 - p1)² + (p0 - l0)²)`. It keeps
//!   the Wilson interval's good coverage at small or extreme counts, where the Wald interval
//!   fails. When either group is empty, the gap and its interval are None.
//!
//! Owns: prevalence, the parity gap and their intervals. Must not touch: the interventional metrics.

use serde::{Deserialize, Serialize};

use super::Interval;

/// A share of images with its Wilson interval; estimate and interval are None when `total` is 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    pub count: usize,
    pub total: usize,
    pub estimate: Option<f64>,
    pub interval: Option<Interval>,
}

impl Proportion {
    /// `count / total` with its Wilson score interval for the normal quantile `z`.
    pub fn wilson(count: usize, total: usize, z: f64) -> Self {
        if total == 0 {
            return Proportion { count, total, estimate: None, interval: None };
        }
        let (k, n) = (count as f64, total as f64);
        let p = k / n;
        let z2 = z * z;
        let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
        let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
        let interval = Interval { low: (centre - half).max(0.0), high: (centre + half).min(1.0) };
        Proportion { count, total, estimate: Some(p), interval: Some(interval) }
    }
}

/// One attribute's demographic-parity gap against the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParityGap {
    /// The attribute a.
    pub index: usize,
    /// `P(a | t predicted)`, among the images that predict the target.
    pub given_target: Proportion,
    /// `P(a | t not predicted)`, among the others.
    pub given_not_target: Proportion,
    /// `given_target - given_not_target`.
    pub gap: Option<f64>,
    /// Newcombe's hybrid score interval of the gap.
    pub interval: Option<Interval>,
}

/// The observational block (see the module's documentation).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observational {
    /// Every attribute's prevalence among the starting images.
    pub prevalence: Vec<Proportion>,
    /// How many starting images predict the target.
    pub target_predicted: usize,
    /// How many do not.
    pub target_not_predicted: usize,
    /// Every attribute's gap against the target (the target's own is 1 when defined).
    pub parity_gap: Vec<ParityGap>,
}

/// Newcombe's hybrid score interval of `p1 - p0` (see the module's documentation).
pub fn newcombe_difference(p1: &Proportion, p0: &Proportion) -> Option<(f64, Interval)> {
    let (e1, i1, e0, i0) = (p1.estimate?, p1.interval.as_ref()?, p0.estimate?, p0.interval.as_ref()?);
    let gap = e1 - e0;
    let low = gap - ((e1 - i1.low).powi(2) + (i0.high - e0).powi(2)).sqrt();
    let high = gap + ((i1.high - e1).powi(2) + (e0 - i0.low).powi(2)).sqrt();
    Some((gap, Interval { low, high }))
}

/// The observational block of the `images x features` starting logits `start` (row-major)
/// for `target`, at the normal quantile `z`.
pub(crate) fn observational(start: &[f32], images: usize, features: usize, target: usize, z: f64) -> Observational {
    let predicted = |j: usize, a: usize| start[j * features + a] > 0.0;
    let prevalence = (0..features).map(|a| Proportion::wilson((0..images).filter(|&j| predicted(j, a)).count(), images, z)).collect();
    let with: Vec<usize> = (0..images).filter(|&j| predicted(j, target)).collect();
    let without: Vec<usize> = (0..images).filter(|&j| !predicted(j, target)).collect();
    let parity_gap = (0..features)
        .map(|a| {
            let given_target = Proportion::wilson(with.iter().filter(|&&j| predicted(j, a)).count(), with.len(), z);
            let given_not_target = Proportion::wilson(without.iter().filter(|&&j| predicted(j, a)).count(), without.len(), z);
            let diff = newcombe_difference(&given_target, &given_not_target);
            ParityGap { index: a, given_target, given_not_target, gap: diff.map(|d| d.0), interval: diff.map(|d| d.1) }
        })
        .collect();
    Observational { prevalence, target_predicted: with.len(), target_not_predicted: without.len(), parity_gap }
}
