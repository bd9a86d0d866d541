//! Every op on the GPU against its CPU twin, on seeded random inputs of awkward shapes; the
//! convolutions against each other (adjoint identity); the input-gradient of whole chained
//! networks against central differences; and the shape checks every op makes before it runs.
//!
//! Run with `--nocapture` to see the worst GPU-vs-CPU differences of each op.

mod common;

use std::sync::{Mutex, OnceLock};

use common::*;
use gan_bias::backend::cpu::CpuBackend;
use gan_bias::backend::gpu::GpuBackend;
use gan_bias::backend::{Backend, BackendError};
use gan_bias::model::{ConvKind, Stage};
use gan_bias::ops::act::{Act, Epilogue};
use gan_bias::ops::conv_transpose2d::ConvTranspose;
use gan_bias::ops::conv2d::{Conv, ConvArgs, ConvDims};
use gan_bias::ops::covariance::{ColumnMean, CovArgs, Covariance};
use gan_bias::ops::noise_update::{NoiseUpdate, UpdateRule};
use gan_bias::ops::record::Record;
use gan_bias::ops::seed_grad::SeedGrad;
use gan_bias::ops::tiling::{GemmShape, TILES, Tile};
use gan_bias::ops::{BufId, Op, OpError, StepParams};
use gan_bias::probe::evaluate;
use gan_bias::program::lower::chain;
use gan_bias::program::{Phase, Program};

// ---------------------------------------------------------------------------------------------
// Helpers

/// xorshift64*: a tiny seeded generator, so every run sees the same inputs.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03 | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [-1, 1).
    fn sym(&mut self) -> f32 {
        2.0 * self.unit() - 1.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Approximately standard normal (Box-Muller).
    fn normal(&mut self) -> f32 {
        let u = (self.unit() as f64).max(1e-12);
        let v = self.unit() as f64;
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    fn vec(&mut self, len: usize, scale: f32) -> Vec<f32> {
        (0..len).map(|_| scale * self.sym()).collect()
    }
}

/// One GPU backend shared by every test of this file (opening an adapter is the slow part).
fn with_gpu<R>(f: impl FnOnce(&mut GpuBackend) -> R) -> R {
    static GPU: OnceLock<Mutex<GpuBackend>> = OnceLock::new();
    let mut gpu = GPU.get_or_init(|| Mutex::new(gpu())).lock().unwrap_or_else(|p| p.into_inner());
    f(&mut gpu)
}

/// Step `step` of a batch of `rows` rows from global row `row0`, in a run of `steps` steps
/// following `target`.
fn params(step: usize, row0: usize, rows: usize, target: usize, steps: usize) -> StepParams {
    StepParams::new(step, row0, rows, target, steps)
}

/// Loads `p`, writes `init`, runs the step phase once and reads `outs` back.
fn run_once(b: &mut dyn Backend, p: &Program, init: &[(BufId, Vec<f32>)], s: StepParams, outs: &[BufId]) -> Vec<Vec<f32>> {
    b.load(p).unwrap();
    for (id, data) in init {
        b.write(*id, data).unwrap();
    }
    b.run(Phase::Step, s).unwrap();
    outs.iter().map(|&id| b.read(id).unwrap()).collect()
}

/// The worst differences of one comparison: max |g - c| / max |c|, and the largest elementwise
/// |g - c| / |c| over elements not tiny (|c| >= 1e-3 max |c|).
#[derive(Debug, Clone, Copy, Default)]
struct Worst {
    scaled: f32,
    relative: f32,
}

impl Worst {
    fn max(self, o: Worst) -> Worst {
        Worst { scaled: self.scaled.max(o.scaled), relative: self.relative.max(o.relative) }
    }
}

/// Asserts the GPU matches the CPU within 1e-5 relative (plus 1e-5 of the largest value for
/// ulp-level differences in sums), and returns how close they were.
fn gpu_matches_cpu(what: &str, gpu: &[f32], cpu: &[f32]) -> Worst {
    let m = max_abs(cpu);
    assert_close(what, gpu, cpu, 1e-5, 1e-5 * m);
    let mut w = Worst::default();
    for (&g, &c) in gpu.iter().zip(cpu) {
        let d = (g - c).abs();
        if m > 0.0 {
            w.scaled = w.scaled.max(d / m);
        }
        if c.abs() >= 1e-3 * m && c != 0.0 {
            w.relative = w.relative.max(d / c.abs());
        }
    }
    w
}

fn report(op: &str, w: Worst) {
    println!("worst gpu-vs-cpu {op:>18}: max|diff|/max|cpu| {:.3e}, max elementwise rel {:.3e}", w.scaled, w.relative);
}

fn dot64(a: &[f32], b: &[f32]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold((0.0, 0.0), |(s, abs), (&x, &y)| {
        let t = x as f64 * y as f64;
        (s + t, abs + t.abs())
    })
}

// ---------------------------------------------------------------------------------------------
// Convolutions

const EPILOGUES: [Epilogue; 8] = [
    Epilogue::Forward(Act::Identity),
    Epilogue::Forward(Act::Relu),
    Epilogue::Forward(Act::LeakyRelu(0.2)),
    Epilogue::Forward(Act::Tanh),
    Epilogue::GradMask(Act::Identity),
    Epilogue::GradMask(Act::Relu),
    Epilogue::GradMask(Act::LeakyRelu(0.2)),
    Epilogue::GradMask(Act::Tanh),
];

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Conv,
    Transpose,
}

