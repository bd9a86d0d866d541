// pad.wgsl: planes of hin x win moved by (top, left) into planes of hout x wout, the
// positions with no source set to `value`: y[p, oy, ox] = x[p, oy - top, ox - left] where that
// lies inside the input. Pad forward (top and left its leading pads, negative ones crop);
// backward the same with -top and -left, which takes the gradient of what was kept.
//
// mode 1 (forward):  y as above
// mode 2 (backward): y * act'(aux), aux laid out as y (the stored output of the input's
//                    producer, act its activation, 0: none)

struct Params {
    planes: u32, hin: u32, win: u32, hout: u32,
    wout: u32, top: i32, left: i32, value: f32,
    mode: u32, act: u32, slope: f32, _p0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // (planes, hin, win)
@group(0) @binding(2) var<storage, read> aux: array<f32>;          // (planes, hout, wout)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;      // (planes, hout, wout)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * 64u;
    if idx >= p.planes * p.hout * p.wout {
        return;
    }
    let plane = idx / (p.hout * p.wout);
    let iy = i32((idx / p.wout) % p.hout) - p.top;
    let ix = i32(idx % p.wout) - p.left;
    var v = p.value;
    if iy >= 0 && iy < i32(p.hin) && ix >= 0 && ix < i32(p.win) {
        v = x[(plane * p.hin + u32(iy)) * p.win + u32(ix)];
    }
    if p.mode == 2u && p.act != 0u {
        v = v * activation_grad(aux[idx], p.act, p.slope);
    }
    y[idx] = v;
}
