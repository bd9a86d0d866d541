//! The cost of the probe statistics (metrics of three row sets, the cluster bootstrap, the
//! per-image tests, the observational block) at the notebook's size: n = 256 images, S = 30
//! steps, F = 40 features, without the bootstrap and with B = 1000 resamples.
//!
//!     cargo bench --bench probe_stats

use criterion::{Criterion, criterion_group, criterion_main};
use gan_bias::stats::{Changes, StatsSettings, probe_statistics};

/// Deterministic, non-degenerate changes and starting logits shaped like a probe's.
fn history(n: usize, s: usize, f: usize) -> (Vec<f32>, Vec<f32>) {
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
    let start = (0..n * f).map(|_| 4.0 * next()).collect();
    (changes, start)
}

fn benches(c: &mut Criterion) {
    let (n, s, f) = (256, 30, 40);
    let (changes, start) = history(n, s, f);
    let view = Changes::new(s, n, f, &changes).unwrap();
    let mut group = c.benchmark_group("probe statistics, 256 images x 30 steps x 40 features");
    group.sample_size(10);
    for (label, bootstrap) in [("no bootstrap", 0), ("bootstrap 1000", 1000)] {
        let settings = StatsSettings { bootstrap, ..Default::default() };
        group.bench_function(label, |b| b.iter(|| probe_statistics(&view, &start, 3, &settings).unwrap()));
    }
    group.finish();
}

criterion_group!(probe_stats, benches);
criterion_main!(probe_stats);