/// Output size of a convolution (floor) or a transposed one (PyTorch's formula, plus `extra`
/// rows, as `output_padding` adds).
fn out_size(kind: Kind, len: usize, k: usize, s: usize, p: usize, extra: usize) -> Option<usize> {
    match kind {
        Kind::Conv => (len + 2 * p).checked_sub(k).map(|t| t / s + 1),
        Kind::Transpose => ((len - 1) * s + k).checked_sub(2 * p).filter(|&o| o > 0).map(|o| o + extra),
    }
}

fn conv_op(kind: Kind, args: ConvArgs) -> Op {
    match kind {
        Kind::Conv => Op::Conv2d(Conv(args)),
        Kind::Transpose => Op::ConvTranspose2d(ConvTranspose(args)),
    }
}

/// A program of many independent convolution ops, each with its own buffers and random contents.
struct ConvBatch {
    p: Program,
    init: Vec<(BufId, Vec<f32>)>,
    outs: Vec<(String, BufId)>,
}

impl ConvBatch {
    fn new() -> ConvBatch {
        ConvBatch { p: Program::default(), init: Vec::new(), outs: Vec::new() }
    }

    fn add(&mut self, rng: &mut Rng, kind: Kind, d: ConvDims, bias: bool, epilogue: Epilogue) {
        let p = &mut self.p;
        let label = format!(
            "{} n{} cin{} {}x{} -> cout{} {}x{} k{} s{} p{} bias {} {:?}",
            if kind == Kind::Conv { "conv2d" } else { "conv_transpose2d" },
            d.n,
            d.cin,
            d.hin,
            d.win,
            d.cout,
            d.hout,
            d.wout,
            d.k,
            d.stride,
            d.pad,
            bias,
            epilogue
        );
        let wscale = 1.0 / ((d.cin * d.k * d.k) as f32).sqrt();
        let input = p.buffer(format!("{label} x"), d.in_len());
        let weight = p.constant(format!("{label} w"), rng.vec(d.weight_len(), 1.7 * wscale));
        let bias = bias.then(|| p.constant(format!("{label} b"), rng.vec(d.cout, 0.5)));
        let aux = matches!(epilogue, Epilogue::GradMask(_)).then(|| p.buffer(format!("{label} aux"), d.out_len()));
        let output = p.buffer(format!("{label} y"), d.out_len());
        self.init.push((input, rng.vec(d.in_len(), 1.0)));
        if let Some(a) = aux {
            // A stored activation: some exact zeros (ReLU's kink), both signs, |y| < 1 (tanh).
            let v = (0..d.out_len()).map(|_| if rng.below(5) == 0 { 0.0 } else { 0.999 * rng.sym() }).collect();
            self.init.push((a, v));
        }
        // Garbage in the output: an element the kernel skips shows up as a difference.
        self.init.push((output, rng.vec(d.out_len(), 100.0)));
        p.push(Phase::Step, conv_op(kind, ConvArgs { label: label.clone(), dims: d, input, weight, bias, aux, output, epilogue }));
        self.outs.push((label, output));
    }

    /// Runs the batch on both backends and compares every output; returns the worst difference.
    fn compare(&self) -> Worst {
        self.compare_tiled(None)
    }

    /// [`ConvBatch::compare`] with every convolution run on the GPU in `tile` (`None`: the tile
    /// the backend picks).
    fn compare_tiled(&self, tile: Option<Tile>) -> Worst {
        let ids: Vec<BufId> = self.outs.iter().map(|(_, id)| *id).collect();
        let cpu = run_once(&mut CpuBackend::new(), &self.p, &self.init, params(0, 0, 0, 0, 1), &ids);
        let gpu = with_gpu(|g| {
            g.force_tile = tile;
            let out =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_once(g, &self.p, &self.init, params(0, 0, 0, 0, 1), &ids)));
            g.force_tile = None;
            out.unwrap_or_else(|e| std::panic::resume_unwind(e))
        });
        let mut worst = Worst::default();
        for (((label, _), c), g) in self.outs.iter().zip(&cpu).zip(&gpu) {
            worst = worst.max(gpu_matches_cpu(&format!("{label} (tile {tile:?})"), g, c));
        }
        worst
    }
}

/// Every stride, padding and kernel size on shapes that are multiples of nothing, with every
/// epilogue, with and without bias.
fn conv_shapes(kind: Kind) -> Worst {
    let mut rng = Rng::new(if kind == Kind::Conv { 1 } else { 2 });
    let mut batch = ConvBatch::new();
    let (n, cin, hin, win, cout) = (3, 5, 7, 6, 6);
    let mut case = 0;
    for k in [1, 3, 4] {
        for stride in [1, 2, 3] {
            for pad in [0, 1, 2] {
                for extra in [0, 1] {
                    if kind == Kind::Conv && extra == 1 {
                        continue;
                    }
                    let (Some(hout), Some(wout)) = (out_size(kind, hin, k, stride, pad, extra), out_size(kind, win, k, stride, pad, extra))
                    else {
                        continue;
                    };
                    let d = ConvDims { n, cin, hin, win, cout, hout, wout, k, stride, pad };
                    for (e, &epilogue) in EPILOGUES.iter().enumerate() {
                        batch.add(&mut rng, kind, d, (case + e) % 2 == 0, epilogue);
                    }
                    case += 1;
                }
            }
        }
    }
    assert!(case >= 27, "only {case} shapes");
    // Degenerate and DCGAN-like shapes.
    let odd = [
        ConvDims { n: 1, cin: 1, hin: 1, win: 1, cout: 1, hout: 1, wout: 1, k: 1, stride: 1, pad: 0 },
        match kind {
            Kind::Conv => ConvDims { n: 2, cin: 3, hin: 16, win: 16, cout: 17, hout: 8, wout: 8, k: 4, stride: 2, pad: 1 },
            Kind::Transpose => ConvDims { n: 2, cin: 17, hin: 8, win: 8, cout: 3, hout: 16, wout: 16, k: 4, stride: 2, pad: 1 },
        },
        match kind {
            Kind::Conv => ConvDims { n: 5, cin: 7, hin: 4, win: 4, cout: 3, hout: 1, wout: 1, k: 4, stride: 1, pad: 0 },
            Kind::Transpose => ConvDims { n: 5, cin: 7, hin: 1, win: 1, cout: 3, hout: 4, wout: 4, k: 4, stride: 1, pad: 0 },
        },
    ];
    for d in odd {
        for (e, &epilogue) in EPILOGUES.iter().enumerate() {
            batch.add(&mut rng, kind, d, e % 2 == 1, epilogue);
        }
    }
    batch.compare()
}

