// conv_weights_f16.wgsl: the convolution weights as f16 (`--weights-f16`), in place of
// conv_weights_f32.wgsl. Each word holds two values: element 2i in its low half, 2i + 1 in its
// high half (the bytes of a little-endian f16 array). unpack2x16float widens both to f32; no
// `enable f16` and no f16 arithmetic. wgpu allows that builtin where the adapter has the
// downlevel flag SHADER_F16_IN_F32 (all but llvmpipe without shader-f16); the backend checks.

@group(0) @binding(2) var<storage, read> w: array<u32>;          // (the kernel's weight tensor, two f16 per word, ceil(len / 2) words)

fn weight(i: u32) -> f32 {
    let pair = unpack2x16float(w[i >> 1u]);
    return select(pair.x, pair.y, (i & 1u) == 1u);
}
