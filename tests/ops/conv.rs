//! The two convolution kernels on the GPU against their CPU twins, on awkward shapes and at
//! tile edges; the tile choice; and the adjoint identity between the two.

use crate::common::ops::*;
use gan_bias::backend::Backend;
use gan_bias::backend::cpu::CpuBackend;

pub const EPILOGUES: [Epilogue; 8] = [
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
pub enum Kind {
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

pub fn conv_op(kind: Kind, args: ConvArgs) -> Op {
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

    /// A convolution of `d` with `epilogue`, with a bias when `bias` and the epilogue is a
    /// forward one (a backward epilogue takes none).
    fn add(&mut self, rng: &mut Rng, kind: Kind, d: ConvDims, bias: bool, epilogue: Epilogue) {
        let bias = bias && matches!(epilogue, Epilogue::Forward(_));
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

    /// The outputs of the batch on the CPU backend, the reference.
    fn cpu(&self) -> Vec<Vec<f32>> {
        let ids: Vec<BufId> = self.outs.iter().map(|(_, id)| *id).collect();
        run_once(&mut CpuBackend::new(), &self.p, &self.init, params(0, 0, 0, 1), &ids)
    }

    /// Runs the batch on the CPU and on every test adapter, and compares every output; returns
    /// the worst difference.
    fn compare(&self) -> Worst {
        let cpu = self.cpu();
        let mut worst = Worst::default();
        on_each_gpu(|| worst = worst.max(self.compare_tiled(&cpu, None)));
        worst
    }

    /// The batch on the GPU of [`with_gpu`] with every convolution in `tile` (`None`: the tile
    /// the backend picks), against `cpu`, the CPU backend's outputs.
    fn compare_tiled(&self, cpu: &[Vec<f32>], tile: Option<Tile>) -> Worst {
        let ids: Vec<BufId> = self.outs.iter().map(|(_, id)| *id).collect();
        let gpu = with_gpu(|g| {
            g.force_tile = tile;
            let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_once(g, &self.p, &self.init, params(0, 0, 0, 1), &ids)));
            g.force_tile = None;
            out.unwrap_or_else(|e| std::panic::resume_unwind(e))
        });
        let mut worst = Worst::default();
        for (((label, _), c), g) in self.outs.iter().zip(cpu).zip(&gpu) {
            worst = worst.max(gpu_matches_cpu(&format!("{label} (tile {tile:?})"), g, c));
        }
        worst
    }
}

/// Every stride, padding and kernel size on shapes that are multiples of nothing, with every
/// epilogue, the forward ones with and without bias.
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
    on_each_gpu(|| {
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
        let w = batch.compare_tiled(&batch.cpu(), Some(tile));
        report("conv2d (72k workgroups)", w);
    });
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
    let cpu = batch.cpu();
    let mut worst = Worst::default();
    on_each_gpu(|| {
        for tile in TILES.into_iter().map(Some).chain([None]) {
            worst = worst.max(batch.compare_tiled(&cpu, tile));
        }
    });
    worst
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
    on_each_gpu(|| {
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
    });
}

/// <conv2d(x), y> == <x, conv_transpose2d(y)> with the same weights, on the CPU (reference
/// loops and fast path) and the GPU;
/// both ways round (a Conv2d stage and its gradient, a ConvTranspose2d stage and its gradient),
/// including strides where the floor division leaves input rows no output reads.
#[test]
fn convolutions_are_adjoint() {
    on_each_gpu(|| {
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
            let cpu = run_once(&mut CpuBackend::new(), &p, &init, params(0, 0, 0, 1), &[ax, aty]);
            let fast = run_once(&mut CpuBackend::fast(), &p, &init, params(0, 0, 0, 1), &[ax, aty]);
            let gpu = with_gpu(|g| run_once(g, &p, &init, params(0, 0, 0, 1), &[ax, aty]));
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
    });
}
