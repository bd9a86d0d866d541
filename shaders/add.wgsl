// add.wgsl: the sum of two tensors of one shape and an activation, elementwise (a residual
// connection; backward, the sum of two contributions to one gradient where a value feeds
// several nodes).
//
// mode 1 (forward):  y = act(a + b)
// mode 2 (backward): y = (a + b) * act'(aux)
//                    aux the stored output of the producer of the value whose gradient this
//                    is, act its activation (0: none)

struct Params {
    len: u32, mode: u32, act: u32, slope: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;            // (rows, len / rows)
@group(0) @binding(2) var<storage, read> b: array<f32>;            // (rows, len / rows)
@group(0) @binding(3) var<storage, read> aux: array<f32>;          // (rows, len / rows)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;      // (rows, len / rows)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * 64u;
    if idx >= p.len {
        return;
    }
    let v = a[idx] + b[idx];
    if p.mode == 2u {
        if p.act != 0u {
            y[idx] = v * activation_grad(aux[idx], p.act, p.slope);
        } else {
            y[idx] = v;
        }
        return;
    }
    y[idx] = activate(v, p.act, p.slope);
}
