// conv_weights_f32.wgsl: the convolution weights as f32, as loaded (the default). Between
// conv_common.wgsl and conv2d.wgsl or conv_transpose2d.wgsl; see those for the tensor's layout.

@group(0) @binding(2) var<storage, read> w: array<f32>;          // (the kernel's weight tensor, one f32 each)

fn weight(i: u32) -> f32 {
    return w[i];
}
