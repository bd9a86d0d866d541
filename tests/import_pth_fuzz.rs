//! A bounded, std-only mutation fuzzer for the `.pth` importer: seeded xorshift
//! mutations (bit flips, interesting bytes, truncations, splices, insertions, deletions)
//! of the small test files, hand-built pickles and the real checkpoints. Every input
//! must give `Ok` or `Err` quickly: a panic or a slow input fails the test and leaves
//! the input in the temp folder. `GAN_BIAS_FUZZ_ITERS` scales the iterations (default
//! 2000 for the small seeds). `cargo +nightly fuzz run read_pth` (in `fuzz/`) goes further.

use crate::common::SimRng;
use crate::common::pth::*;
use gan_bias::import::read_pth_bytes;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

/// Bytes that steer a pickle machine somewhere interesting.
const INTERESTING: &[u8] = &[
    0, 1, 0x7f, 0x80, 0xff, b'(', b')', b'.', b'R', b'b', b'Q', b'h', b'q', b'a', b'e', b's', b'u', b't', b'X', b'J', b'K', b'M', b'N',
    b'}', b']', 0x85, 0x8a, 0x93, 0x94, 0x95, b'c', b'\n',
];

fn mutate(rng: &mut SimRng, input: &[u8], others: &[Vec<u8>], region: usize) -> Vec<u8> {
    crate::common::fuzz::mutate(rng, input, others, region, INTERESTING)
}

/// Runs the importer on `input`; returns a description of the failure, if any.
fn check(input: &[u8], limit: Duration) -> Option<String> {
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| read_pth_bytes(input, None)));
    let took = start.elapsed();
    match result {
        Err(_) => Some("panicked".into()),
        Ok(_) if took > limit => Some(format!("took {took:?}")),
        Ok(Ok(tensors)) => {
            let bad = tensors.iter().find(|t| t.data.len() != t.shape.iter().product::<usize>() * t.dtype.size());
            bad.map(|t| format!("tensor {} has {} bytes for shape {:?}", t.name, t.data.len(), t.shape))
        }
        Ok(Err(e)) if e.to_string().is_empty() => Some("empty error message".into()),
        Ok(Err(_)) => None,
    }
}

fn fuzz(name: &str, seeds: &[Vec<u8>], iters: usize, region: usize, mut rebuild: impl FnMut(Vec<u8>) -> Vec<u8>) {
    let limit = Duration::from_secs(5);
    let mut rng = SimRng(0x9e37_79b9_7f4a_7c15 ^ name.len() as u64);
    let mut failures = Vec::new();
    for i in 0..iters {
        let seed = &seeds[i % seeds.len()];
        let input = rebuild(mutate(&mut rng, seed, seeds, region));
        if let Some(why) = check(&input, limit) {
            let path = std::env::temp_dir().join(format!("pth_fuzz_{name}_{i}.bin"));
            std::fs::write(&path, &input).unwrap();
            failures.push(format!("{name} #{i}: {why} (input saved to {})", path.display()));
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}

fn iters(default: usize) -> usize {
    let scale: f64 = std::env::var("GAN_BIAS_FUZZ_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(2000.0);
    ((default as f64) * scale / 2000.0).ceil() as usize
}

fn small_seeds() -> Vec<Vec<u8>> {
    let files = [
        "view_zip.pth",
        "view_legacy.pth",
        "view_zip_deflated.pth",
        "dtypes_p4.pth",
        "dtypes_legacy.pth",
        "posix_system_zip.pth",
        "posix_system_legacy.pth",
        "uint16_zip.pth",
        "complex64_legacy.pth",
    ];
    let mut seeds: Vec<Vec<u8>> = files.iter().map(|f| hostile(f)).collect();
    let pkl = float_state_dict(&[("a", &[2, 3]), ("b", &[3])], true);
    let d = f32_bytes(&[1., 2., 3., 4., 5., 6.]);
    seeds.push(legacy_file(&pkl, &[("0", 6, &d), ("1", 3, &d[..12])], true));
    seeds
}

#[test]
fn fuzz_small_files() {
    fuzz("small", &small_seeds(), iters(2000), usize::MAX, |v| v);
}

#[test]
fn fuzz_zip_pickles() {
    // Mutate data.pkl inside otherwise valid archives, so mutations reach the unpickler
    // instead of stopping at the zip checksums.
    let archives: Vec<Vec<(String, Vec<u8>)>> =
        ["view_zip.pth", "dtypes_p4.pth", "posix_system_zip.pth"].iter().map(|f| unzip(&hostile(f))).collect();
    let pkls: Vec<Vec<u8>> = archives.iter().map(|a| a[0].1.clone()).collect();
    let mut which = 0usize;
    fuzz("zip_pickles", &pkls, iters(1500), usize::MAX, |pkl| {
        which += 1;
        let records = &archives[(which - 1) % archives.len()];
        let mut entries: Vec<(&str, &[u8])> = records.iter().map(|(n, d)| (n.as_str(), &d[..])).collect();
        entries[0].1 = &pkl;
        zip_file(&entries)
    });
}

#[test]
fn fuzz_real_checkpoints() {
    let dir = shared_dir();
    // Legacy: mutate the pickles and the first storage headers (the first 4 KiB).
    let legacy = std::fs::read(dir.join(CLASSIFIER)).unwrap();
    fuzz("real_legacy", &[legacy], iters(150), 4096, |v| v);
    // Zip: mutate data.pkl and re-pack it with the real storages.
    let records = unzip(&std::fs::read(dir.join(GENERATOR)).unwrap());
    let pkl = records.iter().find(|(n, _)| n.ends_with("/data.pkl")).unwrap().1.clone();
    fuzz("real_zip", &[pkl], iters(40), usize::MAX, |pkl| {
        let entries: Vec<(&str, &[u8])> =
            records.iter().map(|(n, d)| (n.as_str(), if n.ends_with("/data.pkl") { &pkl[..] } else { &d[..] })).collect();
        zip_file(&entries)
    });
    // Raw byte mutations of the archive itself (headers, central directory, data).
    let zip = std::fs::read(dir.join(GENERATOR)).unwrap();
    let tail = zip.len().saturating_sub(4096);
    let mut rng = SimRng(7);
    for i in 0..iters(40) {
        let mut v = zip.clone();
        let at = if i % 2 == 0 { rng.below(4096) } else { tail + rng.below(4096) };
        if let Some(b) = v.get_mut(at) {
            *b ^= 1 << rng.below(8);
        }
        assert_eq!(check(&v, Duration::from_secs(5)), None, "real zip with a bit flipped at {at}");
    }
}
