//! `seed_grad`: d mean_over_images(logits[:, target]) / d logits (`shaders/seed_grad.wgsl`).

use super::{Bind, CpuMemory, Dispatch, Kernel, OpError, Shader, Work, need, word};
use crate::backend::{BufId, StepParams};

pub static SHADER: Shader = Shader::new("seed_grad", include_str!("../../shaders/seed_grad.wgsl"));

/// Writes `scale` (1/n) into column `target` of every row of `out`, 0 elsewhere.
#[derive(Debug, Clone)]
pub struct SeedGrad {
    pub rows: usize,
    pub features: usize,
    pub target: usize,
    pub scale: f32,
    pub out: BufId,
}

impl Kernel for SeedGrad {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        if self.target >= self.features {
            return Err(OpError {
                op: "seed_grad",
                label: "seed".into(),
                detail: format!("target {} out of {} features", self.target, self.features),
            });
        }
        need("seed_grad", "seed", "gradient", len(self.out), self.rows * self.features)
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        mem.with_output(self.out, |_, g| {
            for (i, v) in g[..self.rows * self.features].iter_mut().enumerate() {
                *v = if i % self.features == self.target { self.scale } else { 0.0 };
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        Dispatch {
            shader: &SHADER,
            entry: "main",
            binds: vec![
                Bind::Params(vec![self.rows as u32, self.features as u32, self.target as u32, word(self.scale)]),
                Bind::Write(self.out),
            ],
            work: Work::Items((self.rows * self.features) as u64),
        }
    }
}