#[test]
fn conv2d_gpu_matches_cpu() {
    let w = conv_shapes(Kind::Conv);
    report("conv2d", w);
}

#[test]
fn conv_transpose2d_gpu_matches_cpu() {
    let w = conv_shapes(Kind::Transpose);
    report("conv_transpose2d", w);
}

/// More than 65535 workgroups (of the smallest tile): the dispatch spills into y, the last
/// row partly idle.
#[test]
fn conv_large_dispatch_spills_into_y() {
    let mut rng = Rng::new(3);
    let mut batch = ConvBatch::new();
    // 2 * 761 * 761 = 1,158,242 pixels by 3 channels: 72,391 tiles of 16 x 16, not a multiple
    // of anything.
    let d = ConvDims { n: 2, cin: 2, hin: 761, win: 761, cout: 3, hout: 761, wout: 761, k: 1, stride: 1, pad: 0 };
    let tile = TILES[TILES.len() - 1];
    let groups = tile.workgroups(&GemmShape { phases: 1, m: (d.n * d.hout * d.wout) as u64, n: d.cout as u64 });
    assert!(groups > 65535, "{groups} workgroups");
    batch.add(&mut rng, Kind::Conv, d, true, Epilogue::Forward(Act::Tanh));
    let limit = with_gpu(|g| g.ctx.limits.max_compute_workgroups_per_dimension) as u64;
    if limit >= groups {
        println!("note: this adapter runs {groups} workgroups in x; the y spill is not exercised");
    }
    let w = batch.compare_tiled(Some(tile));
    report("conv2d (72k workgroups)", w);
}

/// The tiles' edges: every tile the kernels are built for, forced in turn, on shapes whose M
/// (pixels), N (output channels) and K (taps) are multiples of no tile, with one input channel,
/// 1 x 1 kernels, strides 1 and 3 (a transposed kernel smaller than its stride leaves phases
/// no tap reaches), and enough of each to need several tiles and K slices.
fn tile_edges(kind: Kind) -> Worst {
    let mut rng = Rng::new(if kind == Kind::Conv { 11 } else { 12 });
    let mut batch = ConvBatch::new();
    // (n, cin, hin, win, cout, k, stride, pad)
    let shapes = [
        (2, 19, 13, 11, 70, 3, 1, 1), // M, N, K over one tile and multiples of none
        (3, 1, 9, 10, 5, 3, 2, 1),    // one input channel
        (2, 17, 5, 7, 33, 1, 1, 0),   // 1 x 1 kernel: K = cin
        (2, 6, 11, 10, 9, 4, 3, 1),   // stride 3
        (2, 5, 7, 8, 7, 2, 3, 0),     // stride 3, k < stride
        (2, 40, 9, 9, 130, 3, 1, 1),  // several tiles each way, K = 360
        (1, 3, 64, 64, 4, 4, 2, 1),   // many pixels, few channels
    ];
    for (j, &(n, cin, hin, win, cout, k, stride, pad)) in shapes.iter().enumerate() {
        let hout = out_size(kind, hin, k, stride, pad, 0).unwrap();
        let wout = out_size(kind, win, k, stride, pad, 0).unwrap();
        let d = ConvDims { n, cin, hin, win, cout, hout, wout, k, stride, pad };
        batch.add(&mut rng, kind, d, true, EPILOGUES[2 + j % 2]);
        batch.add(&mut rng, kind, d, false, EPILOGUES[5 + j % 3]);
    }
    let mut worst = Worst::default();
    for tile in TILES {
        worst = worst.max(batch.compare_tiled(Some(tile)));
    }
    worst.max(batch.compare())
}

#[test]
fn conv2d_tile_edges_gpu_match_cpu() {
    report("conv2d tile edges", tile_edges(Kind::Conv));
}

#[test]
fn conv_transpose2d_tile_edges_gpu_match_cpu() {
    report("conv_transpose2d tile edges", tile_edges(Kind::Transpose));
}

/// Which tile the backend picks for the shapes of the DCGAN layers, and the error when no tile
/// fits an adapter.
#[test]
fn tiles_follow_the_shape_and_the_adapter() {
    use gan_bias::ops::tiling::choose;
    let adapter = with_gpu(|g| gan_bias::backend::gpu::tiles::workgroup_limits(&g.ctx.limits));
    for t in TILES {
        assert!(t.fits(&adapter), "{t:?} does not fit {adapter:?}");
    }
    // A generator's last layer: 3 output channels.
    let rgb = GemmShape { phases: 4, m: 8 * 32 * 32, n: 3 };
    assert!(choose(&rgb, &adapter).unwrap().tn <= 4);
    // A forced tile the adapter cannot run is refused when the program loads.
    let mut rng = Rng::new(13);
    let mut batch = ConvBatch::new();
    let d = ConvDims { n: 1, cin: 2, hin: 4, win: 4, cout: 2, hout: 4, wout: 4, k: 1, stride: 1, pad: 0 };
    batch.add(&mut rng, Kind::Conv, d, false, EPILOGUES[0]);
    let huge = Tile { tm: 4096, tn: 4096, tk: 64 };
    let err = with_gpu(|g| {
        g.force_tile = Some(huge);
        let r = g.load(&batch.p);
        g.force_tile = None;
        r.err()
    });
    let msg = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("conv2d") && msg.contains("no tile fits"), "{msg:?}");
}

