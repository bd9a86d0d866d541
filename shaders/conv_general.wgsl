// conv_general.wgsl: a 2-D convolution or transposed convolution of any shape, one
// invocation per output value, looping over its taps: kernel kh x kw, strides (sh, sw),
// leading pads (pt, pl), dilations (dh, dw), `group` groups. The tiled kernels
// (conv2d.wgsl, conv_transpose2d.wgsl) serve square kernels of one stride and padding; this
// one everything else, and each is the other's input-gradient with the same weights.
//
// transpose 0: y[r, co, oy, ox] = sum over j < cin / group, ky, kx of
//              w[co, j, ky, kx] * x[r, g * cin / group + j, oy * sh - pt + ky * dh, ox * sw - pl + kx * dw]
//              (g = co / (cout / group); w as Conv's weight (cout, cin / group, kh, kw))
// transpose 1: y[r, co, oy, ox] = sum over j < cin / group, ky, kx with iy * sh - pt + ky * dh = oy
//              (and the same for x) of w[ci, co % (cout / group), ky, kx] * x[r, ci, iy, ix],
//              ci = g * cin / group + j (w as ConvTranspose's weight (cin, cout / group, kh, kw))
// Taps outside the input read 0.
//
// mode 1 (forward):  y = act(sum + bias[co]) (bias 0 when has_bias is 0)
// mode 2 (backward): y = sum * act'(aux)
// The one operand binding `extra` holds the bias going forward and the stored activation aux
// going backward.

struct Params {
    n: u32, cin: u32, hin: u32, win: u32,
    cout: u32, hout: u32, wout: u32, kh: u32,
    kw: u32, sh: u32, sw: u32, pt: i32,
    pl: i32, dh: u32, dw: u32, group: u32,
    transpose: u32, has_bias: u32, mode: u32, act: u32,
    slope: f32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;            // (n, cin, hin, win)
@group(0) @binding(2) var<storage, read> w: array<f32>;            // (cout, cin / group, kh, kw) or (cin, cout / group, kh, kw)
@group(0) @binding(3) var<storage, read> extra: array<f32>;        // (cout) bias forward, (n, cout, hout, wout) aux backward
@group(0) @binding(4) var<storage, read_write> y: array<f32>;      // (n, cout, hout, wout)

// The input index a tap reads along one axis, or -1 where it reads nothing.
fn tap(o: u32, k: u32, stride: u32, pad: i32, dil: u32, size: u32, transpose: bool) -> i32 {
    if !transpose {
        let i = i32(o * stride + k * dil) - pad;
        return select(-1, i, i >= 0 && i < i32(size));
    }
    let t = i32(o) + pad - i32(k * dil);
    if t < 0 || t % i32(stride) != 0 {
        return -1;
    }
    let i = t / i32(stride);
    return select(-1, i, i < i32(size));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * 64u;
    if idx >= p.n * p.cout * p.hout * p.wout {
        return;
    }
    let ox = idx % p.wout;
    let oy = (idx / p.wout) % p.hout;
    let co = (idx / (p.wout * p.hout)) % p.cout;
    let r = idx / (p.wout * p.hout * p.cout);
    let cin_g = p.cin / p.group;
    let cout_g = p.cout / p.group;
    let g = co / cout_g;
    let transpose = p.transpose == 1u;
    var sum = 0.0;
    for (var j = 0u; j < cin_g; j++) {
        let ci = g * cin_g + j;
        let xbase = (r * p.cin + ci) * p.hin * p.win;
        let wbase = select((co * cin_g + j) * p.kh * p.kw, (ci * cout_g + co % cout_g) * p.kh * p.kw, transpose);
        for (var ky = 0u; ky < p.kh; ky++) {
            let iy = tap(oy, ky, p.sh, p.pt, p.dh, p.hin, transpose);
            if iy < 0 {
                continue;
            }
            for (var kx = 0u; kx < p.kw; kx++) {
                let ix = tap(ox, kx, p.sw, p.pl, p.dw, p.win, transpose);
                if ix >= 0 {
                    sum += w[wbase + ky * p.kw + kx] * x[xbase + u32(iy) * p.win + u32(ix)];
                }
            }
        }
    }
    if p.mode == 2u {
        if p.act != 0u {
            sum = sum * activation_grad(extra[idx], p.act, p.slope);
        }
        y[idx] = sum;
        return;
    }
    if p.has_bias == 1u {
        sum += extra[co];
    }
    y[idx] = activate(sum, p.act, p.slope);
}
