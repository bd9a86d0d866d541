// seed_grad.wgsl: the gradient of mean_over_images(logits[:, target]) with respect to the
// logits, for each row its own target: scale (= 1/n, n images per direction) in the column
// of its target, 0 elsewhere. Global rows come in slots of rows_per_target rows, slot k
// following targets[k] (a feature index held as an exact f32), so one program seeds any
// targets, several at once. Padding rows (beyond s.rows) get 0 and stay where they are.

struct Params {
    rows: u32, features: u32, scale: f32, rows_per_target: u32,
}

struct Step {
    step: u32, row0: u32, rows: u32, steps: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> s: Step;
@group(0) @binding(2) var<storage, read> targets: array<f32>;      // (slots)
@group(0) @binding(3) var<storage, read_write> grad: array<f32>;   // (rows, features)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * 64u;
    if idx >= p.rows * p.features {
        return;
    }
    let local = idx / p.features;
    var v = 0.0;
    if local < s.rows {
        let target_index = u32(targets[(s.row0 + local) / p.rows_per_target]);
        v = select(0.0, p.scale, idx % p.features == target_index);
    }
    grad[idx] = v;
}
