// conv_common.wgsl: what the two convolution kernels share, prepended to conv2d.wgsl and
// conv_transpose2d.wgsl when they are loaded: their parameters, the index of an output
// element, and the epilogue every convolution ends with.

struct Params {
    n: u32, cin: u32, hin: u32, win: u32,
    cout: u32, hout: u32, wout: u32, k: u32,
    stride: u32, pad: u32, mode: u32, act: u32,
    has_bias: u32, slope: f32, _p0: u32, _p1: u32,
}

// (image, output channel, row, column) of flat output index idx.
fn output_position(idx: u32, p: Params) -> vec4<u32> {
    let plane = p.hout * p.wout;
    return vec4<u32>(idx / (plane * p.cout), (idx / plane) % p.cout, (idx / p.wout) % p.hout, idx % p.wout);
}

// Epilogue:
// mode 1 (forward):  act(sum + bias)
// mode 2 (backward): sum * act'(aux), with aux the stored output of the activation
// act: 0 identity, 1 ReLU, 2 LeakyReLU(slope), 3 Tanh

fn activate(x: f32, act: u32, slope: f32) -> f32 {
    switch act {
        case 1u: { return select(0.0, x, x > 0.0); }
        case 2u: { return select(x * slope, x, x > 0.0); }
        case 3u: { return tanh(x); }
        default: { return x; }
    }
}

fn activation_grad(y: f32, act: u32, slope: f32) -> f32 {
    switch act {
        case 1u: { return select(0.0, 1.0, y > 0.0); }
        case 2u: { return select(slope, 1.0, y > 0.0); }
        case 3u: { return 1.0 - y * y; }
        default: { return 1.0; }
    }
}

fn finish(sum: f32, mode: u32, act: u32, slope: f32, aux: f32) -> f32 {
    if mode == 2u {
        return sum * activation_grad(aux, act, slope);
    }
    return activate(sum, act, slope);
}

// Flat invocation index of a 2-D dispatch of 64-wide workgroups (counts over 65535 groups
// spill into y).
fn flat_index(gid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return gid.x + gid.y * groups.x * 64u;
}