/// <conv2d(x), y> == <x, conv_transpose2d(y)> with the same weights, on the CPU (reference
/// loops and fast path) and the GPU;
/// both ways round (a Conv2d stage and its gradient, a ConvTranspose2d stage and its gradient),
/// including strides where the floor division leaves input rows no output reads.
#[test]
fn convolutions_are_adjoint() {
    let mut rng = Rng::new(4);
    // (kind of the forward op, hin, win, k, stride, pad, extra output rows of a transpose)
    let cases = [
        (Kind::Conv, 7, 6, 3, 1, 1, 0),
        (Kind::Conv, 7, 6, 3, 2, 0, 0), // 7 - 3 = 4: even, 6 - 3 = 3: last column dropped
        (Kind::Conv, 8, 9, 4, 3, 1, 0), // rows dropped both ways
        (Kind::Conv, 9, 7, 4, 2, 2, 0),
        (Kind::Conv, 5, 5, 1, 3, 0, 0), // k < stride: rows skipped between outputs
        (Kind::Conv, 6, 5, 2, 3, 2, 0),
        (Kind::Conv, 4, 4, 4, 1, 0, 0), // to 1x1, as the classifier's last layer
        (Kind::Transpose, 4, 3, 4, 2, 1, 0),
        (Kind::Transpose, 5, 4, 3, 2, 1, 1), // output_padding 1
        (Kind::Transpose, 3, 3, 4, 3, 2, 2),
        (Kind::Transpose, 1, 1, 4, 1, 0, 0), // from 1x1 noise, as a generator's first layer
        (Kind::Transpose, 4, 5, 1, 3, 0, 0),
    ];
    let (n, cin, cout) = (2, 3, 5);
    let mut worst = (0.0f64, 0.0f64, 0.0f64);
    for (kind, hin, win, k, stride, pad, extra) in cases {
        let hout = out_size(kind, hin, k, stride, pad, extra).unwrap();
        let wout = out_size(kind, win, k, stride, pad, extra).unwrap();
        let fwd = ConvDims { n, cin, hin, win, cout, hout, wout, k, stride, pad };
        // The adjoint maps the output back to the input: channels and sizes swap, the weight stays.
        let adj = ConvDims { n, cin: cout, hin: hout, win: wout, cout: cin, hout: hin, wout: win, k, stride, pad };
        let back = if kind == Kind::Conv { Kind::Transpose } else { Kind::Conv };
        let mut p = Program::default();
        let x = p.buffer("x", fwd.in_len());
        let y = p.buffer("y", fwd.out_len());
        let w = p.constant("w", rng.vec(fwd.weight_len(), 1.0));
        let ax = p.buffer("A x", fwd.out_len());
        let aty = p.buffer("A^T y", adj.out_len());
        let plain = |label: &str, dims, input, output| ConvArgs {
            label: label.into(),
            dims,
            input,
            weight: w,
            bias: None,
            aux: None,
            output,
            epilogue: Epilogue::Forward(Act::Identity),
        };
        p.push(Phase::Step, conv_op(kind, plain("forward", fwd, x, ax)));
        p.push(Phase::Step, conv_op(back, plain("adjoint", adj, y, aty)));
        let init = vec![(x, rng.vec(fwd.in_len(), 1.0)), (y, rng.vec(fwd.out_len(), 1.0))];
        let cpu = run_once(&mut CpuBackend::new(), &p, &init, params(0, 0, 0, 0, 1), &[ax, aty]);
        let fast = run_once(&mut CpuBackend::fast(), &p, &init, params(0, 0, 0, 0, 1), &[ax, aty]);
        let gpu = with_gpu(|g| run_once(g, &p, &init, params(0, 0, 0, 0, 1), &[ax, aty]));
        for (name, out) in [("cpu", &cpu), ("cpu fast", &fast), ("gpu", &gpu)] {
            let (lhs, lhs_abs) = dot64(&out[0], &init[1].1);
            let (rhs, rhs_abs) = dot64(&init[0].1, &out[1]);
            let scale = lhs_abs.max(rhs_abs);
            let rel = (lhs - rhs).abs() / scale;
            assert!(
                rel < 1e-5,
                "{name}: {:?} {fwd:?}: <A x, y> = {lhs} but <x, A^T y> = {rhs} (relative {rel:e})",
                if kind == Kind::Conv { "conv2d" } else { "conv_transpose2d" }
            );
            // Not a vacuous identity: the adjoint output is not all zeros.
            assert!(max_abs(&out[1]) > 0.0 && max_abs(&out[0]) > 0.0, "{name}: degenerate case {fwd:?}");
            match name {
                "cpu" => worst.0 = worst.0.max(rel),
                "cpu fast" => worst.1 = worst.1.max(rel),
                _ => worst.2 = worst.2.max(rel),
            }
        }
    }
    println!(
        "adjoint identity: worst |<Ax,y> - <x,A^T y>| / sum|terms|: cpu {:.3e}, cpu fast {:.3e}, gpu {:.3e}",
        worst.0, worst.1, worst.2
    );
}

