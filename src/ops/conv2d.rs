//! `conv2d`: 2-D correlation with a fused epilogue, on the GPU a tiled implicit GEMM
//! (`shaders/conv2d.wgsl`, `shaders/conv_common.wgsl`).
//!
//! Forward it is `nn.Conv2d`; backward it is the input-gradient of `nn.ConvTranspose2d`
//! (same weights, roles of the two channel axes swapped). [`ConvArgs`] is shared with
//! [`super::conv_transpose2d`], the adjoint kernel.
//!
//! Owns: this kernel's checks, dispatch, the convolutions' uniform and CPU twin. Must not touch: other ops, backends.

use super::act::Epilogue;
use super::tiling::GemmShape;
use super::{Bind, BufId, Cost, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, need, uniform};

pub static SHADER: Shader = Shader {
    name: "conv2d",
    source: concat!(
        include_str!("../../shaders/act.wgsl"),
        include_str!("../../shaders/conv_common.wgsl"),
        include_str!("../../shaders/conv_weights_f32.wgsl"),
        include_str!("../../shaders/conv2d.wgsl")
    ),
    f16_weights: Some(&SHADER_F16),
};

/// [`SHADER`] reading its weights as packed f16 (`shaders/conv_weights_f16.wgsl`).
pub static SHADER_F16: Shader = Shader::new(
    "conv2d_f16_weights",
    concat!(
        include_str!("../../shaders/act.wgsl"),
        include_str!("../../shaders/conv_common.wgsl"),
        include_str!("../../shaders/conv_weights_f16.wgsl"),
        include_str!("../../shaders/conv2d.wgsl")
    ),
);

uniform! {
    /// The uniform of both convolution kernels (`Params` in `shaders/conv_common.wgsl`).
    pub struct ConvParams mirrors "Params" {
        pub n: u32,
        pub cin: u32,
        pub hin: u32,
        pub win: u32,
        pub cout: u32,
        pub hout: u32,
        pub wout: u32,
        pub k: u32,
        pub stride: u32,
        pub pad: u32,
        /// [`Epilogue::mode`].
        pub mode: u32,
        /// [`super::act::Act::code`].
        pub act: u32,
        pub has_bias: u32,
        /// The leaky ReLU's negative slope.
        pub slope: f32,
        pub _p0: u32,
        pub _p1: u32,
    }
}

/// Sizes of one convolution call: `n` images of `(cin, hin, win)` to `(cout, hout, wout)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvDims {
    pub n: usize,
    pub cin: usize,
    pub hin: usize,
    pub win: usize,
    pub cout: usize,
    pub hout: usize,
    pub wout: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

impl ConvDims {
    pub fn in_len(&self) -> usize {
        self.n * self.cin * self.hin * self.win
    }
    pub fn out_len(&self) -> usize {
        self.n * self.cout * self.hout * self.wout
    }
    pub fn weight_len(&self) -> usize {
        self.cin * self.cout * self.k * self.k
    }
}

/// The buffers and epilogue of a convolution call.
#[derive(Debug, Clone)]
pub struct ConvArgs {
    pub label: String,
    pub dims: ConvDims,
    pub input: BufId,
    pub weight: BufId,
    /// Added before a [`Epilogue::Forward`] epilogue (a backward one takes none).
    pub bias: Option<BufId>,
    /// Stored activation output read by a [`Epilogue::GradMask`] epilogue.
    pub aux: Option<BufId>,
    pub output: BufId,
    pub epilogue: Epilogue,
}

impl ConvArgs {
    pub(crate) fn check_with(&self, op: &'static str, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        let d = &self.dims;
        let err = |detail: String| OpError { op, label: self.label.clone(), detail };
        if [d.n, d.cin, d.hin, d.win, d.cout, d.hout, d.wout, d.k, d.stride].contains(&0) {
            return Err(err(format!("zero-sized dimension in {d:?}")));
        }
        // The kernels index with 32-bit signed offsets.
        if [d.out_len(), d.in_len(), d.weight_len()].iter().any(|&l| l > i32::MAX as usize) {
            return Err(err("more than 2^31 - 1 elements in one tensor; split the batch".into()));
        }
        distinct(op, &self.label, self.output, &[Some(self.input), Some(self.weight), self.bias, self.aux])?;
        need(op, &self.label, "input", len(self.input), d.in_len())?;
        need(op, &self.label, "weight", len(self.weight), d.weight_len())?;
        need(op, &self.label, "output", len(self.output), d.out_len())?;
        if let Some(b) = self.bias {
            need(op, &self.label, "bias", len(b), d.cout)?;
        }
        match (self.epilogue, self.aux) {
            // The kernels bind one epilogue operand: the bias or the stored activation.
            (Epilogue::GradMask(_), _) if self.bias.is_some() => Err(err("a backward epilogue takes no bias".into())),
            (Epilogue::GradMask(_), Some(a)) => need(op, &self.label, "activation", len(a), d.out_len()),
            (Epilogue::GradMask(_), None) => Err(err("a backward epilogue needs the stored activation".into())),
            _ => Ok(()),
        }
    }

