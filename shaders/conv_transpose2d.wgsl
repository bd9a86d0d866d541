// conv_transpose2d.wgsl: 2-D transposed convolution (the adjoint of conv2d.wgsl), gathered per
// output pixel so no two invocations write the same place, as one tiled implicit GEMM per
// output phase (the loop is in conv_common.wgsl).
// Runs nn.ConvTranspose2d forward, and the input-gradient of nn.Conv2d (whose weight,
// (cout, cin, k, k), is then read as (n_in, n_out, k, k) with the roles swapped).
//
//   y[b, o, oy, ox] = finish( sum_{i, ky, kx : oy = iy*s + ky - p, ox = ix*s + kx - p}
//                              w[i, o, ky, kx] * x[b, i, iy, ix] (+ bias[o]) )
//
// Phases: output row oy is reached only by kernel rows ky = ry, ry + s, ry + 2s, ... < k, where
// ry = (oy + p) % s, from input rows iy = qy, qy - 1, qy - 2, ... (qy = (oy + p) / s); likewise
// for columns. So the s * s phases (ry, rx) are s * s independent products, each over its own
// taps only, and no tap is tested and skipped. A phase has M = n * rows * cols pixels and
// K = cin * ty * tx taps, ty = ceil((k - ry) / s) (0 when ry >= k: its pixels get the bias
// alone), in the order (i, ky, kx), the order of the CPU twin's sum.

// Params: see conv_common.wgsl.

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (n, cin, hin, win)
// @binding(2) w: the weights (cin, cout, k, k), from conv_weights_f32.wgsl or conv_weights_f16.wgsl
@group(0) @binding(3) var<storage, read> extra: array<f32>;      // (cout) the bias when has_bias == 1, or (n, cout, hout, wout) the stored activation when mode == 2
@group(0) @binding(4) var<storage, read_write> y: array<f32>;    // (n, cout, hout, wout)

fn phase_count() -> u32 {
    return p.stride * p.stride;
}

fn max_pixels() -> u32 {
    return p.n * ((p.hout + p.stride - 1u) / p.stride) * ((p.wout + p.stride - 1u) / p.stride);
}

// First output row (or column) of phase r: the least o >= 0 with (o + pad) % s == r.
fn phase_first(r: u32) -> u32 {
    return (r + p.stride - p.pad % p.stride) % p.stride;
}

// Rows (or columns) of phase r out of `len`.
fn phase_len(r: u32, len: u32) -> u32 {
    let first = phase_first(r);
    return select(0u, (len - first + p.stride - 1u) / p.stride, first < len);
}

// Kernel rows (or columns) of phase r: r, r + s, ... < k.
fn phase_taps(r: u32) -> u32 {
    return select(0u, (p.k - r + p.stride - 1u) / p.stride, r < p.k);
}

fn phase_shape(phase: u32) -> Shape {
    let ry = phase / p.stride;
    let rx = phase % p.stride;
    let rows = phase_len(ry, p.hout);
    let cols = phase_len(rx, p.wout);
    let ty = phase_taps(ry);
    let tx = phase_taps(rx);
    return Shape(p.n * rows * cols, p.cin * ty * tx, p.k * p.k, rows, cols, ry, rx, ty, tx);
}

// Pixel m = (b, row a, column c of the phase) is output (oy, ox) = (first + a*s, first + c*s),
// and reads input rows qy - jy and columns qx - jx.
fn pixel(s: Shape, m: u32) -> vec4<i32> {
    let per_image = s.rows * s.cols;
    let b = m / per_image;
    let oy = phase_first(s.ry) + ((m % per_image) / s.cols) * p.stride;
    let ox = phase_first(s.rx) + (m % s.cols) * p.stride;
    return vec4<i32>(
        i32(b * p.cin * p.hin * p.win),
        i32((oy + p.pad) / p.stride),
        i32((ox + p.pad) / p.stride),
        i32(b * p.cout * p.hout * p.wout + oy * p.wout + ox),
    );
}

// Tap t = (i, jy, jx): kernel row ky = ry + jy*s, column kx = rx + jx*s.
fn tap(s: Shape, t: u32) -> vec4<i32> {
    let per_channel = s.ty * s.tx;
    let i = t / per_channel;
    let jy = (t % per_channel) / s.tx;
    let jx = t % s.tx;
    let ky = s.ry + jy * p.stride;
    let kx = s.rx + jx * p.stride;
    return vec4<i32>(i32(i * p.hin * p.win), -i32(jy), -i32(jx), i32(i * p.cout * p.k * p.k + ky * p.k + kx));
}

@compute @workgroup_size(TM / RM * (TN / RN))
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    conv_tiled(workgroup_index(wid, groups), lid);
}
