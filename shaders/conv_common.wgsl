// conv_common.wgsl: what the two convolution kernels share, prepended to conv2d.wgsl and
// conv_transpose2d.wgsl when they are loaded: their parameters, the tiled implicit-GEMM loop,
// and the epilogue every convolution ends with. Between the two comes one of
// conv_weights_f32.wgsl and conv_weights_f16.wgsl, which declares the weights binding w and
// `fn weight(i) -> f32`, the one function that reads it.
//
// A convolution runs as one matrix product per output phase (conv2d has one phase, a
// transposed convolution of stride s has s * s, see conv_transpose2d.wgsl):
//
//   y[m, o] = finish( sum_t A[m, t] * B[t, o] (+ bias[o]) )
//
//   m < M   an output pixel (image, row, column) of the phase
//   o < N   an output channel, N = cout
//   t < K   a tap (input channel, kernel row, kernel column) that reaches the phase's pixels
//
// A (the patch matrix) is never stored: A[m, t] = x[image, channel, py + ty, px + tx], 0 outside
// the input, where pixel m gives (py, px) and tap t gives (channel, ty, tx). B is the weight
// tensor read in place: B[t, o] = weight(tw + o * w_stride). Each kernel file declares the bindings
// p, x, extra and y (w comes from the weights file), and provides
//
//   fn phase_count() -> u32                 phases of the dispatch
//   fn max_pixels() -> u32                  M of the largest phase
//   fn phase_shape(phase) -> Shape          M, K and the geometry of one phase
//   fn pixel(s, m) -> vec4<i32>             (x offset of the image, py, px, y offset of y[m, 0])
//   fn tap(s, t) -> vec4<i32>               (x offset of the channel, ty, tx, tw)
//
// Tiling: each workgroup computes a TM x TN tile of y. It walks K in slices of TK taps: the
// slice of A (TK x TM) and of B (TK x TN) is staged in workgroup memory by all invocations,
// then each invocation multiplies out its RM x RN register block (pixels x channels). TM, TN
// and TK are pipeline overrides (src/ops/tiling.rs picks them per dispatch); a workgroup has
// (TM / RM) * (TN / RN) invocations. A tile one block wide (TN == RN, for layers with few
// output channels) shares no pixel between invocations, so there A is not staged: each
// invocation reads its own pixels' values of A from x. Every load is bounds-checked, so M, N
// and K need not be multiples of the tile.
// Weights are read only as B is staged, through weight(i): f32 as loaded, or f16 widened to
// f32 (conv_weights_f16.wgsl). Workgroup memory, registers, sums and epilogue are f32 either way.

struct Params {
    n: u32, cin: u32, hin: u32, win: u32,
    cout: u32, hout: u32, wout: u32, k: u32,
    stride: u32, pad: u32, mode: u32, act: u32,
    has_bias: u32, slope: f32, _p0: u32, _p1: u32,
}

// One output phase of a convolution: the output pixels (oy, ox) with (oy + pad) % stride ==
// ry and (ox + pad) % stride == rx, and the kernel taps that reach them.
struct Shape {
    m: u32,          // pixels of the phase (M)
    k: u32,          // taps reaching them (K)
    w_stride: u32,   // distance in w between two output channels of one tap
    rows: u32,       // output rows of the phase in one image
    cols: u32,       // output columns of the phase in one image
    ry: u32,         // the phase
    rx: u32,
    ty: u32,         // kernel rows reaching it
    tx: u32,         // kernel columns reaching it
}

override TM: u32 = 64u;
override TN: u32 = 64u;
override TK: u32 = 16u;
const RM: u32 = 4u;
const RN: u32 = 4u;

// Marks a pixel past M or a tap past K: an input row no offset brings back in range.
const OUTSIDE: i32 = -1073741824;

var<workgroup> a_tile: array<vec4<f32>, TK * TM / 4u>;   // A[m0 + c, t0 + r] at r * TM + c (unused when TN == RN)
var<workgroup> b_tile: array<vec4<f32>, TK * TN / 4u>;   // B[t0 + r, n0 + c] at r * TN + c
var<workgroup> pixels: array<vec4<i32>, TM>;              // pixel(m0 + c)
var<workgroup> taps: array<vec4<i32>, TK>;                // tap(t0 + r)

// Flat index of this workgroup: counts over the adapter's limit per dimension spill into y.
fn workgroup_index(wid: vec3<u32>, groups: vec3<u32>) -> u32 {
    return wid.x + wid.y * groups.x;
}

// pixel(s, m), or for m past M a pixel whose every value of A is 0.
fn pixel_or_outside(s: Shape, m: u32) -> vec4<i32> {
    if m < s.m {
        return pixel(s, m);
    }
    return vec4<i32>(0, OUTSIDE, 0, 0);
}

// A[m, t] of pixel m and tap t: x at (py + ty, px + tx) of the tap's channel, 0 outside.
fn a_value(px: vec4<i32>, tp: vec4<i32>) -> f32 {
    let iy = px.y + tp.y;
    let ix = px.z + tp.z;
    if u32(iy) < p.hin && u32(ix) < p.win {
        return x[u32(px.x + tp.x) + u32(iy) * p.win + u32(ix)];
    }
    return 0.0;
}

// Pixel r of block bm, in the tile: blocks of RM neighbours when A is staged (each block's
// pixels one vec4 of a_tile), else strided by TM / RM.
fn block_pixel(bm: u32, r: u32) -> u32 {
    if TN == RN {
        return r * (TM / RM) + bm;
    }
    return bm * RM + r;
}