// ---------------------------------------------------------------------------------------------
// Input-gradients of whole networks against finite differences

/// An independent forward pass in f64, straight from PyTorch's definitions (a transposed
/// convolution scatters each input pixel; here it is gathered from the same relation
/// `oy = iy * stride + ky - pad`). Returns the last stage's output.
fn forward64(stages: &[&Stage], input: &[f64]) -> Vec<f64> {
    let rows = input.len() / stages[0].in_len();
    let mut x = input.to_vec();
    for s in stages {
        let (k, st, pad) = (s.k as isize, s.stride as isize, s.pad as isize);
        let mut y = vec![0.0f64; rows * s.out_len()];
        for b in 0..rows {
            for o in 0..s.cout {
                for oy in 0..s.hout as isize {
                    for ox in 0..s.wout as isize {
                        let mut sum = s.bias.as_ref().map_or(0.0, |v| v[o] as f64);
                        for i in 0..s.cin {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let (iy, ix, w) = match s.kind {
                                        ConvKind::Conv => (
                                            oy * st + ky - pad,
                                            ox * st + kx - pad,
                                            s.weight[((o * s.cin + i) * s.k + ky as usize) * s.k + kx as usize],
                                        ),
                                        ConvKind::Transpose => {
                                            let (ty, tx) = (oy + pad - ky, ox + pad - kx);
                                            if ty.rem_euclid(st) != 0 || tx.rem_euclid(st) != 0 {
                                                continue;
                                            }
                                            (
                                                ty.div_euclid(st),
                                                tx.div_euclid(st),
                                                s.weight[((i * s.cout + o) * s.k + ky as usize) * s.k + kx as usize],
                                            )
                                        }
                                    };
                                    if iy < 0 || ix < 0 || iy >= s.hin as isize || ix >= s.win as isize {
                                        continue;
                                    }
                                    sum += w as f64 * x[((b * s.cin + i) * s.hin + iy as usize) * s.win + ix as usize];
                                }
                            }
                        }
                        y[((b * s.cout + o) * s.hout + oy as usize) * s.wout + ox as usize] = match s.act {
                            Act::Identity => sum,
                            Act::Relu => sum.max(0.0),
                            Act::LeakyRelu(a) => {
                                if sum > 0.0 {
                                    sum
                                } else {
                                    a as f64 * sum
                                }
                            }
                            Act::Tanh => sum.tanh(),
                        };
                    }
                }
            }
        }
        x = y;
    }
    x
}

/// mean over rows of logits[:, target], in f64.
fn objective64(stages: &[&Stage], z: &[f64], target: usize) -> f64 {
    let logits = forward64(stages, z);
    let features = stages.last().unwrap().out_len();
    let rows = logits.len() / features;
    (0..rows).map(|r| logits[r * features + target]).sum::<f64>() / rows as f64
}

/// `evaluate`'s input_grad (f32, on backend `b`) against central differences of
/// mean(logits[:, target]), along random directions and single coordinates.
///
/// The differences come from the f64 forward pass above, whose logits are first checked against
/// the backend's: the chained tiny models hold thousands of ReLU kinks, so the objective is only
/// linear within ~1e-4 of a point, where f32 forward passes have too little precision for a
/// central difference (at eps = 1e-2 it is off by 60%, at 1e-3 by 30%); in f64 with eps = 1e-6
/// the difference agrees with the true gradient to ~1e-5.
fn finite_differences(b: &mut dyn Backend, name: &str, gen_file: &str) -> f64 {
    let generator = generator(&fixture(gen_file));
    let classifier = classifier(&fixture("tiny_classifier.safetensors"));
    let stages = chain(&generator, &classifier).unwrap();
    let acts: Vec<Act> = stages.iter().map(|s| s.act).collect();
    for want in [Act::Relu, Act::LeakyRelu(0.2), Act::Tanh] {
        assert!(acts.contains(&want), "{gen_file}: the chain has no {want:?} stage to check the gradient through");
    }
    let zdim = stages[0].in_len();
    let features = stages.last().unwrap().out_len();
    let mut rng = Rng::new(5);
    let rows = 2;
    let z: Vec<f32> = (0..rows * zdim).map(|_| rng.normal()).collect();
    let z64: Vec<f64> = z.iter().map(|&v| v as f64).collect();
    let logits64: Vec<f32> = forward64(&stages, &z64).iter().map(|&v| v as f32).collect();
    let eps = 1e-6;
    let mut worst = 0.0f64;
    for target in [0, features - 1] {
        let ev = evaluate(b, &stages, &z, target).unwrap();
        let logits = ev.outputs.last().unwrap();
        assert_close(&format!("{name} {gen_file}: logits vs f64 forward"), logits, &logits64, 1e-4, 1e-5 * max_abs(&logits64));
        let grad = ev.input_grad;
        assert_eq!(grad.len(), z.len());
        let norm = grad.iter().map(|&g| (g as f64).powi(2)).sum::<f64>().sqrt();
        assert!(norm > 1e-6, "{name} {gen_file}: zero gradient");
        let rms = norm / (grad.len() as f64).sqrt();
        let mut check = |dir: &[f64], what: String| {
            let shifted = |sign: f64| -> Vec<f64> { z64.iter().zip(dir).map(|(&v, &d)| v + sign * eps * d).collect() };
            let fd = (objective64(&stages, &shifted(1.0), target) - objective64(&stages, &shifted(-1.0), target)) / (2.0 * eps);
            let want: f64 = grad.iter().zip(dir).map(|(&g, &d)| g as f64 * d).sum();
            let dnorm = dir.iter().map(|d| d * d).sum::<f64>().sqrt();
            let rel = (fd - want).abs() / want.abs().max(0.1 * norm * dnorm);
            assert!(
                rel < 2e-3,
                "{name} {gen_file} target {target} {what}: input_grad gives {want:.6e}, central differences {fd:.6e} (relative {rel:.2e})"
            );
            worst = worst.max(rel);
        };
        for i in 0..3 {
            let dir: Vec<f64> = (0..z.len()).map(|_| rng.normal() as f64).collect();
            check(&dir, format!("random direction {i}"));
        }
        // Single coordinates with sizeable gradients.
        let mut picked = 0;
        for _ in 0..200 {
            let c = rng.below(z.len());
            if (grad[c] as f64).abs() < rms || picked >= 4 {
                continue;
            }
            let mut dir = vec![0.0; z.len()];
            dir[c] = 1.0;
            check(&dir, format!("coordinate {c} (row {}, column {})", c / zdim, c % zdim));
            picked += 1;
        }
        assert_eq!(picked, 4, "{name}: too few coordinates with sizeable gradients");
    }
    worst
}

