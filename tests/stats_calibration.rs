//! Calibration of the probe statistics on synthetic clustered data, with fixed seeds.
//!
//! Each simulated image walks S steps up and S steps down its target; its rows share an
//! image effect (its own rate along the target and its own drift of every other feature,
//! growing with the step) and an AR(1) noise, so an image's 2S rows are strongly correlated,
//! as a probe's are. Feature i follows the target with a known population slope β_i on top of
//! that (the drift is independent of the target and has mean 0, so the pooled slope's
//! population value is exactly β_i).

use gan_bias::stats::{Changes, RowSet, StatsSettings, probe_statistics};
use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::statistics::{Data, OrderStatistics};

use crate::common::SimRng as Rng;

/// A probe of `n` images and `s` steps; feature 0 is the target, feature i (1..=betas.len())
/// has population slope `betas[i - 1]` on it. Returns the changes (2, s, n, F) and the
/// starting logits (n, F).
fn simulate(rng: &mut Rng, n: usize, s: usize, betas: &[f64]) -> (Vec<f32>, Vec<f32>) {
    let f = betas.len() + 1;
    let mut changes = vec![0.0f32; 2 * s * n * f];
    for j in 0..n {
        let rate = 1.0 + 0.2 * rng.normal();
        let drift: Vec<f64> = (0..f).map(|_| 0.3 * rng.normal()).collect();
        for d in 0..2 {
            let sign = if d == 0 { 1.0 } else { -1.0 };
            let mut noise = vec![0.0; f];
            for step in 0..s {
                let k = sign * (step + 1) as f64;
                for e in noise.iter_mut() {
                    *e = 0.7 * *e + 0.1 * rng.normal();
                }
                let xt = 0.5 * k * rate + noise[0];
                let row = ((d * s + step) * n + j) * f;
                changes[row] = xt as f32;
                for i in 1..f {
                    changes[row + i] = (betas[i - 1] * xt + k * drift[i] + noise[i]) as f32;
                }
            }
        }
    }
    let start = (0..n * f).map(|_| rng.normal() as f32).collect();
    (changes, start)
}

/// The Kolmogorov–Smirnov statistic of `p` against the uniform on [0, 1],
/// `D = max_i max(i/m - p_(i), p_(i) - (i-1)/m)`, and its asymptotic p-value, Kolmogorov's
/// `Q(sqrt(m) D) = 2 Σ_{k>=1} (-1)^(k-1) exp(-2 k² m D²)`.
fn ks_uniform(p: &[f64]) -> (f64, f64) {
    let mut s = p.to_vec();
    s.sort_by(f64::total_cmp);
    let m = s.len() as f64;
    let d = s.iter().enumerate().map(|(i, &v)| ((i + 1) as f64 / m - v).max(v - i as f64 / m)).fold(0.0, f64::max);
    let l2 = m * d * d;
    let q: f64 = (1..=100).map(|k| (if k % 2 == 1 { 2.0 } else { -2.0 }) * (-2.0 * (k * k) as f64 * l2).exp()).sum();
    (d, q.clamp(0.0, 1.0))
}

/// The naive row-level test the per-image test replaces: Pearson's r of x_i on x_t over the
/// set's rows, as if the N rows were independent (t = r sqrt((N - 2) / (1 - r²)), df N - 2).
fn naive_row_p(changes: &[f32], n: usize, s: usize, f: usize, i: usize) -> f64 {
    let rows: Vec<&[f32]> = changes.chunks_exact(f).collect();
    let m = rows.len() as f64;
    let mt = rows.iter().map(|r| r[0] as f64).sum::<f64>() / m;
    let mi = rows.iter().map(|r| r[i] as f64).sum::<f64>() / m;
    let (mut sti, mut stt, mut sii) = (0.0, 0.0, 0.0);
    for r in &rows {
        let (a, b) = (r[0] as f64 - mt, r[i] as f64 - mi);
        sti += a * b;
        stt += a * a;
        sii += b * b;
    }
    let r = sti / (stt * sii).sqrt();
    let df = m - 2.0;
    let t = r * (df / (1.0 - r * r)).sqrt();
    assert_eq!(rows.len(), 2 * s * n);
    2.0 * StudentsT::new(0.0, 1.0, df).unwrap().sf(t.abs())
}

