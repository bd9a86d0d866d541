// binary.wgsl: differences, products and quotients of two tensors of one shape, and their
// input-gradients, elementwise:
//
// op 1: v = a - b
// op 2: v = a * b                (also a product's gradient: the gradient times the other factor)
// op 3: v = a / b                (also a quotient's gradient for its numerator: gradient / denominator)
// op 4: v = -(a * b) / (aux * aux) (a quotient's gradient for its denominator: a the gradient,
//                                 b the numerator, aux the denominator, which is also what the
//                                 epilogue reads: the denominator's stored value)
// op 5: v = -a                   (a difference's gradient for what it subtracts)
//
// mode 1 (forward):  y = act(v)
// mode 2 (backward): y = v * act'(aux)
//                    aux the stored output of the producer of the value whose gradient this
//                    is, act its activation (0: none)

struct Params {
    len: u32, op: u32, mode: u32, act: u32,
    slope: f32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;            // (rows, len / rows)
@group(0) @binding(2) var<storage, read> b: array<f32>;            // (rows, len / rows), unused by op 5
@group(0) @binding(3) var<storage, read> aux: array<f32>;          // (rows, len / rows)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;      // (rows, len / rows)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * 64u;
    if idx >= p.len {
        return;
    }
    var v = 0.0;
    switch p.op {
        case 1u: { v = a[idx] - b[idx]; }
        case 2u: { v = a[idx] * b[idx]; }
        case 3u: { v = a[idx] / b[idx]; }
        case 4u: { v = -(a[idx] * b[idx]) / (aux[idx] * aux[idx]); }
        default: { v = -a[idx]; }
    }
    if p.mode == 2u {
        if p.act != 0u {
            v = v * activation_grad(aux[idx], p.act, p.slope);
        }
        y[idx] = v;
        return;
    }
    y[idx] = activate(v, p.act, p.slope);
}
