// noise_update.wgsl: one step of the latent noise along the target's gradient.
//
// mode 0 (notebook): acc += grad; z += d * acc / steps   (the notebook never zeroes the noise's
//                    gradient, so it accumulates across steps)
// mode 1 (sgd):      z += d * grad / steps
// (steps: the run's step count, a step parameter)
// d = +1 for the first n global rows of each slot of 2n (the additive direction), -1 for the
// others.

struct Params {
    n: u32, zdim: u32, mode: u32, _p0: u32,
}

struct Step {
    step: u32, row0: u32, rows: u32, steps: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> s: Step;
@group(0) @binding(2) var<storage, read> grad: array<f32>;        // (batch rows, zdim)
@group(0) @binding(3) var<storage, read_write> acc: array<f32>;   // (batch rows, zdim)
@group(0) @binding(4) var<storage, read_write> z: array<f32>;     // (batch rows, zdim)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * 64u;
    let local = idx / p.zdim;
    if local >= s.rows {
        return;
    }
    var delta = grad[idx];
    if p.mode == 0u {
        delta = acc[idx] + delta;
        acc[idx] = delta;
    }
    delta = delta / f32(s.steps);
    if ((s.row0 + local) / p.n) % 2u == 0u {
        z[idx] = z[idx] + delta;
    } else {
        z[idx] = z[idx] - delta;
    }
}
