// conv_transpose2d.wgsl: direct 2-D transposed convolution (the adjoint of conv2d.wgsl),
// gathered per output element so no two invocations write the same place, each looping only
// over the kernel taps of its output phase.
// Runs nn.ConvTranspose2d forward, and the input-gradient of nn.Conv2d (whose weight,
// (cout, cin, k, k), is then read as (n_in, n_out, k, k) with the roles swapped).
//
//   y[b, o, oy, ox] = finish( sum_{i, ky, kx : oy = iy*s + ky - p, ox = ix*s + kx - p}
//                              w[i, o, ky, kx] * x[b, i, iy, ix] (+ bias[o]) )

// Params: see conv_common.wgsl.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (n, cin, hin, win)
@group(0) @binding(2) var<storage, read> w: array<f32>;          // (cin, cout, k, k)
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
    // Output row oy meets kernel rows ky = ry, ry + s, ... (its phase ry = (oy + p) mod s), from
    // input rows iy = (oy + p - ky) / s = qy, qy - 1, ...; no other tap reaches it.
    let ry = (oy + p.pad) % p.stride;
    let rx = (ox + p.pad) % p.stride;
    let qy = i32((oy + p.pad) / p.stride);
    let qx = i32((ox + p.pad) / p.stride);
    var sum = 0.0;
    for (var i = 0u; i < p.cin; i++) {
        let x_base = (b * p.cin + i) * p.hin * p.win;
        let w_base = (i * p.cout + o) * kk;
        var iy = qy;
        for (var ky = ry; ky < p.k; ky += p.stride) {
            if iy >= 0 && iy < i32(p.hin) {
                var ix = qx;
                for (var kx = rx; kx < p.k; kx += p.stride) {
                    if ix >= 0 && ix < i32(p.win) {
                        sum += w[w_base + ky * p.k + kx] * x[x_base + u32(iy) * p.win + u32(ix)];
                    }
                    ix -= 1;
                }
            }
            iy -= 1;
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
