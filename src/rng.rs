//! Starting noise that matches PyTorch: `torch.manual_seed(seed); torch.randn(n, z_dim)` on the CPU.
//!
//! PyTorch's CPU generator is the 32-bit Mersenne Twister (MT19937) seeded with the seed.
//! A float uniform in [0, 1) takes the low 24 bits of one 32-bit draw, times 2^-24. For a
//! float tensor of at least 16 elements, `randn` first fills the whole tensor with such
//! uniforms, then turns each block of 16 into normals with Box-Muller, pairing element `j`
//! with `j + 8`: `r = sqrt(-2 ln(1 - u[j]))`, `t = 2 pi u[j + 8]`, `x[j] = r cos t`,
//! `x[j + 8] = r sin t`. When the size is not a multiple of 16, the last 16 elements are drawn
//! again and transformed once more. Tensors of fewer than 16 elements are drawn one normal
//! at a time in double precision (two 53-bit uniforms each; the sine half is cached for the
//! next draw). Values can differ from PyTorch's in the last bit where its vectorised
//! log/sin/cos round differently.
//!
//! Owns: seeded normal draws. Must not touch: models, backends, the probe.

/// The 32-bit Mersenne Twister.
pub struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    pub fn new(seed: u64) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed as u32;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
            let mut next = self.state[(i + 397) % 624] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= 0x9908_b0df;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    pub fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// A float uniform in [0, 1) as PyTorch makes it: 24 random bits.
    fn uniform_f32(&mut self) -> f32 {
        (self.next_u32() & 0x00ff_ffff) as f32 * (1.0 / 16_777_216.0)
    }

    /// A double uniform in [0, 1): 53 bits of a 64-bit draw (first 32-bit draw high).
    fn uniform_f64(&mut self) -> f64 {
        let hi = self.next_u32() as u64;
        let lo = self.next_u32() as u64;
        (((hi << 32) | lo) & ((1u64 << 53) - 1)) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Box-Muller on a block of 16 uniforms, in place.
fn normal_fill_16(data: &mut [f32]) {
    for j in 0..8 {
        let u1 = 1.0 - data[j];
        let u2 = data[j + 8];
        let radius = (-2.0 * u1.ln()).sqrt();
        // PyTorch's vectorised kernel multiplies by 2 pi rounded to f32, in f32.
        let theta = (2.0 * std::f64::consts::PI) as f32 * u2;
        data[j] = radius * theta.cos();
        data[j + 8] = radius * theta.sin();
    }
}

/// `torch.manual_seed(seed); torch.randn(len)` (flattened), standard normal f32.
pub fn torch_randn(seed: u64, len: usize) -> Vec<f32> {
    let mut rng = Mt19937::new(seed);
    if len < 16 {
        let mut out = Vec::with_capacity(len);
        let mut cached: Option<f64> = None;
        while out.len() < len {
            let x = match cached.take() {
                Some(x) => x,
                None => {
                    let u1 = rng.uniform_f64();
                    let u2 = rng.uniform_f64();
                    let r = (-2.0 * (-u2).ln_1p()).sqrt();
                    let theta = 2.0 * std::f64::consts::PI * u1;
                    cached = Some(r * theta.sin());
                    r * theta.cos()
                }
            };
            out.push(x as f32);
        }
        return out;
    }
    let mut data: Vec<f32> = (0..len).map(|_| rng.uniform_f32()).collect();
    for start in (0..=len - 16).step_by(16) {
        normal_fill_16(&mut data[start..start + 16]);
    }
    if !len.is_multiple_of(16) {
        let tail = &mut data[len - 16..];
        for v in tail.iter_mut() {
            *v = rng.uniform_f32();
        }
        normal_fill_16(tail);
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_the_reference_sequence() {
        // The 10000th output of MT19937 seeded with 5489 is 4123659995 (C++ std::mt19937).
        let mut rng = Mt19937::new(5489);
        let mut last = 0;
        for _ in 0..10000 {
            last = rng.next_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }
}
