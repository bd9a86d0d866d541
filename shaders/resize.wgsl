// resize.wgsl: nearest-neighbour resizing of (rows, channels, hin, win) to (rows, channels,
// hout, wout), as ONNX's Resize with asymmetric coordinates and floor rounding (what
// F.interpolate(mode="nearest") exports): source row floor(oy * inv_h), column
// floor(ox * inv_w), each clamped to the input, inv_* the inverse of the export's scale.
//
// mode 1 (forward):  y[oy, ox] = x[src(oy), src(ox)]
// mode 2 (backward): y[iy, ix] = act'(aux[iy, ix]) * sum of x[oy, ox] over the outputs whose
//                    source is (iy, ix) (x the gradient of the forward's output, aux the stored
//                    output of the input's producer, act its activation, 0: none)

struct Params {
    planes: u32, hin: u32, win: u32, hout: u32,
    wout: u32, inv_h: f32, inv_w: f32, mode: u32,
    act: u32, slope: f32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // (planes, hout, wout) backward, (planes, hin, win) forward
@group(0) @binding(2) var<storage, read> aux: array<f32>;          // (planes, hin, win)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;      // (planes, hout, wout) forward, (planes, hin, win) backward

fn source(o: u32, inv: f32, size: u32) -> u32 {
    return min(u32(floor(f32(o) * inv)), size - 1u);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * 64u;
    if p.mode == 1u {
        if idx >= p.planes * p.hout * p.wout {
            return;
        }
        let plane = idx / (p.hout * p.wout);
        let oy = (idx / p.wout) % p.hout;
        let ox = idx % p.wout;
        y[idx] = x[(plane * p.hin + source(oy, p.inv_h, p.hin)) * p.win + source(ox, p.inv_w, p.win)];
        return;
    }
    if idx >= p.planes * p.hin * p.win {
        return;
    }
    let plane = idx / (p.hin * p.win);
    let iy = (idx / p.win) % p.hin;
    let ix = idx % p.win;
    // The outputs whose source is (iy, ix) lie near iy * hout / hin: scan a little beyond.
    let y0 = select(0u, iy * p.hout / p.hin - 1u, iy * p.hout / p.hin >= 1u);
    let y1 = min((iy + 1u) * p.hout / p.hin + 2u, p.hout);
    let x0 = select(0u, ix * p.wout / p.win - 1u, ix * p.wout / p.win >= 1u);
    let x1 = min((ix + 1u) * p.wout / p.win + 2u, p.wout);
    var sum = 0.0;
    for (var oy = y0; oy < y1; oy++) {
        if source(oy, p.inv_h, p.hin) != iy {
            continue;
        }
        for (var ox = x0; ox < x1; ox++) {
            if source(ox, p.inv_w, p.win) == ix {
                sum += x[(plane * p.hout + oy) * p.wout + ox];
            }
        }
    }
    if p.act != 0u {
        sum = sum * activation_grad(aux[idx], p.act, p.slope);
    }
    y[idx] = sum;
}
