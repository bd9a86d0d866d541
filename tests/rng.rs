//! `rng::torch_randn` against `torch.manual_seed(S); torch.randn(N, D)` (tests/fixtures/randn.safetensors).

use crate::common::*;
use gan_bias::rng::torch_randn;

/// `seed{S}_n{N}_d{D}` -> (S, N, D).
fn parse_name(name: &str) -> (u64, usize, usize) {
    let mut parts = name.split('_');
    let mut field = |prefix: &str| {
        let p = parts.next().unwrap_or_else(|| panic!("{name}: missing {prefix}"));
        p.strip_prefix(prefix).unwrap_or_else(|| panic!("{name}: expected {prefix}..")).to_string()
    };
    let s = field("seed").parse().unwrap();
    let n = field("n").parse().unwrap();
    let d = field("d").parse().unwrap();
    (s, n, d)
}

#[test]
fn torch_randn_matches_pytorch_on_every_fixture_case() {
    let (tensors, _) = golden("randn.safetensors");
    assert!(tensors.len() >= 7, "expected at least 7 cases, found {}", tensors.len());
    let mut report = Vec::new();
    for (name, (shape, want)) in &tensors {
        let (seed, n, d) = parse_name(name);
        assert_eq!(shape, &vec![n, d], "{name}: stored shape");
        let got = torch_randn(seed, n * d);
        assert_eq!(got.len(), want.len(), "{name}: length");
        let (mut worst, mut at, mut exact) = (0.0f32, 0usize, 0usize);
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            assert!(g.is_finite(), "{name}: non-finite value {g} at {i}");
            let diff = (g - w).abs();
            if diff > worst {
                worst = diff;
                at = i;
            }
            exact += (g.to_bits() == w.to_bits()) as usize;
        }
        report.push(format!(
            "{name}: max |diff| {worst:e} at {at} (got {}, want {}), {exact}/{} bit-identical",
            got[at],
            want[at],
            want.len()
        ));
        // Vectorised log/sin/cos may round differently by an ulp or two; anything more is a bug.
        assert_close(name, &got, want, 0.0, 1e-6);
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn torch_randn_is_deterministic_and_prefix_free() {
    // Same seed, same draws; a different seed, different draws.
    assert_eq!(torch_randn(7, 100), torch_randn(7, 100));
    assert_ne!(torch_randn(7, 100), torch_randn(8, 100));
    // Sizes that are not a multiple of 16 redraw the last block, so they are not prefixes.
    let a = torch_randn(3, 48);
    let b = torch_randn(3, 40);
    assert_eq!(&a[..24], &b[..24], "the elements before the redrawn last 16 agree");
    assert_ne!(&a[24..40], &b[24..40], "the last 16 elements are redrawn");
    // The small-size path yields plausible normals too.
    assert!(torch_randn(0, 5).iter().all(|x| x.is_finite() && x.abs() < 10.0));
    assert!(torch_randn(0, 0).is_empty());
}

#[test]
fn seeds_above_32_bits_use_the_low_word() {
    // PyTorch's mt19937 takes `seed & 0xffffffff`.
    assert_eq!(torch_randn(5 + (1u64 << 32), 64), torch_randn(5, 64));
}
