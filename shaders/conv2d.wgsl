// conv2d.wgsl: direct 2-D correlation, one invocation per output element.
// Runs nn.Conv2d forward, and the input-gradient of nn.ConvTranspose2d (whose weight,
// (cin, cout, k, k), is then read as (n_out, n_in, k, k) with the roles swapped).
//
//   y[b, o, oy, ox] = finish( sum_{i, ky, kx} w[o, i, ky, kx] * x[b, i, oy*s + ky - p, ox*s + kx - p] (+ bias[o]) )

// Params: see conv_common.wgsl.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (n, cin, hin, win)
@group(0) @binding(2) var<storage, read> w: array<f32>;          // (cout, cin, k, k)
@group(0) @binding(3) var<storage, read> bias: array<f32>;       // (cout), read when has_bias == 1
@group(0) @binding(4) var<storage, read> aux: array<f32>;        // (n, cout, hout, wout), read when mode == 2
@group(0) @binding(5) var<storage, read_write> y: array<f32>;    // (n, cout, hout, wout)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = flat_index(gid, groups);
    if idx >= p.n * p.cout * p.hout * p.wout {
        return;
    }
    let pos = output_position(idx, p);
    let b = pos.x;
    let o = pos.y;
    let oy = pos.z;
    let ox = pos.w;
    let kk = p.k * p.k;
    var sum = 0.0;
    for (var i = 0u; i < p.cin; i++) {
        let x_base = (b * p.cin + i) * p.hin * p.win;
        let w_base = (o * p.cin + i) * kk;
        for (var ky = 0u; ky < p.k; ky++) {
            let iy = i32(oy * p.stride + ky) - i32(p.pad);
            if iy < 0 || iy >= i32(p.hin) {
                continue;
            }
            for (var kx = 0u; kx < p.k; kx++) {
                let ix = i32(ox * p.stride + kx) - i32(p.pad);
                if ix < 0 || ix >= i32(p.win) {
                    continue;
                }
                sum += w[w_base + ky * p.k + kx] * x[x_base + u32(iy) * p.win + u32(ix)];
            }
        }
    }
    if p.has_bias == 1u {
        sum += bias[o];
    }
    var a = 0.0;
    if p.mode == 2u {
        a = aux[idx];
    }
    y[idx] = finish(sum, p.mode, p.act, p.slope, a);
}