#[test]
fn the_ks_helper_matches_scipy() {
    // scipy.stats.kstest(p, "uniform").statistic, and scipy.stats.kstwobign.sf(sqrt(10) * D)
    let p = [0.05, 0.12, 0.33, 0.34, 0.5, 0.61, 0.62, 0.9, 0.95, 0.99];
    let (d, q) = ks_uniform(&p);
    assert!((d - 0.2).abs() < 1e-12, "{d}");
    assert!((q - 0.8186211744710056).abs() < 1e-9, "{q}");
    let (d, q) = ks_uniform(&[0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1]);
    assert!((d - 0.9).abs() < 1e-12 && q < 1e-6, "{d} {q}");
}

#[test]
fn null_p_values_are_uniform_and_the_naive_row_test_is_not() {
    let (n, s, runs) = (20, 4, 2000);
    let mut rng = Rng(11);
    let settings = StatsSettings { bootstrap: 0, ..Default::default() };
    let mut p = [Vec::new(), Vec::new(), Vec::new()];
    let mut naive = Vec::new();
    for _ in 0..runs {
        let (changes, start) = simulate(&mut rng, n, s, &[0.0, 0.0]);
        let view = Changes::new(s, n, 3, &changes).unwrap();
        let st = probe_statistics(&view, &start, 0, &settings).unwrap();
        for (k, set) in RowSet::ALL.into_iter().enumerate() {
            p[k].push(st.set(set).features[1].test.unwrap().p.unwrap());
        }
        naive.push(naive_row_p(&changes, n, s, 3, 1));
    }
    for (k, set) in RowSet::ALL.into_iter().enumerate() {
        let (d, q) = ks_uniform(&p[k]);
        eprintln!(
            "{set:?}: KS D = {d:.4}, p = {q:.3}; rejected at 0.05: {:.3}",
            p[k].iter().filter(|&&v| v <= 0.05).count() as f64 / runs as f64
        );
        assert!(q > 0.01, "{set:?}: the null p-values are not uniform (KS D = {d}, p = {q})");
    }
    let (d, q) = ks_uniform(&naive);
    let size = naive.iter().filter(|&&v| v <= 0.05).count() as f64 / runs as f64;
    eprintln!("naive row test: KS D = {d:.4}, p = {q:.3e}; rejected at 0.05: {size:.3}");
    assert!(q < 1e-6 && size > 0.2, "the naive row-level test should be badly anticonservative here");
}

#[test]
fn benjamini_hochberg_keeps_the_false_discovery_rate() {
    let (n, s, runs, alpha) = (30, 4, 400, 0.1);
    let betas: Vec<f64> = (0..20).map(|i| if i < 6 { 0.4 } else { 0.0 }).collect();
    let mut rng = Rng(22);
    let settings = StatsSettings { bootstrap: 0, alpha, ..Default::default() };
    let (mut fdp, mut power) = (0.0, 0.0);
    let mut naive_fdp = 0.0;
    for _ in 0..runs {
        let (changes, start) = simulate(&mut rng, n, s, &betas);
        let view = Changes::new(s, n, 21, &changes).unwrap();
        let st = probe_statistics(&view, &start, 0, &settings).unwrap();
        let called: Vec<bool> = st.pooled.features[1..].iter().map(|m| m.test.unwrap().significant).collect();
        let false_calls = called.iter().zip(&betas).filter(|&(&c, &b)| c && b == 0.0).count();
        let calls = called.iter().filter(|&&c| c).count();
        fdp += false_calls as f64 / calls.max(1) as f64;
        power += called.iter().zip(&betas).filter(|&(&c, &b)| c && b != 0.0).count() as f64 / 6.0;
        // The same BH on the naive row-level p-values.
        let p: Vec<Option<f64>> = (1..21).map(|i| Some(naive_row_p(&changes, n, s, 21, i))).collect();
        let q = gan_bias::stats::benjamini_hochberg(&p);
        let naive_calls: Vec<bool> = q.iter().map(|q| q.unwrap() <= alpha).collect();
        let naive_false = naive_calls.iter().zip(&betas).filter(|&(&c, &b)| c && b == 0.0).count();
        naive_fdp += naive_false as f64 / naive_calls.iter().filter(|&&c| c).count().max(1) as f64;
    }
    let (fdr, power, naive_fdr) = (fdp / runs as f64, power / runs as f64, naive_fdp / runs as f64);
    eprintln!("BH at q = {alpha}: FDR {fdr:.4}, power {power:.3}; on naive row p-values: FDR {naive_fdr:.3}");
    assert!(fdr <= alpha, "FDR {fdr} above {alpha}");
    assert!(power > 0.5, "power {power}: the non-null features should mostly be found");
    assert!(naive_fdr > 2.0 * alpha, "the naive row-level p-values should break the FDR ({naive_fdr})");
}

