//! The cost of the probe statistics at the notebook's size (n = 256 images, S = 30 steps,
//! F = 40 features, B = 1000 resamples). It measures and prints, asserts nothing about time;
//! run it on purpose:
//!
//!     cargo test --release --test stats_bootstrap_cost -- --ignored --nocapture

use std::time::Instant;

use gan_bias::stats::{Changes, StatsSettings, probe_statistics};

#[test]
#[ignore = "a measurement, not a check: run with --ignored --nocapture"]
fn bootstrap_cost_at_the_notebook_size() {
    let (n, s, f) = (256, 30, 40);
    // Deterministic, non-degenerate values (an LCG), shaped like a probe's.
    let mut state = 12345u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let mut changes = vec![0.0f32; 2 * s * n * f];
    for d in 0..2 {
        for step in 0..s {
            let k = if d == 0 { (step + 1) as f32 } else { -((step + 1) as f32) };
            for j in 0..n {
                let row = ((d * s + step) * n + j) * f;
                for i in 0..f {
                    changes[row + i] = k * (0.1 + 0.01 * i as f32) + next();
                }
            }
        }
    }
    let start: Vec<f32> = (0..n * f).map(|_| 4.0 * next()).collect();
    let view = Changes::new(s, n, f, &changes).unwrap();
    for (label, bootstrap) in [("no bootstrap", 0), ("B = 1000", 1000)] {
        let settings = StatsSettings { bootstrap, ..Default::default() };
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let t = Instant::now();
            let st = probe_statistics(&view, &start, 3, &settings).unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            assert_eq!(st.images, n);
        }
        println!("probe_statistics at n = {n}, S = {s}, F = {f}, {label}: {:.1} ms (best of 5)", best * 1e3);
    }
}
