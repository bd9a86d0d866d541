//! `seed_grad`: d mean_over_images(logits[:, target]) / d logits (`shaders/seed_grad.wgsl`).
//! The target is a runtime value ([`StepParams::column`]), so one program seeds any target.
//!
//! Owns: this kernel's checks, dispatch, uniform and CPU twin. Must not touch: other ops, backends.

use super::{Bind, BufId, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, need, uniform};

pub static SHADER: Shader = Shader::new("seed_grad", include_str!("../../shaders/seed_grad.wgsl"));

uniform! {
    /// `Params` in `shaders/seed_grad.wgsl`.
    pub struct SeedGradParams mirrors "Params" {
        pub rows: u32,
        pub features: u32,
        /// 1 / images per direction.
        pub scale: f32,
        pub _p0: u32,
    }
}

/// Writes `scale` (1/n) into column [`StepParams::column`] of every row of `out`,
/// 0 elsewhere.
#[derive(Debug, Clone)]
pub struct SeedGrad {
    pub rows: usize,
    pub features: usize,
    pub scale: f32,
    pub out: BufId,
}

impl SeedGrad {
    fn params(&self) -> SeedGradParams {
        SeedGradParams { rows: self.rows as u32, features: self.features as u32, scale: self.scale, ..Default::default() }
    }
}

impl Kernel for SeedGrad {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        if self.features == 0 {
            return Err(OpError { op: "seed_grad", label: "seed".into(), detail: "no features".into() });
        }
        need("seed_grad", "seed", "gradient", len(self.out), self.rows * self.features)
    }

    fn run_cpu(&self, mem: &mut CpuMemory, s: StepParams) {
        let target = s.column as usize;
        mem.with_output(self.out, |_, g| {
            for (i, v) in g[..self.rows * self.features].iter_mut().enumerate() {
                *v = if i % self.features == target { self.scale } else { 0.0 };
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        Dispatch {
            shader: &SHADER,
            entry: "main",
            binds: vec![Bind::Params(ParamBlock::of(&self.params())), Bind::Step, Bind::Write(self.out)],
            work: Work::Items((self.rows * self.features) as u64),
        }
    }
}
