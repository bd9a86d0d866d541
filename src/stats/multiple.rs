//! Benjamini–Hochberg q-values.
//!
//! Owns: Benjamini-Hochberg. Must not touch: what the p-values test.

/// Benjamini–Hochberg adjusted p-values (q-values) of the defined p-values: with the m defined
/// p sorted ascending, `q_(k) = min(1, min over j >= k of m p_(j) / j)`; None stays None and
/// does not count in m. Rejecting every hypothesis with `q <= alpha` is the BH procedure at
/// level alpha (false-discovery rate at most alpha for independent or positively dependent
/// p-values).
pub fn benjamini_hochberg(p: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut order: Vec<(usize, f64)> = p.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).collect();
    order.sort_by(|a, b| a.1.total_cmp(&b.1));
    let m = order.len() as f64;
    let mut q = vec![None; p.len()];
    let mut running = 1.0f64;
    for (k, &(i, v)) in order.iter().enumerate().rev() {
        running = running.min(m * v / (k + 1) as f64);
        q[i] = Some(running);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_values_match_scipy_false_discovery_control() {
        // scipy.stats.false_discovery_control([0.01, 0.04, 0.03, 0.5, 0.02, 0.9], method="bh")
        let p = [Some(0.01), Some(0.04), None, Some(0.03), Some(0.5), Some(0.02), Some(0.9)];
        let want = [0.06, 0.06, 0.06, 0.6, 0.06, 0.9];
        let q = benjamini_hochberg(&p);
        assert_eq!(q[2], None);
        let got: Vec<f64> = q.into_iter().flatten().collect();
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        assert!(benjamini_hochberg(&[]).is_empty());
        assert_eq!(benjamini_hochberg(&[Some(0.7)]), vec![Some(0.7)]);
    }
}
