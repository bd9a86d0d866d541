// pool.wgsl: max and average pooling of planes of hin x win to hout x wout: window kh x kw,
// strides (sh, sw), leading pads (pt, pl), dilations (dh, dw); positions outside the input
// are skipped (a max ignores them; an average counts them only with count_include_pad, up to
// the padded input's end, as PyTorch does).
//
// mode 1 (forward):  y[o] = max, or sum / count, over output o's window of x
// mode 2 (backward): y[i] = act'(stored[i]) * sum over the outputs o whose window holds input
//                    i of: x[o] / count(o) (average), or x[o] where i is o's maximum (max:
//                    the first maximum in row-major order, as PyTorch picks it), x the
//                    gradient of the output; stored holds the pooled input (its producer's
//                    output), which a max reads again to find each window's maximum

struct Params {
    planes: u32, hin: u32, win: u32, hout: u32,
    wout: u32, kh: u32, kw: u32, sh: u32,
    sw: u32, pt: u32, pl: u32, dh: u32,
    dw: u32, max: u32, include_pad: u32, mode: u32,
    act: u32, slope: f32, _p0: u32, _p1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // (planes, hin, win) forward, (planes, hout, wout) backward
@group(0) @binding(2) var<storage, read> stored: array<f32>;       // (planes, hin, win)
@group(0) @binding(3) var<storage, read_write> y: array<f32>;      // (planes, hout, wout) forward, (planes, hin, win) backward

// The divisor of output (oy, ox)'s average.
fn count(oy: u32, ox: u32) -> f32 {
    let y0 = i32(oy * p.sh) - i32(p.pt);
    let x0 = i32(ox * p.sw) - i32(p.pl);
    if p.include_pad == 1u {
        let y1 = min(y0 + i32(p.kh), i32(p.hin + p.pt));
        let x1 = min(x0 + i32(p.kw), i32(p.win + p.pl));
        return f32((y1 - y0) * (x1 - x0));
    }
    let y1 = min(y0 + i32(p.kh), i32(p.hin));
    let x1 = min(x0 + i32(p.kw), i32(p.win));
    return f32((y1 - max(y0, 0)) * (x1 - max(x0, 0)));
}

// The flat index within its plane of output (oy, ox)'s maximum over plane `base` of `stored`
// (forward: of x).
fn argmax(src_is_x: bool, base: u32, oy: u32, ox: u32) -> u32 {
    var best = -1.0;
    var at = 0xffffffffu;
    for (var ky = 0u; ky < p.kh; ky++) {
        let iy = i32(oy * p.sh + ky * p.dh) - i32(p.pt);
        if iy < 0 || iy >= i32(p.hin) {
            continue;
        }
        for (var kx = 0u; kx < p.kw; kx++) {
            let ix = i32(ox * p.sw + kx * p.dw) - i32(p.pl);
            if ix < 0 || ix >= i32(p.win) {
                continue;
            }
            let k = u32(iy) * p.win + u32(ix);
            let v = select(stored[base + k], x[base + k], src_is_x);
            if at == 0xffffffffu || v > best || v != v {
                best = v;
                at = k;
            }
        }
    }
    return at;
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
        let base = plane * p.hin * p.win;
        if p.max == 1u {
            let at = argmax(true, base, oy, ox);
            y[idx] = x[base + at];
            return;
        }
        var sum = 0.0;
        for (var ky = 0u; ky < p.kh; ky++) {
            let iy = i32(oy * p.sh + ky * p.dh) - i32(p.pt);
            if iy < 0 || iy >= i32(p.hin) {
                continue;
            }
            for (var kx = 0u; kx < p.kw; kx++) {
                let ix = i32(ox * p.sw + kx * p.dw) - i32(p.pl);
                if ix >= 0 && ix < i32(p.win) {
                    sum += x[base + u32(iy) * p.win + u32(ix)];
                }
            }
        }
        y[idx] = sum / count(oy, ox);
        return;
    }
    if idx >= p.planes * p.hin * p.win {
        return;
    }
    let plane = idx / (p.hin * p.win);
    let iy = (idx / p.win) % p.hin;
    let ix = idx % p.win;
    let k_here = iy * p.win + ix;
    var sum = 0.0;
    for (var ky = 0u; ky < p.kh; ky++) {
        let ty = i32(iy + p.pt) - i32(ky * p.dh);
        if ty < 0 || ty % i32(p.sh) != 0 || ty / i32(p.sh) >= i32(p.hout) {
            continue;
        }
        let oy = u32(ty) / p.sh;
        for (var kx = 0u; kx < p.kw; kx++) {
            let tx = i32(ix + p.pl) - i32(kx * p.dw);
            if tx < 0 || tx % i32(p.sw) != 0 || tx / i32(p.sw) >= i32(p.wout) {
                continue;
            }
            let ox = u32(tx) / p.sw;
            let g = x[(plane * p.hout + oy) * p.wout + ox];
            if p.max == 1u {
                if argmax(false, plane * p.hin * p.win, oy, ox) == k_here {
                    sum += g;
                }
            } else {
                sum += g / count(oy, ox);
            }
        }
    }
    if p.act != 0u {
        sum = sum * activation_grad(stored[idx], p.act, p.slope);
    }
    y[idx] = sum;
}
