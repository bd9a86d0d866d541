// seed_grad.wgsl: the gradient of mean_over_images(logits[:, target]) with respect to the
// logits: scale (= 1/n, n images per direction) in the target column, 0 elsewhere. The target
// is a step parameter, so one program seeds any target.

struct Params {
    rows: u32, features: u32, scale: f32, _p0: u32,
}

struct Step {
    step: u32, row0: u32, rows: u32, column: u32,
    steps: u32, _p0: u32, _p1: u32, _p2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> s: Step;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;   // (rows, features)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * 64u;
    if idx >= p.rows * p.features {
        return;
    }
    grad[idx] = select(0.0, p.scale, idx % p.features == s.column);
}
