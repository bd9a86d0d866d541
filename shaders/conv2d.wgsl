// conv2d.wgsl: 2-D correlation as a tiled implicit GEMM (the loop is in conv_common.wgsl).
// Runs nn.Conv2d forward, and the input-gradient of nn.ConvTranspose2d (whose weight,
// (cin, cout, k, k), is then read as (n_out, n_in, k, k) with the roles swapped).
//
//   y[b, o, oy, ox] = finish( sum_{i, ky, kx} w[o, i, ky, kx] * x[b, i, oy*s + ky - p, ox*s + kx - p] (+ bias[o]) )
//
// One phase: M = n * hout * wout pixels, K = cin * k * k taps in the order (i, ky, kx), the
// order of the CPU twin's sum; B[t, o] = w[o * K + t].

// Params: see conv_common.wgsl.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (n, cin, hin, win)
// @binding(2) w: the weights (cout, cin, k, k), from conv_weights_f32.wgsl or conv_weights_f16.wgsl
@group(0) @binding(3) var<storage, read> extra: array<f32>;      // (cout) the bias when has_bias == 1, or (n, cout, hout, wout) the stored activation when mode == 2
@group(0) @binding(4) var<storage, read_write> y: array<f32>;    // (n, cout, hout, wout)

fn phase_count() -> u32 {
    return 1u;
}

fn max_pixels() -> u32 {
    return p.n * p.hout * p.wout;
}

fn phase_shape(phase: u32) -> Shape {
    let kk = p.k * p.k;
    return Shape(max_pixels(), p.cin * kk, p.cin * kk, p.hout, p.wout, 0u, 0u, p.k, p.k);
}

// Pixel m = (b, oy, ox) reads rows oy*s - p + ky and columns ox*s - p + kx.
fn pixel(s: Shape, m: u32) -> vec4<i32> {
    let plane = p.hout * p.wout;
    let b = m / plane;
    let oy = (m % plane) / p.wout;
    let ox = m % p.wout;
    return vec4<i32>(
        i32(b * p.cin * p.hin * p.win),
        i32(oy * p.stride) - i32(p.pad),
        i32(ox * p.stride) - i32(p.pad),
        i32(b * p.cout * plane + oy * p.wout + ox),
    );
}

// Tap t = (i, ky, kx).
fn tap(s: Shape, t: u32) -> vec4<i32> {
    let kk = p.k * p.k;
    let i = t / kk;
    let r = t % kk;
    return vec4<i32>(i32(i * p.hin * p.win), i32(r / p.k), i32(r % p.k), i32(t));
}

@compute @workgroup_size(TM / RM * (TN / RN))
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    conv_tiled(workgroup_index(wid, groups), lid);
}
