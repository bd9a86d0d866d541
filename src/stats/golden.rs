//! Golden values from scipy and numpy (`tools/stats_golden.py` prints them), and the tests
//! that hold this stage to them. Test-only; owns nothing the library uses.

use super::*;

/// MINSTD, as `tools/stats_golden.py` draws it: `s <- 48271 s mod 2^31 - 1`, `u = s / (2^31 - 1)`.
fn minstd(seed: u64, n: usize) -> Vec<f64> {
    const M: u64 = 2_147_483_647;
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s * 48271 % M;
            s as f64 / M as f64
        })
        .collect()
}

/// x = 10 u - 5, y = 0.7 x + 1.5 + 4 (v - 0.5), 40 points, seed 12345.
fn dataset() -> (Vec<f64>, Vec<f64>) {
    let u = minstd(12345, 80);
    let x: Vec<f64> = u[..40].iter().map(|a| 10.0 * a - 5.0).collect();
    let y = x.iter().zip(&u[40..]).map(|(a, b)| 0.7 * a + 1.5 + 4.0 * (b - 0.5)).collect();
    (x, y)
}

/// `|got - want| <= tol * max(1, |want|)`.
fn close(what: &str, got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol * want.abs().max(1.0), "{what}: got {got:e}, want {want:e}");
}

// ---- printed by tools/stats_golden.py ----
// t quantiles: T_QUANTILE[i * PS.len() + j] = t.ppf(PS[j], DFS[i])
const DFS: [f64; 5] = [1.0, 3.0, 10.0, 100.0, 2.5];
const PS: [f64; 4] = [0.9, 0.975, 0.995, 0.005];
const T_QUANTILE: [f64; 20] = [
    3.0776835371752544,
    12.706204736174694,
    63.656741162871526,
    -63.65674116287158,
    1.637744353696209,
    3.1824463052837078,
    5.840909309733355,
    -5.840909309733357,
    1.372183641110336,
    2.228138851986274,
    3.16927267261695,
    -3.1692726726169504,
    1.290074761346516,
    1.9839715185235518,
    2.6258905214380173,
    -2.6258905214380173,
    1.7302509288071766,
    3.5746548420036817,
    7.163728138948783,
    -7.163728138948786,
];
const NORMAL_QUANTILE: [f64; 4] = [1.2815515655446004, 1.959963984540054, 2.5758293035489004, -2.575829303548901];
// Pearson and least squares of the dataset
const PEARSON: f64 = 0.8728136196694636;
const SLOPE: f64 = 0.6838087673444643;
const INTERCEPT: f64 = 1.71028699802102;
const RESIDUAL_SD: f64 = 1.1352310092214417;
const BAND_X: [f64; 3] = [-4.0, 0.0, 2.5];
const BAND_HALF_99: [f64; 3] = [0.8342327567310057, 0.4867364686555746, 0.640087122781103];
// x_bins(x, y, 5, 0.99): centres at numpy percentiles, nearest centre, t interval
const BIN_CENTRES: [f64; 5] = [-3.1817786433649142, -1.4708457777606534, -0.41131720897337276, 1.9791264352291487, 3.354884329417204];
const BIN_COUNTS: [usize; 5] = [8, 8, 6, 9, 9];
const BIN_MEANS: [f64; 5] = [-0.6084093128952242, 0.11816073656927836, 1.4351587608775553, 2.6277824700628942, 4.538578161599694];
const BIN_HALF_99: [f64; 5] = [1.477875905990124, 1.982485669644379, 0.849233174795923, 1.40126288215146, 1.7882926662412661];
// the covariance of the features' rows, and their correlation (np.corrcoef of the rows)
const FEATURE_COV: [f64; 16] = [
    0.08160890866920355,
    0.08104465896824,
    -0.07214760883769597,
    -0.0005073029228271859,
    0.08104465896824,
    0.10419235661316487,
    -0.07211517964518901,
    -0.00036268529471114266,
    -0.07214760883769597,
    -0.07211517964518901,
    0.144498257292396,
    0.00044133939177772713,
    -0.0005073029228271859,
    -0.00036268529471114266,
    0.00044133939177772713,
    0.0008407575850630989,
];
const FEATURE_CORR: [f64; 16] = [
    1.0,
    0.8788963958165001,
    -0.6643881108822738,
    -0.06124394846442897,
    0.8788963958165,
    1.0,
    -0.5877294521981961,
    -0.03875043835173191,
    -0.6643881108822739,
    -0.5877294521981962,
    1.0,
    0.040041099136356055,
    -0.06124394846442897,
    -0.03875043835173191,
    0.040041099136356055,
    1.0,
];
// ---- end of the printed values ----