    /// Cost of a convolution whose every (input element, kernel tap, output channel) or
    /// (output element, kernel tap, input channel) pairs once: `macs` multiply-adds.
    pub(crate) fn cost_with(&self, macs: usize) -> Cost {
        let d = &self.dims;
        let floats = d.in_len() + d.weight_len() + d.out_len() * if self.aux.is_some() { 2 } else { 1 };
        Cost { flop: 2.0 * macs as f64, bytes: 4.0 * floats as f64 }
    }

    pub(crate) fn dispatch_with(&self, shader: &'static Shader, gemm: GemmShape) -> Dispatch {
        let d = &self.dims;
        let act = self.epilogue.act();
        let params = ConvParams {
            n: d.n as u32,
            cin: d.cin as u32,
            hin: d.hin as u32,
            win: d.win as u32,
            cout: d.cout as u32,
            hout: d.hout as u32,
            wout: d.wout as u32,
            k: d.k as u32,
            stride: d.stride as u32,
            pad: d.pad as u32,
            mode: self.epilogue.mode(),
            act: act.code(),
            has_bias: self.bias.is_some() as u32,
            slope: act.slope(),
            ..Default::default()
        };
        Dispatch {
            shader,
            entry: "main",
            binds: vec![
                Bind::Params(ParamBlock::of(&params)),
                Bind::Read(Some(self.input)),
                Bind::Weights(self.weight),
                // The epilogue's one operand (`extra`): the stored activation going backward
                // (which takes no bias, see `check_with`), else the bias, if any.
                Bind::Read(match self.epilogue {
                    Epilogue::GradMask(_) => self.aux,
                    Epilogue::Forward(_) => self.bias,
                }),
                Bind::Write(self.output),
            ],
            work: Work::Tiled(gemm),
        }
    }

    /// Runs the CPU twin: `gather(b, o, oy, ox, x, w)` returns the sum for one output element.
    pub(crate) fn run_cpu_with(&self, mem: &mut CpuMemory, gather: impl Fn(&ConvDims, usize, usize, usize, usize, &[f32], &[f32]) -> f32) {
        let d = self.dims;
        mem.with_output(self.output, |mem, y| {
            let x = mem.get(self.input);
            let w = mem.get(self.weight);
            let bias = self.bias.map(|b| mem.get(b));
            let aux = self.aux.map(|a| mem.get(a));
            let mut idx = 0;
            for b in 0..d.n {
                for o in 0..d.cout {
                    for oy in 0..d.hout {
                        for ox in 0..d.wout {
                            let mut sum = gather(&d, b, o, oy, ox, x, w);
                            if let Some(bias) = bias {
                                sum += bias[o];
                            }
                            y[idx] = self.epilogue.finish(sum, aux.map_or(0.0, |a| a[idx]));
                            idx += 1;
                        }
                    }
                }
            }
        });
    }
}

/// `nn.Conv2d` forward / `nn.ConvTranspose2d` input-gradient. Weight `(cout, cin, k, k)`.
#[derive(Debug, Clone)]
pub struct Conv(pub ConvArgs);

/// The sum of `conv2d.wgsl` for one output element, in the same order of taps.
fn gather(d: &ConvDims, b: usize, o: usize, oy: usize, ox: usize, x: &[f32], w: &[f32]) -> f32 {
    let kk = d.k * d.k;
    let mut sum = 0.0f32;
    for i in 0..d.cin {
        let x_base = (b * d.cin + i) * d.hin * d.win;
        let w_base = (o * d.cin + i) * kk;
        for ky in 0..d.k {
            let iy = (oy * d.stride + ky) as isize - d.pad as isize;
            if iy < 0 || iy >= d.hin as isize {
                continue;
            }
            for kx in 0..d.k {
                let ix = (ox * d.stride + kx) as isize - d.pad as isize;
                if ix < 0 || ix >= d.win as isize {
                    continue;
                }
                sum += w[w_base + ky * d.k + kx] * x[x_base + iy as usize * d.win + ix as usize];
            }
        }
    }
    sum
}

impl Kernel for Conv {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        self.0.check_with("conv2d", len)
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        self.0.run_cpu_with(mem, gather);
    }

    /// One product of M = n * hout * wout pixels by N = cout channels (K = cin * k * k taps).
    fn dispatch(&self) -> Dispatch {
        let d = &self.0.dims;
        let gemm = GemmShape { phases: 1, m: (d.n * d.hout * d.wout) as u64, n: d.cout as u64 };
        self.0.dispatch_with(&SHADER, gemm)
    }

    fn cost(&self) -> Cost {
        let d = &self.0.dims;
        self.0.cost_with(d.out_len() * d.cin * d.k * d.k)
    }
}
