//! f16 convolution weights on the GPU: which buffers of a program are stored as f16, and how
//! they are packed.
//!
//! A buffer is stored as f16 when the backend is asked for [`WeightPrecision::F16`], the buffer
//! is a constant, and every op that binds it binds it as [`Bind::Weights`] (a buffer some other
//! op reads as f32 stays f32). Its values are rounded to the nearest f16 (ties to even) and
//! packed two to a 32-bit word, element `2i` in the low half and `2i + 1` in the high half: the
//! bytes of a little-endian f16 array, which WGSL's `unpack2x16float` reads back as
//! `vec2<f32>(w[2i], w[2i + 1])` (`shaders/conv_weights_f16.wgsl`). No `enable f16`, so the
//! device is never asked for the shader-f16 feature; wgpu allows the builtin where the adapter
//! has the downlevel flag `SHADER_F16_IN_F32`, which every adapter has but llvmpipe without
//! shader-f16 ([`check_support`]). The f32 kernels do not use it, so they run everywhere.
//!
//! Owns: f16 weight packing and support checks. Must not touch: the kernels' sums.

use half::f16;

use super::GpuError;
use crate::backend::WeightPrecision;
use crate::ops::Bind;
use crate::program::Program;

/// Per buffer of `program`: whether it is stored as packed f16 under `precision`.
pub fn packed_buffers(program: &Program, precision: WeightPrecision) -> Vec<bool> {
    let n = program.buffers.len();
    if precision != WeightPrecision::F16 {
        return vec![false; n];
    }
    let (mut weights, mut other) = (vec![false; n], vec![false; n]);
    for op in program.phases.iter().flat_map(|(_, ops)| ops) {
        for bind in op.kernel().dispatch().binds {
            match bind {
                Bind::Weights(id) if op.kernel().dispatch().shader.f16_weights.is_some() => weights[id.0] = true,
                Bind::Weights(id) => other[id.0] = true,
                Bind::Read(Some(id)) | Bind::Write(id) => other[id.0] = true,
                Bind::Read(None) | Bind::Params(_) | Bind::Step => {}
            }
        }
    }
    let mut packed = vec![false; n];
    for (i, spec) in program.buffers.iter().enumerate() {
        if spec.init.is_some() && weights[i] {
            packed[i] = !other[i];
            if other[i] {
                log::debug!("{}: kept as f32 (other ops read it as f32)", spec.label);
            }
        }
    }
    packed
}

/// Fails, naming `adapter`, unless its shaders may use `unpack2x16float` (wgpu's downlevel flag
/// `SHADER_F16_IN_F32`, in `downlevel`: every adapter but llvmpipe without shader-f16).
pub fn check_support(adapter: &str, downlevel: wgpu::DownlevelFlags) -> Result<(), GpuError> {
    if downlevel.contains(wgpu::DownlevelFlags::SHADER_F16_IN_F32) {
        return Ok(());
    }
    Err(GpuError::NoF16Weights { adapter: adapter.to_string() })
}

/// Bytes of a buffer of `len` values stored as packed f16 (at least one word).
pub fn packed_bytes(len: usize) -> u64 {
    (len.div_ceil(2) as u64 * 4).max(4)
}

/// `data` rounded to f16 and packed two to a word. A finite value beyond f16's range (|x| >
/// 65504 after rounding) is an error naming the buffer: it would become infinite.
pub fn pack(label: &str, data: &[f32]) -> Result<Vec<u32>, GpuError> {
    let half = |i: usize| -> Result<u32, GpuError> {
        let Some(&x) = data.get(i) else { return Ok(0) };
        let h = f16::from_f32(x);
        if x.is_finite() && !h.is_finite() {
            return Err(GpuError::F16Range { label: label.to_string(), index: i, value: x });
        }
        Ok(h.to_bits() as u32)
    };
    (0..data.len().div_ceil(2)).map(|w| Ok(half(2 * w)? | (half(2 * w + 1)? << 16))).collect()
}

/// The first `len` values of `words` (packed as [`pack`] packs them), as f32.
pub fn unpack(words: &[u32], len: usize) -> Vec<f32> {
    words.iter().flat_map(|&w| [w & 0xffff, w >> 16]).take(len).map(|h| f16::from_bits(h as u16).to_f32()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_rounds_to_f16_and_round_trips() {
        let data = [1.0f32, -2.5, 0.1, 65504.0, 1e-8, -0.0, 3.0];
        let words = pack("w", &data).unwrap();
        assert_eq!(words.len(), 4);
        // Element 0 in the low half: 1.0 is 0x3c00, -2.5 is 0xc100.
        assert_eq!(words[0], 0xc100_3c00);
        // The odd element's high half is zero.
        assert_eq!(words[3] >> 16, 0);
        let back = unpack(&words, data.len());
        let want: Vec<f32> = data.iter().map(|&x| f16::from_f32(x).to_f32()).collect();
        assert_eq!(back, want);
        assert_eq!(packed_bytes(7), 16);
        assert_eq!(packed_bytes(0), 4);
    }

    #[test]
    fn adapters_without_unpack2x16float_are_refused_naming_them() {
        check_support("any GPU", wgpu::DownlevelFlags::all()).unwrap();
        let e = check_support("llvmpipe (LLVM 15.0.6, 256 bits)", wgpu::DownlevelFlags::COMPUTE_SHADERS).unwrap_err().to_string();
        assert!(e.starts_with("llvmpipe (LLVM 15.0.6, 256 bits) cannot read f16 weights") && e.contains("SHADER_F16_IN_F32"), "{e}");
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn values_beyond_f16_are_refused_naming_the_buffer() {
        let e = pack("main.3 weight", &[0.0, 1.0, 7e4]).unwrap_err().to_string();
        assert!(e.contains("main.3 weight") && e.contains("index 2") && e.contains("70000"), "{e}");
    }
}