#[test]
fn input_gradient_matches_finite_differences_cpu() {
    for gen_file in ["tiny_coursera_gen.safetensors", "tiny_dcgan_gen.safetensors"] {
        let w = finite_differences(&mut CpuBackend::new(), "cpu", gen_file);
        println!("finite differences, cpu, {gen_file}: worst relative {w:.3e}");
    }
}

#[test]
fn input_gradient_matches_finite_differences_cpu_fast() {
    for gen_file in ["tiny_coursera_gen.safetensors", "tiny_dcgan_gen.safetensors"] {
        let w = finite_differences(&mut CpuBackend::fast(), "cpu fast", gen_file);
        println!("finite differences, cpu fast, {gen_file}: worst relative {w:.3e}");
    }
}

#[test]
fn input_gradient_matches_finite_differences_gpu() {
    for gen_file in ["tiny_coursera_gen.safetensors", "tiny_dcgan_gen.safetensors"] {
        let w = with_gpu(|g| finite_differences(g, "gpu", gen_file));
        println!("finite differences, gpu, {gen_file}: worst relative {w:.3e}");
    }
}

// ---------------------------------------------------------------------------------------------
// The small ops

#[test]
fn seed_grad_gpu_matches_cpu() {
    let mut rng = Rng::new(6);
    let mut worst = Worst::default();
    for (rows, features, target) in [(7, 5, 3), (1, 1, 0), (13, 40, 39), (3, 2, 0)] {
        let mut p = Program::default();
        // Longer than needed: the tail must stay as it was.
        let out = p.buffer("seed", rows * features + 5);
        let scale = 1.0 / rows as f32;
        p.push(Phase::Step, Op::SeedGrad(SeedGrad { rows, features, scale, out }));
        let garbage = rng.vec(rows * features + 5, 10.0);
        let init = vec![(out, garbage.clone())];
        let cpu = run_once(&mut CpuBackend::new(), &p, &init, params(0, 0, 0, target, 1), &[out]).remove(0);
        let gpu = with_gpu(|g| run_once(g, &p, &init, params(0, 0, 0, target, 1), &[out])).remove(0);
        let mut want = garbage;
        for (i, v) in want[..rows * features].iter_mut().enumerate() {
            *v = if i % features == target { scale } else { 0.0 };
        }
        assert_eq!(cpu, want, "cpu seed_grad rows {rows} features {features} target {target}");
        worst = worst.max(gpu_matches_cpu(&format!("seed_grad {rows}x{features}"), &gpu, &cpu));
    }
    report("seed_grad", worst);
}

/// The doubled batch of `n` images per direction cut into batches of `capacity` rows: the
/// (row0, rows) of each, the last one short.
fn batches(n: usize, capacity: usize) -> Vec<(usize, usize)> {
    (0..2 * n).step_by(capacity).map(|row0| (row0, capacity.min(2 * n - row0))).collect()
}

#[test]
fn record_gpu_matches_cpu() {
    let mut rng = Rng::new(7);
    let (n, steps, features, capacity) = (5, 3, 7, 4);
    let cuts = batches(n, capacity);
    assert_eq!(cuts, [(0, 4), (4, 4), (8, 2)]);
    let mut p = Program::default();
    let logits = p.buffer("logits", capacity * features);
    let start = p.buffer("start", capacity * features);
    let history = p.buffer("history", 2 * steps * n * features);
    let rec = Record { n, steps, features, capacity, logits, start, history };
    // History layout (2, steps, n, features): global row g < n is image g going up, g >= n is
    // image g - n going down.
    let history_at = |g: usize, step: usize, f: usize| (((g / n) * steps + step) * n + g % n) * features + f;
    for g in 0..2 * n {
        for step in 0..steps {
            for f in 0..features {
                assert_eq!(rec.history_index(g, step, steps, f), history_at(g, step, f));
            }
        }
    }
    p.push(Phase::Step, Op::Record(rec.clone()));
    let start_init = rng.vec(capacity * features, 10.0);
    let history_init = rng.vec(2 * steps * n * features, 10.0);
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
                    b.run(Phase::Step, params(step, row0, rows, 0, steps)).unwrap();
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
    for g in 0..2 * n {
        for f in 0..features {
            assert_eq!(want_history[history_at(g, 0, f)], 0.0);
        }
    }
    report("record", worst);
}