#[test]
fn t_and_normal_quantiles_match_scipy() {
    for (i, &df) in DFS.iter().enumerate() {
        for (j, &p) in PS.iter().enumerate() {
            close(&format!("t({p}, {df})"), t_quantile(p, df), T_QUANTILE[i * PS.len() + j], 1e-10);
        }
    }
    for (j, &p) in PS.iter().enumerate() {
        close(&format!("z({p})"), normal_quantile(p), NORMAL_QUANTILE[j], 1e-12);
        close(&format!("t({p}, inf)"), t_quantile(p, f64::INFINITY), NORMAL_QUANTILE[j], 1e-12);
    }
    // The Cornish-Fisher expansion that came before was 0.8% off here; exact is far closer.
    close("t(0.995, 3)", t_quantile(0.995, 3.0), 5.840909309733355, 1e-12);
}

#[test]
fn quantiles_outside_their_domain_are_nan_and_the_ends_infinite() {
    for (p, df) in [(-0.1, 3.0), (1.5, 3.0), (f64::NAN, 3.0), (0.5, 0.0), (0.5, -2.0), (0.5, f64::NAN)] {
        assert!(t_quantile(p, df).is_nan(), "t({p}, {df})");
    }
    assert!(normal_quantile(1.01).is_nan() && normal_quantile(f64::NAN).is_nan());
    assert_eq!(normal_quantile(0.5), 0.0);
    assert_eq!(t_quantile(0.5, 7.0), 0.0);
    assert_eq!((t_quantile(1.0, 4.0), t_quantile(0.0, 4.0)), (f64::INFINITY, f64::NEG_INFINITY));
}

#[test]
fn pearson_and_least_squares_match_scipy() {
    let (x, y) = dataset();
    close("pearson", pearson(&x, &y), PEARSON, 1e-13);
    let f = regression(&x, &y);
    close("slope", f.slope, SLOPE, 1e-13);
    close("intercept", f.intercept, INTERCEPT, 1e-13);
    close("residual sd", f.s, RESIDUAL_SD, 1e-13);
    assert_eq!(f.n, 40);
    for (&bx, &half) in BAND_X.iter().zip(&BAND_HALF_99) {
        let (lo, hi) = f.band(bx, 0.99);
        close(&format!("band's centre at {bx}"), (lo + hi) / 2.0, f.predict(bx), 1e-13);
        close(&format!("band's half width at {bx}"), (hi - lo) / 2.0, half, 1e-10);
    }
}

#[test]
fn bins_match_numpy_percentiles_and_scipy_intervals() {
    let (x, y) = dataset();
    let bins = x_bins(&x, &y, 5, 0.99);
    assert_eq!(bins.iter().map(|b| b.count).collect::<Vec<_>>(), BIN_COUNTS);
    for (i, b) in bins.iter().enumerate() {
        close(&format!("bin {i}'s centre"), b.x, BIN_CENTRES[i], 1e-13);
        close(&format!("bin {i}'s mean"), b.mean, BIN_MEANS[i], 1e-13);
        close(&format!("bin {i}'s lower end"), b.mean - b.lo, BIN_HALF_99[i], 1e-10);
        close(&format!("bin {i}'s upper end"), b.hi - b.mean, BIN_HALF_99[i], 1e-10);
    }
}

#[test]
fn correlation_of_a_covariance_matches_numpy_corrcoef() {
    let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
    let cov = FeatureMatrix::new(names, FEATURE_COV.to_vec()).unwrap();
    let r = correlation_matrix(&cov);
    for (k, (&got, &want)) in r.values().iter().zip(&FEATURE_CORR).enumerate() {
        close(&format!("corr ({}, {})", k / 4, k % 4), got, want, 1e-14);
    }
}
