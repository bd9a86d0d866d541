// bilinear.wgsl: bilinear resizing of planes of hin x win to hout x wout, separable, each
// axis described by a table the host computed (ops/bilinear.rs, `table`) with the source
// coordinates PyTorch and ONNX define (half_pixel, pytorch_half_pixel, align_corners,
// asymmetric), the height's at the start of buffer t and the width's from t[tw] on, indices
// within each table counted from its start. A table of an axis of `in` inputs and `out`
// outputs holds, as f32:
//   [4 o .. 4 o + 4)            output o's two inputs i0, i1 and their weights l0, l1
//   [4 out .. 4 out + in + 1)   input i's entries start at table[4 out + i], end at table[4 out + i + 1]
//   entries                     pairs (o, weight): the outputs input i feeds, with its weight
//
// mode 1 (forward):  y[oy, ox] = ly0 (lx0 x[iy0, ix0] + lx1 x[iy0, ix1]) + ly1 (lx0 x[iy1, ix0] + lx1 x[iy1, ix1])
// mode 2 (backward): y[iy, ix] = act'(aux[iy, ix]) * sum over the outputs (oy, ox) it feeds of
//                    wy wx x[oy, ox] (x the gradient of the forward's output, aux the stored
//                    output of the input's producer, act its activation, 0: none)

struct Params {
    planes: u32, hin: u32, win: u32, hout: u32,
    wout: u32, mode: u32, act: u32, slope: f32,
    tw: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // (planes, hin, win) forward, (planes, hout, wout) backward
@group(0) @binding(2) var<storage, read> t: array<f32>;            // (tw + 4 wout + win + 1 + 2 entries): the height's table, the width's from tw
@group(0) @binding(3) var<storage, read> aux: array<f32>;          // (planes, hin, win)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;      // (planes, hout, wout) forward, (planes, hin, win) backward

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * 64u;
    if p.mode == 1u {
        if idx >= p.planes * p.hout * p.wout {
            return;
        }
        let base = (idx / (p.hout * p.wout)) * p.hin * p.win;
        let fy = ((idx / p.wout) % p.hout) * 4u;
        let fx = (idx % p.wout) * 4u;
        let r0 = base + u32(t[fy]) * p.win;
        let r1 = base + u32(t[fy + 1u]) * p.win;
        let c0 = u32(t[p.tw + fx]);
        let c1 = u32(t[p.tw + fx + 1u]);
        let lx0 = t[p.tw + fx + 2u];
        let lx1 = t[p.tw + fx + 3u];
        y[idx] = t[fy + 2u] * (lx0 * x[r0 + c0] + lx1 * x[r0 + c1]) + t[fy + 3u] * (lx0 * x[r1 + c0] + lx1 * x[r1 + c1]);
        return;
    }
    if idx >= p.planes * p.hin * p.win {
        return;
    }
    let base = (idx / (p.hin * p.win)) * p.hout * p.wout;
    let iy = (idx / p.win) % p.hin;
    let ix = idx % p.win;
    let y0 = u32(t[4u * p.hout + iy]);
    let y1 = u32(t[4u * p.hout + iy + 1u]);
    let x0 = u32(t[p.tw + 4u * p.wout + ix]);
    let x1 = u32(t[p.tw + 4u * p.wout + ix + 1u]);
    var sum = 0.0;
    for (var e = y0; e < y1; e += 2u) {
        let row = base + u32(t[e]) * p.wout;
        var inner = 0.0;
        for (var f = x0; f < x1; f += 2u) {
            inner += t[p.tw + f + 1u] * x[row + u32(t[p.tw + f])];
        }
        sum += t[e + 1u] * inner;
    }
    if p.act != 0u {
        sum = sum * activation_grad(aux[idx], p.act, p.slope);
    }
    y[idx] = sum;
}
