// copy.wgsl: copies `len` values from each of `blocks` blocks of x into y: block k from
// x[k * x_stride + x_offset ..] to y[k * y_stride + y_offset ..]. Concat forward puts each input
// into its slice of the output this way; backward, each input's gradient is its slice of the
// output's gradient.
//
// mode 1 (forward):  y = x
// mode 2 (backward): y = x * act'(aux), aux laid out as y (the stored output of the producer of
//                    the value whose gradient this is, act its activation, 0: none)

struct Params {
    blocks: u32, len: u32, x_stride: u32, x_offset: u32,
    y_stride: u32, y_offset: u32, mode: u32, act: u32,
    slope: f32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // (blocks, x_stride)
@group(0) @binding(2) var<storage, read> aux: array<f32>;          // (blocks, y_stride)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;      // (blocks, y_stride)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * 64u;
    if idx >= p.blocks * p.len {
        return;
    }
    let k = idx / p.len;
    let i = idx % p.len;
    let at = k * p.y_stride + p.y_offset + i;
    var v = x[k * p.x_stride + p.x_offset + i];
    if p.mode == 2u && p.act != 0u {
        v = v * activation_grad(aux[at], p.act, p.slope);
    }
    y[at] = v;
}