// The whole kernel: workgroup `group` computes one tile (pixels m0.., channels n0..) of one phase.
fn conv_tiled(group: u32, lid: u32) {
    let tiles_m = (max_pixels() + TM - 1u) / TM;
    let tiles_n = (p.cout + TN - 1u) / TN;
    let phase = group / (tiles_m * tiles_n);
    if phase >= phase_count() {
        return;
    }
    let s = phase_shape(phase);
    let m0 = (group % tiles_m) * TM;
    let n0 = ((group / tiles_m) % tiles_n) * TN;
    if m0 >= s.m {
        return;
    }
    let invocations = (TM / RM) * (TN / RN);
    for (var c = lid; c < TM; c += invocations) {
        pixels[c] = pixel_or_outside(s, m0 + c);
    }
    // This invocation's block: RM pixels (`block_pixel`) by channels n0 + bn * RN + (0..RN).
    let bm = lid % (TM / RM);
    let bn = lid / (TM / RM);
    // A tile one block wide (TN == RN) shares no pixel between invocations: staging A would
    // buy nothing, so each invocation reads its pixels' patches from x itself, its pixels
    // strided so that neighbouring invocations read neighbouring pixels.
    let direct = TN == RN;
    var q0 = vec4<i32>(0, OUTSIDE, 0, 0);
    var q1 = q0;
    var q2 = q0;
    var q3 = q0;
    if direct {
        q0 = pixel_or_outside(s, m0 + block_pixel(bm, 0u));
        q1 = pixel_or_outside(s, m0 + block_pixel(bm, 1u));
        q2 = pixel_or_outside(s, m0 + block_pixel(bm, 2u));
        q3 = pixel_or_outside(s, m0 + block_pixel(bm, 3u));
    }
    // acc_r: the RN channels of pixel r of the block.
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var t0 = 0u; t0 < s.k; t0 += TK) {
        // The slice's taps. (The previous slice's last reads of `taps` came before a barrier.)
        for (var r = lid; r < TK; r += invocations) {
            if t0 + r < s.k {
                taps[r] = tap(s, t0 + r);
            } else {
                taps[r] = vec4<i32>(0, OUTSIDE, 0, -1);
            }
        }
        workgroupBarrier();
        if !direct {
            for (var e = lid; e < TK * TM; e += invocations) {
                a_tile[e / 4u][e % 4u] = a_value(pixels[e % TM], taps[e / TM]);
            }
        }
        for (var e = lid; e < TK * TN; e += invocations) {
            let o = n0 + e % TN;
            let tw = taps[e / TN].w;
            var v = 0.0;
            if tw >= 0 && o < p.cout {
                v = weight(u32(tw) + o * s.w_stride);
            }
            b_tile[e / 4u][e % 4u] = v;
        }
        workgroupBarrier();
        for (var r = 0u; r < TK; r++) {
            var a: vec4<f32>;
            if direct {
                let tp = taps[r];
                a = vec4<f32>(a_value(q0, tp), a_value(q1, tp), a_value(q2, tp), a_value(q3, tp));
            } else {
                a = a_tile[(r * TM) / 4u + bm];
            }
            let b = b_tile[(r * TN) / 4u + bn];
            acc0 = fma(vec4<f32>(a.x), b, acc0);
            acc1 = fma(vec4<f32>(a.y), b, acc1);
            acc2 = fma(vec4<f32>(a.z), b, acc2);
            acc3 = fma(vec4<f32>(a.w), b, acc3);
        }
        // The next slice first writes `taps`, then waits before staging over these tiles; the
        // reads of `taps` above must be done before it does.
        if direct {
            workgroupBarrier();
        }
    }
    if s.k == 0u {
        // No tap reaches this phase: make `pixels` visible all the same.
        workgroupBarrier();
    }
    let plane = p.hout * p.wout;
    for (var r = 0u; r < RM; r++) {
        let c = block_pixel(bm, r);
        if m0 + c >= s.m {
            continue;
        }
        let out = u32(pixels[c].w);
        var acc = acc0;
        switch r {
            case 1u: { acc = acc1; }
            case 2u: { acc = acc2; }
            case 3u: { acc = acc3; }
            default: {}
        }
        for (var j = 0u; j < RN; j++) {
            let o = n0 + bn * RN + j;
            if o < p.cout {
                store(out + o * plane, o, acc[j]);
            }
        }
    }
}

// Epilogue:
// mode 1 (forward):  act(sum + bias)
// mode 2 (backward): sum * act'(aux), with aux the stored output of the activation
// act: 0 identity, 1 ReLU, 2 LeakyReLU(slope), 3 Tanh

fn finish(sum: f32, mode: u32, act: u32, slope: f32, stored: f32) -> f32 {
    if mode == 2u {
        return sum * activation_grad(stored, act, slope);
    }
    return activate(sum, act, slope);
}

// Writes y[idx] (output channel o) from its sum. `extra` is the epilogue's one operand: the
// stored activation of a backward epilogue, else the bias where there is one (a backward
// epilogue has none, so a kernel needs four storage buffers, what every adapter allows).
fn store(idx: u32, o: u32, sum: f32) {
    var v = sum;
    var stored = 0.0;
    if p.mode == 2u {
        stored = extra[idx];
    } else if p.has_bias == 1u {
        v += extra[o];
    }
    y[idx] = finish(v, p.mode, p.act, p.slope, stored);
}
