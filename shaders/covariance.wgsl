// covariance.wgsl: the covariance of the recorded changes, features as variables, ddof 1
// (numpy's np.cov(X.T)), in two entry points run one after the other:
//   column_mean: mean[j]   = sum_r x[r, j] / rows
//   covariance:  cov[i, j] = sum_r (x[r, i] - mean[i]) (x[r, j] - mean[j]) / (rows - 1)
// Sums run in blocks of 256 rows, each block's partial sum added to the total, which keeps
// the f32 rounding error small for tens of thousands of rows.

// The rows are those of the run: rows_per_step (2 n, both directions) times the run's step
// count, a step parameter, of one slot (one target of those run together): the history holds
// a block of 2 n x steps rows per slot, and the slot's block starts at its first global row
// s.row0 times steps rows.

struct Params {
    rows_per_step: u32, features: u32, _p0: u32, _p1: u32,
}

struct Step {
    step: u32, row0: u32, rows: u32, steps: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> s: Step;
@group(0) @binding(2) var<storage, read> x: array<f32>;             // (slots, rows, features)
@group(0) @binding(3) var<storage, read_write> mean: array<f32>;    // (features)
@group(0) @binding(4) var<storage, read_write> cov: array<f32>;     // (features, features)

const BLOCK: u32 = 256u;

@compute @workgroup_size(64)
fn column_mean(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let j = gid.x + gid.y * groups.x * 64u;
    if j >= p.features {
        return;
    }
    let rows = p.rows_per_step * s.steps;
    let base = s.row0 * s.steps * p.features;
    var total = 0.0;
    for (var r0 = 0u; r0 < rows; r0 += BLOCK) {
        var part = 0.0;
        for (var r = r0; r < min(r0 + BLOCK, rows); r++) {
            part += x[base + r * p.features + j];
        }
        total += part;
    }
    mean[j] = total / f32(rows);
}

@compute @workgroup_size(64)
fn covariance(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let idx = gid.x + gid.y * groups.x * 64u;
    if idx >= p.features * p.features {
        return;
    }
    let i = idx / p.features;
    let j = idx % p.features;
    let mi = mean[i];
    let mj = mean[j];
    let rows = p.rows_per_step * s.steps;
    let base = s.row0 * s.steps * p.features;
    var total = 0.0;
    for (var r0 = 0u; r0 < rows; r0 += BLOCK) {
        var part = 0.0;
        for (var r = r0; r < min(r0 + BLOCK, rows); r++) {
            part += (x[base + r * p.features + i] - mi) * (x[base + r * p.features + j] - mj);
        }
        total += part;
    }
    cov[idx] = total / f32(rows - 1u);
}