fn noise_update(rule: UpdateRule) -> Worst {
    let mut rng = Rng::new(8);
    let (n, steps, zdim, capacity) = (5, 3, 7, 4);
    let cuts = batches(n, capacity);
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
                    let sign = if row0 + r < n { 1.0 } else { -1.0 };
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
                    b.run(Phase::Step, params(step, row0, rows, 0, steps)).unwrap();
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
    let notebook = noise_update(UpdateRule::Notebook);
    let sgd = noise_update(UpdateRule::Sgd);
    report("noise_update notebook", notebook);
    report("noise_update sgd", sgd);
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
        let mut p = Program::default();
        let xb = p.constant("changes", x.clone());
        let mean = p.buffer("mean", features);
        let cov = p.buffer("cov", features * features);
        let args = CovArgs { rows_per_step: rows, steps: 1, features, x: xb, mean, cov };
        p.push(Phase::Step, Op::ColumnMean(ColumnMean(args.clone())));
        p.push(Phase::Step, Op::Covariance(Covariance(args)));
        let init = vec![(mean, rng.vec(features, 9.0)), (cov, rng.vec(features * features, 9.0))];
        let cpu = run_once(&mut CpuBackend::new(), &p, &init, params(0, 0, 0, 0, 1), &[mean, cov]);
        let gpu = with_gpu(|g| run_once(g, &p, &init, params(0, 0, 0, 0, 1), &[mean, cov]));
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
}

// ---------------------------------------------------------------------------------------------
// Shape checks

/// A conv op with its own buffers, each of length `lens[i]` (input, weight, bias, aux, output).
fn conv_program(kind: Kind, lens: [usize; 5]) -> Program {
    let d = ConvDims { n: 2, cin: 3, hin: 5, win: 5, cout: 4, hout: 3, wout: 3, k: 3, stride: 1, pad: 0 };
    let mut p = Program::default();
    let input = p.buffer("x", lens[0]);
    let weight = p.buffer("w", lens[1]);
    let bias = p.buffer("b", lens[2]);
    let aux = p.buffer("a", lens[3]);
    let output = p.buffer("y", lens[4]);
    let label = "layer 7 input-gradient".to_string();
    p.push(
        Phase::Step,
        conv_op(
            kind,
            ConvArgs { label, dims: d, input, weight, bias: Some(bias), aux: Some(aux), output, epilogue: Epilogue::GradMask(Act::Relu) },
        ),
    );
    p
}

/// `p` is refused by `validate` and by both backends' `load`, with a message naming `op` and
/// `words`; the refused backends have nothing to run.
fn assert_refused(p: &Program, op: &str, words: &[&str]) {
    let err: OpError = p.validate().expect_err("validate accepted a bad program");
    let msg = err.to_string();
    assert_eq!(err.op, op, "{msg}");
    for w in words {
        assert!(msg.contains(w), "the message {msg:?} does not name {w:?}");
    }
    let mut cpu = CpuBackend::new();
    match cpu.load(p) {
        Err(BackendError::Op(e)) => assert_eq!(e.to_string(), msg),
        other => panic!("cpu load: {:?}", other.err()),
    }
    assert!(matches!(cpu.run(Phase::Step, StepParams::default()), Err(BackendError::NotLoaded)), "cpu ran a refused program");
    with_gpu(|gpu| match gpu.load(p) {
        Err(BackendError::Op(e)) => assert_eq!(e.to_string(), msg),
        other => panic!("gpu load: {:?}", other.err()),
    });
}

#[test]
fn undersized_buffers_are_refused_before_running() {
    let d = ConvDims { n: 2, cin: 3, hin: 5, win: 5, cout: 4, hout: 3, wout: 3, k: 3, stride: 1, pad: 0 };
    let good = [d.in_len(), d.weight_len(), d.cout, d.out_len(), d.out_len()];
    for kind in [Kind::Conv, Kind::Transpose] {
        let op = if kind == Kind::Conv { "conv2d" } else { "conv_transpose2d" };
        conv_program(kind, good).validate().unwrap();
        for (i, what) in ["input", "weight", "bias", "activation", "output"].iter().enumerate() {
            let mut lens = good;
            lens[i] -= 1;
            assert_refused(&conv_program(kind, lens), op, &[op, "layer 7 input-gradient", what, &format!("needs {}", good[i])]);
        }
        // A backward epilogue without its stored activation.
        let mut p = conv_program(kind, good);
        if let Some((_, ops)) = p.phases.first_mut()
            && let Some(Op::Conv2d(Conv(a)) | Op::ConvTranspose2d(ConvTranspose(a))) = ops.first_mut()
        {
            a.aux = None;
        }
        assert_refused(&p, op, &[op, "activation"]);
        // Zero-sized dimensions.
        let mut p = conv_program(kind, good);
        if let Some((_, ops)) = p.phases.first_mut()
            && let Some(Op::Conv2d(Conv(a)) | Op::ConvTranspose2d(ConvTranspose(a))) = ops.first_mut()
        {
            a.dims.stride = 0;
        }
        assert_refused(&p, op, &[op, "zero-sized"]);
    }

    // seed_grad
    let mut p = Program::default();
    let out = p.buffer("seed", 3 * 4 - 1);
    p.push(Phase::Setup, Op::SeedGrad(SeedGrad { rows: 3, features: 4, scale: 1.0, out }));
    assert_refused(&p, "seed_grad", &["seed_grad", "gradient", "needs 12"]);
    // (A target out of range is a run's parameter now, refused by the probe before it runs:
    // tests/probe_targets.rs.)

    // record: logits and start hold a batch, the history every step of both directions.
    let (n, steps, features, capacity) = (3, 2, 5, 4);
    let need = [capacity * features, capacity * features, 2 * steps * n * features];
    for (i, what) in ["logits", "start", "history"].iter().enumerate() {
        let mut lens = need;
        lens[i] -= 1;
        let mut p = Program::default();
        let ids: Vec<BufId> = lens.iter().map(|&l| p.buffer("b", l)).collect();
        p.push(Phase::Step, Op::Record(Record { n, steps, features, capacity, logits: ids[0], start: ids[1], history: ids[2] }));
        assert_refused(&p, "record", &["record", what, &format!("needs {}", need[i])]);
    }

    // noise_update
    let zdim = 6;
    for (i, what) in ["gradient", "accumulator", "noise"].iter().enumerate() {
        let mut lens = [capacity * zdim; 3];
        lens[i] -= 1;
        let mut p = Program::default();
        let ids: Vec<BufId> = lens.iter().map(|&l| p.buffer("b", l)).collect();
        let rule = UpdateRule::Notebook;
        p.push(Phase::Step, Op::NoiseUpdate(NoiseUpdate { n, zdim, capacity, rule, grad: ids[0], acc: ids[1], z: ids[2] }));
        assert_refused(&p, "noise_update", &["noise_update", what, &format!("needs {}", capacity * zdim)]);
    }

    // column_mean and covariance
    let (rows, features) = (11, 3);
    let need = [rows * features, features, features * features];
    for (i, what) in ["changes", "mean", "covariance"].iter().enumerate() {
        let mut lens = need;
        lens[i] -= 1;
        for mean_first in [true, false] {
            let mut p = Program::default();
            let ids: Vec<BufId> = lens.iter().map(|&l| p.buffer("b", l)).collect();
            let args = CovArgs { rows_per_step: rows, steps: 1, features, x: ids[0], mean: ids[1], cov: ids[2] };
            p.push(Phase::Finish, if mean_first { Op::ColumnMean(ColumnMean(args)) } else { Op::Covariance(Covariance(args)) });
            assert_refused(&p, "covariance", &["covariance", what, &format!("needs {}", need[i])]);
        }
    }
    let mut p = Program::default();
    let ids: Vec<BufId> = [3, 3, 9].iter().map(|&l| p.buffer("b", l)).collect();
    p.push(
        Phase::Finish,
        Op::Covariance(Covariance(CovArgs { rows_per_step: 1, steps: 1, features: 3, x: ids[0], mean: ids[1], cov: ids[2] })),
    );
    assert_refused(&p, "covariance", &["at least 2 rows"]);
}

