//! The small ops (seed gradient, record, noise update, column mean and covariance) on the GPU
//! against their CPU twins and, for the covariance, an independent f64 computation.

use crate::common::ops::*;
use gan_bias::backend::Backend;
use gan_bias::backend::cpu::CpuBackend;

#[test]
fn seed_grad_gpu_matches_cpu() {
    on_each_gpu(|| {
        let mut rng = Rng::new(6);
        let mut worst = Worst::default();
        // (rows of the batch, features, rows per target, targets of the slots, row0, real rows)
        type Case = (usize, usize, usize, &'static [usize], usize, usize);
        let cases: [Case; 5] = [
            (7, 5, 7, &[3], 0, 7),
            (1, 1, 1, &[0], 0, 1),
            (13, 40, 6, &[39, 0, 17], 5, 13),
            (9, 3, 4, &[2, 0, 1], 3, 6),
            (3, 2, 3, &[1], 0, 0),
        ];
        for (rows, features, per_target, targets, row0, real) in cases {
            let mut p = Program::default();
            // Longer than needed: the tail must stay as it was.
            let out = p.buffer("seed", rows * features + 5);
            let slots = p.constant("targets", targets.iter().map(|&t| t as f32).collect());
            let scale = 1.0 / rows as f32;
            p.push(Phase::Step, Op::SeedGrad(SeedGrad { rows, features, scale, rows_per_target: per_target, targets: slots, out }));
            let garbage = rng.vec(rows * features + 5, 10.0);
            let init = vec![(out, garbage.clone())];
            let s = params(0, row0, real, 1);
            let cpu = run_once(&mut CpuBackend::new(), &p, &init, s, &[out]).remove(0);
            let gpu = with_gpu(|g| run_once(g, &p, &init, s, &[out])).remove(0);
            // Row r follows the target of its slot; padding rows (r >= real) are 0.
            let mut want = garbage;
            for (i, v) in want[..rows * features].iter_mut().enumerate() {
                let r = i / features;
                let live = r < real && i % features == targets[(row0 + r) / per_target];
                *v = if live { scale } else { 0.0 };
            }
            let what = format!("seed_grad rows {rows} features {features} targets {targets:?} row0 {row0}");
            assert_eq!(cpu, want, "cpu {what}");
            worst = worst.max(gpu_matches_cpu(&what, &gpu, &cpu));
        }
        report("seed_grad", worst);
    });
}

/// `rows` global rows cut into batches of `capacity` rows: the (row0, rows) of each, the
/// last one short.
fn batches(rows: usize, capacity: usize) -> Vec<(usize, usize)> {
    (0..rows).step_by(capacity).map(|row0| (row0, capacity.min(rows - row0))).collect()
}

#[test]
fn record_gpu_matches_cpu() {
    on_each_gpu(|| {
        let mut rng = Rng::new(7);
        // Two targets' slots of 2n rows each.
        let (n, steps, features, capacity, slots) = (5, 3, 7, 4, 2);
        let cuts = batches(slots * 2 * n, capacity);
        assert_eq!(cuts, [(0, 4), (4, 4), (8, 4), (12, 4), (16, 4)]);
        let mut p = Program::default();
        let logits = p.buffer("logits", capacity * features);
        let start = p.buffer("start", capacity * features);
        let history = p.buffer("history", slots * 2 * steps * n * features);
        let rec = Record { n, steps, slots, features, capacity, logits, start, history };
        // History layout (slots, 2, steps, n, features): global row g is image g % n of slot
        // g / 2n, going up when (g / n) is even, down when odd.
        let history_at = |g: usize, step: usize, f: usize| {
            let (slot, dir, image) = (g / (2 * n), (g / n) % 2, g % n);
            (((slot * 2 + dir) * steps + step) * n + image) * features + f
        };
        for g in 0..slots * 2 * n {
            for step in 0..steps {
                for f in 0..features {
                    assert_eq!(rec.history_index(g, step, steps, f), history_at(g, step, f));
                }
            }
        }
        p.push(Phase::Step, Op::Record(rec.clone()));
        let start_init = rng.vec(capacity * features, 10.0);
        let history_init = rng.vec(slots * 2 * steps * n * features, 10.0);
        let mut cpu = CpuBackend::new();
        cpu.load(&p).unwrap();
        let mut worst = Worst::default();
        let mut want_history = history_init.clone();
        with_gpu(|gpu| {
            gpu.load(&p).unwrap();
            let backends: [&mut dyn Backend; 2] = [&mut cpu, gpu];
            for b in backends {
                b.write(start, &start_init).unwrap();
                b.write(history, &history_init).unwrap();
            }
            for &(row0, rows) in &cuts {
                let mut want_start = vec![0.0f32; capacity * features];
                for step in 0..steps {
                    let y = rng.vec(capacity * features, 3.0);
                    if step == 0 {
                        want_start = y.clone();
                    }
                    for r in 0..rows {
                        for f in 0..features {
                            let i = r * features + f;
                            want_history[history_at(row0 + r, step, f)] = y[i] - want_start[i];
                        }
                    }
                    let mut outs = Vec::new();
                    for b in [&mut cpu as &mut dyn Backend, gpu] {
                        b.write(logits, &y).unwrap();
                        b.run(Phase::Step, params(step, row0, rows, steps)).unwrap();
                        outs.push((b.read(start).unwrap(), b.read(history).unwrap()));
                    }
                    let [(cs, ch), (gs, gh)] = <[_; 2]>::try_from(outs).ok().unwrap();
                    let what = format!("record row0 {row0} rows {rows} step {step}");
                    // Rows past `rows` are padding: their start is left alone.
                    let live = rows * features;
                    assert_eq!(cs[..live], want_start[..live], "{what}: cpu start");
                    assert_eq!(ch, want_history, "{what}: cpu history");
                    worst = worst.max(gpu_matches_cpu(&format!("{what}: start"), &gs, &cs));
                    worst = worst.max(gpu_matches_cpu(&format!("{what}: history"), &gh, &ch));
                }
            }
        });
        // Every entry of the history was written, and step 0 recorded no change.
        for g in 0..slots * 2 * n {
            for f in 0..features {
                assert_eq!(want_history[history_at(g, 0, f)], 0.0);
            }
        }
        report("record", worst);
    });
}

fn noise_update(rule: UpdateRule) -> Worst {
    let mut rng = Rng::new(8);
    // Two targets' slots of 2n rows: up, down, up, down.
    let (n, steps, zdim, capacity) = (5, 3, 7, 4);
    let cuts = batches(2 * 2 * n, capacity);
    let mut p = Program::default();
    let grad = p.buffer("grad", capacity * zdim);
    let acc = p.buffer("acc", capacity * zdim);
    let z = p.buffer("z", capacity * zdim);
    p.push(Phase::Step, Op::NoiseUpdate(NoiseUpdate { n, zdim, capacity, rule, grad, acc, z }));
    let mut cpu = CpuBackend::new();
    cpu.load(&p).unwrap();
    let mut worst = Worst::default();
    with_gpu(|gpu| {
        gpu.load(&p).unwrap();
        for &(row0, rows) in &cuts {
            let z0 = rng.vec(capacity * zdim, 2.0);
            let acc0 = if rule == UpdateRule::Notebook { vec![0.0; capacity * zdim] } else { rng.vec(capacity * zdim, 1.0) };
            for b in [&mut cpu as &mut dyn Backend, gpu] {
                b.write(z, &z0).unwrap();
                b.write(acc, &acc0).unwrap();
            }
            let (mut want_z, mut want_acc) = (z0.clone(), acc0.clone());
            for step in 0..steps {
                let g = rng.vec(capacity * zdim, 1.0);
                for r in 0..rows {
                    let sign = if ((row0 + r) / n) % 2 == 0 { 1.0 } else { -1.0 };
                    for c in 0..zdim {
                        let i = r * zdim + c;
                        let delta = match rule {
                            UpdateRule::Notebook => {
                                want_acc[i] += g[i];
                                want_acc[i]
                            }
                            UpdateRule::Sgd => g[i],
                        };
                        want_z[i] += sign * (delta / steps as f32);
                    }
                }
                let mut outs = Vec::new();
                for b in [&mut cpu as &mut dyn Backend, gpu] {
                    b.write(grad, &g).unwrap();
                    b.run(Phase::Step, params(step, row0, rows, steps)).unwrap();
                    outs.push((b.read(z).unwrap(), b.read(acc).unwrap()));
                }
                let [(cz, ca), (gz, ga)] = <[_; 2]>::try_from(outs).ok().unwrap();
                let what = format!("noise_update {rule:?} row0 {row0} rows {rows} step {step}");
                assert_close(&format!("{what}: cpu z"), &cz, &want_z, 1e-6, 1e-6);
                assert_close(&format!("{what}: cpu acc"), &ca, &want_acc, 1e-6, 1e-6);
                // Padding rows are left alone.
                assert_eq!(cz[rows * zdim..], z0[rows * zdim..], "{what}: padding rows of z moved");
                worst = worst.max(gpu_matches_cpu(&format!("{what}: z"), &gz, &cz));
                worst = worst.max(gpu_matches_cpu(&format!("{what}: acc"), &ga, &ca));
            }
        }
    });
    worst
}

#[test]
fn noise_update_gpu_matches_cpu() {
    on_each_gpu(|| {
        let notebook = noise_update(UpdateRule::Notebook);
        let sgd = noise_update(UpdateRule::Sgd);
        report("noise_update notebook", notebook);
        report("noise_update sgd", sgd);
    });
}

/// np.cov in f64, features as variables, ddof 1.
fn cov64(x: &[f32], rows: usize, features: usize) -> (Vec<f64>, Vec<f64>) {
    let mean: Vec<f64> = (0..features).map(|j| (0..rows).map(|r| x[r * features + j] as f64).sum::<f64>() / rows as f64).collect();
    let mut cov = vec![0.0; features * features];
    for i in 0..features {
        for j in 0..features {
            let s: f64 = (0..rows).map(|r| (x[r * features + i] as f64 - mean[i]) * (x[r * features + j] as f64 - mean[j])).sum();
            cov[i * features + j] = s / (rows - 1) as f64;
        }
    }
    (mean, cov)
}

#[test]
fn column_mean_and_covariance_gpu_match_cpu_and_f64() {
    on_each_gpu(|| {
        let mut rng = Rng::new(9);
        let mut worst_mean = Worst::default();
        let mut worst_cov = Worst::default();
        for (rows, features) in [(601, 7), (2, 3), (256, 1), (257, 5), (1000, 67)] {
            // Correlated columns with offsets and scales of different sizes.
            let latent = 3;
            let mix: Vec<f32> = rng.vec(features * latent, 1.0);
            let offset: Vec<f32> = rng.vec(features, 5.0);
            let scale: Vec<f32> = (0..features).map(|j| 0.1 + (j % 4) as f32).collect();
            let mut x = vec![0.0f32; rows * features];
            for r in 0..rows {
                let l: Vec<f32> = (0..latent).map(|_| rng.normal()).collect();
                for j in 0..features {
                    let v: f32 = (0..latent).map(|a| mix[j * latent + a] * l[a]).sum::<f32>() + 0.3 * rng.normal();
                    x[r * features + j] = offset[j] + scale[j] * v;
                }
            }
            // The changes are the second of two slots' blocks: the first one's must not count.
            let mut p = Program::default();
            let mut blocks = rng.vec(rows * features, 50.0);
            blocks.extend_from_slice(&x);
            let xb = p.constant("changes", blocks);
            let mean = p.buffer("mean", features);
            let cov = p.buffer("cov", features * features);
            let args = CovArgs { rows_per_step: rows, steps: 1, slots: 2, features, x: xb, mean, cov };
            p.push(Phase::Step, Op::ColumnMean(ColumnMean(args.clone())));
            p.push(Phase::Step, Op::Covariance(Covariance(args)));
            let init = vec![(mean, rng.vec(features, 9.0)), (cov, rng.vec(features * features, 9.0))];
            // The second slot's first global row is `rows` (its rows per step, times one step).
            let cpu = run_once(&mut CpuBackend::new(), &p, &init, params(0, rows, rows, 1), &[mean, cov]);
            let gpu = with_gpu(|g| run_once(g, &p, &init, params(0, rows, rows, 1), &[mean, cov]));
            let what = format!("{rows} rows x {features} features");
            worst_mean = worst_mean.max(gpu_matches_cpu(&format!("column_mean {what}"), &gpu[0], &cpu[0]));
            worst_cov = worst_cov.max(gpu_matches_cpu(&format!("covariance {what}"), &gpu[1], &cpu[1]));
            // The CPU twin against an independent f64 computation.
            let (m64, c64) = cov64(&x, rows, features);
            let m64: Vec<f32> = m64.iter().map(|&v| v as f32).collect();
            let c64: Vec<f32> = c64.iter().map(|&v| v as f32).collect();
            assert_close(&format!("cpu column_mean vs f64, {what}"), &cpu[0], &m64, 1e-5, 1e-6 * max_abs(&m64));
            assert_close(&format!("cpu covariance vs f64, {what}"), &cpu[1], &c64, 1e-4, 1e-5 * max_abs(&c64));
            // Symmetric, as a covariance is.
            for i in 0..features {
                for j in 0..features {
                    assert_eq!(cpu[1][i * features + j], cpu[1][j * features + i], "{what}: cpu covariance not symmetric");
                }
            }
        }
        report("column_mean", worst_mean);
        report("covariance", worst_cov);
    });
}

/// `affine`, forward and backward, every activation, with and without scale and shift, on
/// shapes that are multiples of no workgroup: the CPU twin against the definition, the GPU
/// against the twin.
#[test]
fn affine_gpu_matches_cpu_and_its_definition() {
    use gan_bias::ops::affine::Affine;
    on_each_gpu(|| {
        let mut rng = Rng::new(11);
        let mut worst = Worst::default();
        // (rows, channels, spatial, repeats of channels x spatial per row)
        for (rows, channels, spatial, reps) in [(3, 5, 7, 1), (2, 1, 13, 3), (7, 11, 1, 2), (1, 3, 70, 1)] {
            let row_len = channels * spatial * reps;
            let n = rows * row_len;
            for act in [Act::Identity, Act::Relu, Act::LeakyRelu(0.3), Act::Tanh, Act::Sigmoid] {
                for (has_scale, has_shift, backward) in
                    [(true, true, false), (false, true, false), (true, false, false), (true, false, true), (false, false, true)]
                {
                    let mut p = Program::default();
                    let x = p.buffer("x", n);
                    let y = p.buffer("y", n + 3);
                    let scale_v = rng.vec(channels, 2.0);
                    let shift_v = rng.vec(channels, 1.0);
                    let aux_v: Vec<f32> = rng.vec(n, 1.0).iter().map(|v| v.tanh()).collect();
                    let scale = has_scale.then(|| p.constant("scale", scale_v.clone()));
                    let shift = (has_shift && !backward).then(|| p.constant("shift", shift_v.clone()));
                    let aux = (backward && act != Act::Identity).then(|| p.constant("aux", aux_v.clone()));
                    let epilogue = if backward { Epilogue::GradMask(act) } else { Epilogue::Forward(act) };
                    let op = Affine {
                        label: "affine".into(),
                        rows,
                        row_len,
                        channels,
                        spatial,
                        input: x,
                        scale,
                        shift,
                        aux,
                        output: y,
                        epilogue,
                    };
                    p.push(Phase::Step, Op::Affine(op));
                    p.validate().unwrap();
                    let xv = rng.vec(n, 2.0);
                    let init = vec![(x, xv.clone()), (y, vec![7.0; n + 3])];
                    let s = params(0, 0, rows, 1);
                    let cpu = run_once(&mut CpuBackend::new(), &p, &init, s, &[y]).remove(0);
                    let mut want = vec![7.0f32; n + 3];
                    for i in 0..n {
                        let c = (i / spatial) % channels;
                        let v = if has_scale { xv[i] * scale_v[c] } else { xv[i] };
                        want[i] = if backward {
                            v * if act == Act::Identity { 1.0 } else { act.grad_from_output(aux_v[i]) }
                        } else {
                            act.apply(if has_shift { v + shift_v[c] } else { v })
                        };
                    }
                    let what = format!(
                        "affine {rows}x({channels}x{spatial}x{reps}) {act:?} scale {has_scale} shift {has_shift} backward {backward}"
                    );
                    assert_eq!(cpu, want, "cpu {what}");
                    let gpu = with_gpu(|g| run_once(g, &p, &init, s, &[y])).remove(0);
                    worst = worst.max(gpu_matches_cpu(&what, &gpu, &cpu));
                }
            }
        }
        report("affine", worst);
    });
}

/// `resize` (nearest, asymmetric, floor), forward and backward, at integer and other scales,
/// up and down: the CPU twin against the definition (each output copies its source; each
/// input sums the outputs it was copied to), the GPU against the twin.
#[test]
fn resize_gpu_matches_cpu_and_its_definition() {
    use gan_bias::ops::resize::{Resize, source};
    on_each_gpu(|| {
        let mut rng = Rng::new(12);
        let mut worst = Worst::default();
        // (planes, hin, win, hout, wout, scale h, scale w)
        for (planes, hin, win, hout, wout, sh, sw) in [
            (3, 4, 5, 8, 10, 2.0f64, 2.0f64),
            (2, 3, 7, 7, 17, 2.5, 2.5),
            (5, 9, 6, 4, 3, 0.5, 0.5),
            (1, 5, 5, 15, 5, 3.0, 1.0),
            (7, 1, 1, 3, 4, 3.0, 4.0),
        ] {
            let inv = [(1.0 / sh) as f32, (1.0 / sw) as f32];
            for (backward, act) in [(false, Act::Identity), (true, Act::Identity), (true, Act::Relu), (true, Act::Tanh)] {
                let (small, big) = (planes * hin * win, planes * hout * wout);
                let (n_in, n_out) = if backward { (big, small) } else { (small, big) };
                let mut p = Program::default();
                let x = p.buffer("x", n_in);
                let y = p.buffer("y", n_out);
                let aux_v: Vec<f32> = rng.vec(small, 1.0).iter().map(|v| v.tanh()).collect();
                let aux = (backward && act != Act::Identity).then(|| p.constant("aux", aux_v.clone()));
                let op = Resize { label: "resize".into(), planes, hin, win, hout, wout, inv, input: x, aux, output: y, backward, act };
                p.push(Phase::Step, Op::Resize(op));
                p.validate().unwrap();
                let xv = rng.vec(n_in, 2.0);
                let init = vec![(x, xv.clone())];
                let s = params(0, 0, 1, 1);
                let cpu = run_once(&mut CpuBackend::new(), &p, &init, s, &[y]).remove(0);
                let mut want = vec![0.0f32; n_out];
                for pl in 0..planes {
                    for oy in 0..hout {
                        for ox in 0..wout {
                            let (iy, ix) = (source(oy, inv[0], hin), source(ox, inv[1], win));
                            assert_eq!(
                                (iy, ix),
                                (((oy as f64 / sh).floor() as usize).min(hin - 1), ((ox as f64 / sw).floor() as usize).min(win - 1))
                            );
                            let (i, o) = ((pl * hin + iy) * win + ix, (pl * hout + oy) * wout + ox);
                            if backward {
                                want[i] += xv[o];
                            } else {
                                want[o] = xv[i];
                            }
                        }
                    }
                }
                if backward && act != Act::Identity {
                    for (w, a) in want.iter_mut().zip(&aux_v) {
                        *w *= act.grad_from_output(*a);
                    }
                }
                let what = format!("resize {planes}x{hin}x{win} -> {hout}x{wout} backward {backward} {act:?}");
                assert_eq!(cpu, want, "cpu {what}");
                let gpu = with_gpu(|g| run_once(g, &p, &init, s, &[y])).remove(0);
                worst = worst.max(gpu_matches_cpu(&what, &gpu, &cpu));
            }
        }
        report("resize", worst);
    });
}

/// `add`, forward with every activation and backward with and without a derivative: the CPU
/// twin against the definition, the GPU against the twin.
#[test]
fn add_gpu_matches_cpu_and_its_definition() {
    use gan_bias::ops::add::Add;
    on_each_gpu(|| {
        let mut rng = Rng::new(13);
        let mut worst = Worst::default();
        for len in [1, 63, 65, 1000] {
            for (backward, act) in [
                (false, Act::Identity),
                (false, Act::Relu),
                (false, Act::Tanh),
                (true, Act::Identity),
                (true, Act::LeakyRelu(0.2)),
                (true, Act::Tanh),
            ] {
                let mut p = Program::default();
                let (a, b, y) = (p.buffer("a", len), p.buffer("b", len), p.buffer("y", len));
                let aux_v: Vec<f32> = rng.vec(len, 1.0).iter().map(|v| v.tanh()).collect();
                let aux = (backward && act != Act::Identity).then(|| p.constant("aux", aux_v.clone()));
                let epilogue = if backward { Epilogue::GradMask(act) } else { Epilogue::Forward(act) };
                p.push(Phase::Step, Op::Add(Add { label: "add".into(), len, a, b, aux, output: y, epilogue }));
                p.validate().unwrap();
                let (av, bv) = (rng.vec(len, 2.0), rng.vec(len, 2.0));
                let init = vec![(a, av.clone()), (b, bv.clone())];
                let s = params(0, 0, 1, 1);
                let cpu = run_once(&mut CpuBackend::new(), &p, &init, s, &[y]).remove(0);
                let want: Vec<f32> = (0..len)
                    .map(|i| {
                        let v = av[i] + bv[i];
                        if !backward {
                            act.apply(v)
                        } else if act == Act::Identity {
                            v
                        } else {
                            v * act.grad_from_output(aux_v[i])
                        }
                    })
                    .collect();
                let what = format!("add {len} backward {backward} {act:?}");
                assert_eq!(cpu, want, "cpu {what}");
                let gpu = with_gpu(|g| run_once(g, &p, &init, s, &[y])).remove(0);
                worst = worst.max(gpu_matches_cpu(&what, &gpu, &cpu));
            }
        }
        report("add", worst);
    });
}
