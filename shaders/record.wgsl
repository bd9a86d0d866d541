// record.wgsl: stores this step's logits, minus the starting logits, into the history.
// At step 0 the logits are the starting logits (the notebook's C(G(z0))), so they are saved
// first and that step's changes are exactly 0.
//
// Rows come in slots of 2n, one slot per target run together: global row g is image g % n of
// slot g / 2n, moving up its target's gradient when (g / n) % 2 == 0, down otherwise. History
// layout (slots, 2, steps, n, features): per slot direction-major, as the notebook stacks its
// classification history, for the run's step count s.steps; d = g / n = 2 slot + direction.

struct Params {
    n: u32, features: u32, _p0: u32, _p1: u32,
}

struct Step {
    step: u32, row0: u32, rows: u32, steps: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> s: Step;
@group(0) @binding(2) var<storage, read> logits: array<f32>;          // (batch rows, features)
@group(0) @binding(3) var<storage, read_write> start: array<f32>;     // (batch rows, features)
@group(0) @binding(4) var<storage, read_write> history: array<f32>;   // (slots, 2, s.steps, n, features)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * 64u;
    let local = idx / p.features;
    if local >= s.rows {
        return;
    }
    if s.step == 0u {
        start[idx] = logits[idx];
    }
    let g = s.row0 + local;
    let direction = g / p.n;
    let image = g % p.n;
    let f = idx % p.features;
    history[((direction * s.steps + s.step) * p.n + image) * p.features + f] = logits[idx] - start[idx];
}