/// The first op of `p`'s first phase, as conv args.
fn conv_args(p: &mut Program) -> &mut ConvArgs {
    match p.phases[0].1.first_mut() {
        Some(Op::Conv2d(Conv(a)) | Op::ConvTranspose2d(ConvTranspose(a))) => a,
        _ => unreachable!(),
    }
}

#[test]
fn conv_output_aliasing_an_input_is_refused() {
    let d = ConvDims { n: 2, cin: 3, hin: 5, win: 5, cout: 4, hout: 3, wout: 3, k: 3, stride: 1, pad: 0 };
    // Buffers large enough to pass every size check whatever they are bound as.
    let big = d.in_len().max(d.out_len()).max(d.weight_len());
    for kind in [Kind::Conv, Kind::Transpose] {
        let op = if kind == Kind::Conv { "conv2d" } else { "conv_transpose2d" };
        for i in 0..2 {
            let mut p = conv_program(kind, [big; 5]);
            p.validate().unwrap();
            let a = conv_args(&mut p);
            if i == 0 {
                a.output = a.input;
            } else {
                a.output = a.aux.unwrap();
            }
            assert_refused(&p, op, &[op, "layer 7 input-gradient", "aliases"]);
        }
    }
}

/// Output aliasing any buffer an op reads (or another buffer it writes) must be refused the
/// same way; today only a convolution's input and stored activation are checked (see the
/// report: with output == weight the CPU twin panics and wgpu reports a usage conflict).
#[test]
fn output_aliasing_any_other_buffer_is_refused() {
    let d = ConvDims { n: 2, cin: 3, hin: 5, win: 5, cout: 4, hout: 3, wout: 3, k: 3, stride: 1, pad: 0 };
    let big = d.in_len().max(d.out_len()).max(d.weight_len());
    for kind in [Kind::Conv, Kind::Transpose] {
        let op = if kind == Kind::Conv { "conv2d" } else { "conv_transpose2d" };
        for which in ["weight", "bias"] {
            let mut p = conv_program(kind, [big; 5]);
            let a = conv_args(&mut p);
            a.output = if which == "weight" { a.weight } else { a.bias.unwrap() };
            assert_refused(&p, op, &[op, "aliases"]);
        }
    }
    // Two roles of one buffer in the small ops.
    let b = |p: &mut Program| p.buffer("b", 1000);
    let mut p = Program::default();
    let (x, y) = (b(&mut p), b(&mut p));
    p.push(Phase::Step, Op::Record(Record { n: 2, steps: 2, features: 3, capacity: 4, logits: x, start: y, history: y }));
    assert_refused(&p, "record", &["aliases"]);
    let mut p = Program::default();
    let (x, y) = (b(&mut p), b(&mut p));
    p.push(Phase::Step, Op::NoiseUpdate(NoiseUpdate { n: 2, zdim: 3, capacity: 4, rule: UpdateRule::Notebook, grad: x, acc: y, z: y }));
    assert_refused(&p, "noise_update", &["aliases"]);
    let mut p = Program::default();
    let (x, y) = (b(&mut p), b(&mut p));
    p.push(Phase::Step, Op::Covariance(Covariance(CovArgs { rows_per_step: 4, steps: 1, features: 3, x, mean: y, cov: y })));
    assert_refused(&p, "covariance", &["aliases"]);
}
