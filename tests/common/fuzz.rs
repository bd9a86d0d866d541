//! The mutation fuzzers' mutator: seeded, so a failure replays.

use super::SimRng;

/// `input` changed one to four times: a bit flipped, a byte set to one of `interesting`, a
/// cut, a splice of another seed, random bytes inserted, bytes deleted, or a boundary
/// integer written, all within the first `region` bytes.
pub fn mutate(rng: &mut SimRng, input: &[u8], others: &[Vec<u8>], region: usize, interesting: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let span = region.min(v.len()).max(1);
        let at = rng.below(span);
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] = interesting[rng.below(interesting.len())];
            }
            2 => v.truncate(rng.below(v.len() + 1)),
            3 => {
                // Splice in a chunk of another seed (or of itself).
                let src = &others[rng.below(others.len())];
                let start = rng.below(src.len());
                let len = rng.below(64.min(src.len() - start) + 1);
                let at = at.min(v.len());
                v.splice(at..at, src[start..start + len].iter().copied());
            }
            4 => {
                let at = at.min(v.len());
                let n = rng.below(16) + 1;
                v.splice(at..at, (0..n).map(|_| rng.u64() as u8));
            }
            5 if !v.is_empty() => {
                let at = at.min(v.len() - 1);
                let end = (at + 1 + rng.below(32)).min(v.len());
                v.drain(at..end);
            }
            _ => {
                // Overwrite 4 or 8 bytes with a boundary integer.
                let vals = [u64::MAX, 0, 1 << 31, 1 << 63, u32::MAX as u64, 0x7fff_ffff];
                let bytes = vals[rng.below(vals.len())].to_le_bytes();
                let n = if rng.below(2) == 0 { 4 } else { 8 };
                for (i, b) in bytes[..n].iter().enumerate() {
                    if let Some(x) = v.get_mut(at + i) {
                        *x = *b;
                    }
                }
            }
        }
    }
    v
}
