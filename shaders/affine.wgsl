// affine.wgsl: a per-channel affine map and an activation, elementwise (a BatchNorm that
// follows no convolution, a product or sum with a constant, an activation on its own).
//
// mode 1 (forward):  y = act(x * scale[c] + shift[c])
// mode 2 (backward): y = x * scale[c] * act'(aux)
//                    x the gradient of the forward's result before its activation, aux the
//                    stored output of the input's producer, act its activation (0: none)
//
// c = (idx / spatial) % channels: each row is (..., channels, spatial) values; a scalar is one
// channel. has_scale 0 reads no scale (1); has_shift 0 no shift (0). The one operand binding
// `extra` holds the shift going forward and the stored activation going backward.

struct Params {
    len: u32, channels: u32, spatial: u32, mode: u32,
    act: u32, slope: f32, has_scale: u32, has_shift: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // (rows, len / rows)
@group(0) @binding(2) var<storage, read> scale: array<f32>;        // (channels)
@group(0) @binding(3) var<storage, read> extra: array<f32>;        // (channels) shift, or (rows, len / rows) aux
@group(0) @binding(4) var<storage, read_write> y: array<f32>;      // (rows, len / rows)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * 64u;
    if idx >= p.len {
        return;
    }
    let c = (idx / p.spatial) % p.channels;
    var v = x[idx];
    if p.has_scale == 1u {
        v = v * scale[c];
    }
    if p.mode == 2u {
        if p.act != 0u {
            v = v * activation_grad(extra[idx], p.act, p.slope);
        }
        y[idx] = v;
        return;
    }
    if p.has_shift == 1u {
        v = v + extra[c];
    }
    y[idx] = activate(v, p.act, p.slope);
}
