//! The cost of the classifier audit at a large audit's size: N = 20000 images, F = 40
//! features, all 40 measured, two group attributes (four finest groups), without the
//! bootstrap and with B = 1000 resamples; the logits continuous (a few chance ties), or on a
//! grid of 1/64 (nearly every logit tied).
//!
//!     cargo bench --bench audit_stats

use criterion::{Criterion, criterion_group, criterion_main};
use gan_bias::stats::{AuditData, AuditSpec, StatsSettings, audit_statistics};

/// Deterministic labels, and logits that follow them, rounded to `1 / grid` when grid > 0.
fn images(n: usize, f: usize, grid: f32) -> (Vec<f32>, Vec<bool>) {
    let mut state = 12345u64;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let labels: Vec<bool> = (0..n * f).map(|k| next() < 0.2 + 0.6 * (k % f) as f32 / f as f32).collect();
    let logit = |y: bool, u: f32| {
        let x = if y { 1.0 } else { -1.0 } + 3.0 * (u - 0.5);
        if grid > 0.0 { (x * grid).round() / grid } else { x }
    };
    let logits = labels.iter().map(|&y| logit(y, next())).collect();
    (logits, labels)
}

fn benches(c: &mut Criterion) {
    let (n, f) = (20000, 40);
    let spec = AuditSpec { threshold: 0.0, group_attributes: vec![20, 39], features: (0..f).collect(), min_group: 30 };
    let mut group = c.benchmark_group("audit statistics, 20000 images x 40 features, 2 group attributes");
    group.sample_size(10);
    for (label, grid, bootstrap) in
        [("no bootstrap", 0.0, 0), ("bootstrap 1000", 0.0, 1000), ("bootstrap 1000, logits on a 1/64 grid", 64.0, 1000)]
    {
        let (logits, labels) = images(n, f, grid);
        let data = AuditData { logits: &logits, labels: &labels, features: f };
        let settings = StatsSettings { bootstrap, ..Default::default() };
        group.bench_function(label, |b| b.iter(|| audit_statistics(&data, &spec, &settings).unwrap()));
    }
    group.finish();
}

criterion_group!(audit_stats, benches);
criterion_main!(audit_stats);