/// The percentile interval (Hyndman–Fan 8, as the library's) of a naive bootstrap that
/// resamples the 2Sn rows as if independent, for the pooled slope of feature 1 on 0.
fn naive_row_bootstrap(rng: &mut Rng, changes: &[f32], f: usize, b: usize, ci: f64) -> (f64, f64) {
    let rows: Vec<&[f32]> = changes.chunks_exact(f).collect();
    let m = rows.len();
    let reps: Vec<f64> = (0..b)
        .map(|_| {
            let (mut st, mut si, mut stt, mut sti) = (0.0, 0.0, 0.0, 0.0);
            for _ in 0..m {
                let r = rows[rng.below(m)];
                let (a, c) = (r[0] as f64, r[1] as f64);
                st += a;
                si += c;
                stt += a * a;
                sti += a * c;
            }
            let mf = m as f64;
            (sti - st * si / mf) / (stt - st * st / mf)
        })
        .collect();
    let mut data = Data::new(reps);
    (data.quantile((1.0 - ci) / 2.0), data.quantile((1.0 + ci) / 2.0))
}

#[test]
fn the_cluster_bootstrap_covers_the_pooled_slope_and_a_row_bootstrap_does_not() {
    let (n, s, runs, beta) = (80, 5, 600, 0.3);
    let mut rng = Rng(33);
    let settings = StatsSettings { bootstrap: 400, ci: 0.95, ..Default::default() };
    let (mut cluster, mut naive) = (0usize, 0usize);
    let (mut cluster_width, mut naive_width) = (0.0, 0.0);
    for run in 0..runs {
        let (changes, start) = simulate(&mut rng, n, s, &[beta]);
        let view = Changes::new(s, n, 2, &changes).unwrap();
        let st = probe_statistics(&view, &start, 0, &StatsSettings { seed: run as u64, ..settings }).unwrap();
        let i = st.pooled.features[1].slope.interval.unwrap();
        cluster += i.contains(beta) as usize;
        cluster_width += i.high - i.low;
        let (lo, hi) = naive_row_bootstrap(&mut rng, &changes, 2, 400, 0.95);
        naive += (lo <= beta && beta <= hi) as usize;
        naive_width += hi - lo;
    }
    let (c, r) = (cluster as f64 / runs as f64, naive as f64 / runs as f64);
    eprintln!(
        "95% intervals of the pooled slope over {runs} runs: cluster bootstrap covers {c:.3} (mean width {:.4}), \
         row bootstrap {r:.3} (mean width {:.4})",
        cluster_width / runs as f64,
        naive_width / runs as f64
    );
    assert!((c - 0.95).abs() <= 0.03, "cluster bootstrap coverage {c}");
    assert!(r < 0.85, "the row bootstrap should undercover clearly ({r})");
    assert!(c - r > 0.1);
}
