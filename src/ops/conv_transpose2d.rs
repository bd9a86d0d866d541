//! `conv_transpose2d`: the adjoint of [`super::conv2d`], gathered per output element, on the
//! GPU one tiled implicit GEMM per output phase (`shaders/conv_transpose2d.wgsl`,
//! `shaders/conv_common.wgsl`).
//!
//! Forward it is `nn.ConvTranspose2d`; backward it is the input-gradient of `nn.Conv2d`.
//!
//! Owns: this kernel's checks, dispatch and CPU twin. Must not touch: other ops, backends.

use super::conv2d::{ConvArgs, ConvDims};
use super::tiling::GemmShape;
use super::{BufId, Cost, CpuMemory, Dispatch, Kernel, OpError, Shader, StepParams};

pub static SHADER: Shader = Shader {
    name: "conv_transpose2d",
    source: concat!(
        include_str!("../../shaders/act.wgsl"),
        include_str!("../../shaders/conv_common.wgsl"),
        include_str!("../../shaders/conv_weights_f32.wgsl"),
        include_str!("../../shaders/conv_transpose2d.wgsl")
    ),
    f16_weights: Some(&SHADER_F16),
};

/// [`SHADER`] reading its weights as packed f16 (`shaders/conv_weights_f16.wgsl`).
pub static SHADER_F16: Shader = Shader::new(
    "conv_transpose2d_f16_weights",
    concat!(
        include_str!("../../shaders/act.wgsl"),
        include_str!("../../shaders/conv_common.wgsl"),
        include_str!("../../shaders/conv_weights_f16.wgsl"),
        include_str!("../../shaders/conv_transpose2d.wgsl")
    ),
);

/// `nn.ConvTranspose2d` forward / `nn.Conv2d` input-gradient. Weight `(cin, cout, k, k)`.
#[derive(Debug, Clone)]
pub struct ConvTranspose(pub ConvArgs);

/// The sum of `conv_transpose2d.wgsl` for one output element, in the same order of taps.
fn gather(d: &ConvDims, b: usize, o: usize, oy: usize, ox: usize, x: &[f32], w: &[f32]) -> f32 {
    let kk = d.k * d.k;
    let mut sum = 0.0f32;
    // Input row iy reaches output row oy through kernel row ky when oy = iy*s + ky - p.
    let source = |out: usize, k: usize, len: usize| -> Option<usize> {
        let t = (out + d.pad).checked_sub(k)?;
        (t % d.stride == 0 && t / d.stride < len).then_some(t / d.stride)
    };
    for i in 0..d.cin {
        let x_base = (b * d.cin + i) * d.hin * d.win;
        let w_base = (i * d.cout + o) * kk;
        for ky in 0..d.k {
            let Some(iy) = source(oy, ky, d.hin) else { continue };
            for kx in 0..d.k {
                let Some(ix) = source(ox, kx, d.win) else { continue };
                sum += w[w_base + ky * d.k + kx] * x[x_base + iy * d.win + ix];
            }
        }
    }
    sum
}

impl Kernel for ConvTranspose {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        self.0.check_with("conv_transpose2d", len)
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        self.0.run_cpu_with(mem, gather);
    }

    /// stride^2 products, one per output phase, the largest of M = n * ceil(hout / s) *
    /// ceil(wout / s) pixels by N = cout channels (K = cin * ceil(k / s)^2 taps at most).
    fn dispatch(&self) -> Dispatch {
        let d = &self.0.dims;
        let s = d.stride.max(1);
        let gemm = GemmShape { phases: (s * s) as u64, m: (d.n * d.hout.div_ceil(s) * d.wout.div_ceil(s)) as u64, n: d.cout as u64 };
        self.0.dispatch_with(&SHADER, gemm)
    }

    fn cost(&self) -> Cost {
        let d = &self.0.dims;
        self.0.cost_with(d.in_len() * d.cout * d.k * d.k)
    }
}
