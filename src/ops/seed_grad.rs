//! `seed_grad`: d mean_over_images(logits[:, target]) / d logits (`shaders/seed_grad.wgsl`),
//! each slot of rows with its own target. The targets are a buffer the host writes before a
//! run, so one program seeds any targets, several at once, without being rebuilt.
//!
//! Owns: this kernel's checks, dispatch, uniform and CPU twin. Must not touch: other ops, backends.

use super::{Bind, BufId, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, need, uniform};

pub static SHADER: Shader = Shader::new("seed_grad", include_str!("../../shaders/seed_grad.wgsl"));

uniform! {
    /// `Params` in `shaders/seed_grad.wgsl`.
    pub struct SeedGradParams mirrors "Params" {
        pub rows: u32,
        pub features: u32,
        /// 1 / images per direction.
        pub scale: f32,
        /// Global rows per slot: each slot follows one target.
        pub rows_per_target: u32,
    }
}

/// Writes `scale` (1/n) into the column of its target of every real row of `out`, 0
/// elsewhere: global row `g` follows `targets[g / rows_per_target]`, a feature index held as
/// an exact f32.
#[derive(Debug, Clone)]
pub struct SeedGrad {
    pub rows: usize,
    pub features: usize,
    pub scale: f32,
    pub rows_per_target: usize,
    /// `(slots)`: the target of each slot.
    pub targets: BufId,
    pub out: BufId,
}

impl SeedGrad {
    fn params(&self) -> SeedGradParams {
        SeedGradParams {
            rows: self.rows as u32,
            features: self.features as u32,
            scale: self.scale,
            rows_per_target: self.rows_per_target as u32,
        }
    }
}

impl Kernel for SeedGrad {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        let fail = |detail: &str| Err(OpError { op: "seed_grad", label: "seed".into(), detail: detail.into() });
        if self.features == 0 {
            return fail("no features");
        }
        if self.rows_per_target == 0 || len(self.targets) == 0 {
            return fail("no targets");
        }
        distinct("seed_grad", "seed", self.out, &[Some(self.targets)])?;
        need("seed_grad", "seed", "gradient", len(self.out), self.rows * self.features)
    }

    fn run_cpu(&self, mem: &mut CpuMemory, s: StepParams) {
        mem.with_output(self.out, |mem, g| {
            let targets = mem.get(self.targets);
            for (local, row) in g[..self.rows * self.features].chunks_exact_mut(self.features).enumerate() {
                row.fill(0.0);
                if local < s.rows as usize {
                    let target = targets[(s.row0 as usize + local) / self.rows_per_target] as usize;
                    if let Some(v) = row.get_mut(target) {
                        *v = self.scale;
                    }
                }
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        Dispatch {
            shader: &SHADER,
            entry: "main",
            binds: vec![Bind::Params(ParamBlock::of(&self.params())), Bind::Step, Bind::Read(Some(self.targets)), Bind::Write(self.out)],
            work: Work::Items((self.rows * self.features) as u64),
        }
    }
}
