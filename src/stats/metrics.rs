//! The probe's metrics of one row set, from that set's totals of the per-image sums.
//!
//! The definitions, for every feature i against the target t, with C the covariance (ddof 1)
//! of the recorded changes over the set's N rows:
//!
//! - **covariance** `C[t][i]`, the notebook's figure for the pooled set;
//! - **correlation** `r_i = C[t][i] / sqrt(C[t][t] C[i][i])`;
//! - **slope** `b_i = C[t][i] / C[t][t]`, the least-squares slope of x_i on x_t over the rows
//!   (the line the notebook's regplot fits);
//! - **dependency** `d_i = b_i σ_t / σ_i`, with `σ_i` the standard deviation (ddof 1) of
//!   logit i over the n starting images: how many σ_i attribute i moves per σ_t of target
//!   change (StyleSpace's Attribute Dependency normalisation, signed);
//! - **mean |d|** and **max |d|**: the mean and the largest of `|d_i|` over the features
//!   i ≠ t whose `d_i` is defined.
//!
//! At i = t the correlation, slope and dependency are exactly 1 (when defined).
//!
//! Undefined values are NaN here (None in the report), never a panic: everything when N < 2;
//! the correlation, slope and dependency of every feature when `C[t][t] <= 0`; the
//! correlation of i when `C[i][i] <= 0`; the dependency of i when `σ_t` or `σ_i` is 0 or
//! undefined (n < 2); mean and max |d| when no `d_i` (i ≠ t) is defined.
//!
//! Owns: the metrics' definitions. Must not touch: resampling, tests.

/// The number of values [`set_metrics`] writes for F features: cov, corr, slope, dependency
/// (F each), then mean |d| and max |d|.
pub(crate) fn set_len(features: usize) -> usize {
    4 * features + 2
}

/// The standard deviations (ddof 1) from the totals of [`super::sufficient::StartSums`]
/// (`[n, Σ z_i.., Σ z_i²..]`); NaN when n < 2.
pub(crate) fn sigmas(total: &[f64], features: usize, out: &mut [f64]) {
    let n = total[0];
    for i in 0..features {
        let (s, ss) = (total[1 + i], total[1 + features + i]);
        out[i] = if n < 2.0 { f64::NAN } else { ((ss - s * s / n) / (n - 1.0)).max(0.0).sqrt() };
    }
}

/// Writes the metrics of one row set (layout of [`set_len`]) from the set's totals of
/// [`super::sufficient::ImageSums`] (`[N, Σ y_i.., Σ y_t y_i.., Σ y_i²..]`) and σ.
pub(crate) fn set_metrics(total: &[f64], sigma: &[f64], features: usize, target: usize, out: &mut [f64]) {
    let f = features;
    let (cov, rest) = out.split_at_mut(f);
    let (corr, rest) = rest.split_at_mut(f);
    let (slope, rest) = rest.split_at_mut(f);
    let (dep, summary) = rest.split_at_mut(f);
    let n = total[0];
    if n < 2.0 {
        out.iter_mut().for_each(|v| *v = f64::NAN);
        return;
    }
    let st = total[1 + target];
    let c = |i: usize| (total[1 + f + i] - st * total[1 + i] / n) / (n - 1.0);
    let var = |i: usize| {
        let s = total[1 + i];
        (total[1 + 2 * f + i] - s * s / n) / (n - 1.0)
    };
    let ctt = var(target);
    let sigma_t = sigma[target];
    let (mut sum_abs, mut count, mut max_abs) = (0.0, 0usize, 0.0f64);
    for i in 0..f {
        let (cti, cii) = if i == target { (ctt, ctt) } else { (c(i), var(i)) };
        cov[i] = cti;
        if ctt <= 0.0 {
            corr[i] = f64::NAN;
            slope[i] = f64::NAN;
            dep[i] = f64::NAN;
            continue;
        }
        if i == target {
            corr[i] = 1.0;
            slope[i] = 1.0;
            dep[i] = if sigma_t > 0.0 { 1.0 } else { f64::NAN };
            continue;
        }
        corr[i] = if cii > 0.0 { cti / (ctt * cii).sqrt() } else { f64::NAN };
        slope[i] = cti / ctt;
        dep[i] = if sigma_t > 0.0 && sigma[i] > 0.0 { slope[i] * sigma_t / sigma[i] } else { f64::NAN };
        if dep[i].is_finite() {
            sum_abs += dep[i].abs();
            count += 1;
            max_abs = max_abs.max(dep[i].abs());
        }
    }
    summary[0] = if count > 0 { sum_abs / count as f64 } else { f64::NAN };
    summary[1] = if count > 0 { max_abs } else { f64::NAN };
}
