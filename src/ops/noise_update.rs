//! `noise_update`: one step of the noise along the target's gradient (`shaders/noise_update.wgsl`).

use super::{Bind, CpuMemory, Dispatch, Kernel, OpError, Shader, Work, distinct, need};
use crate::backend::{BufId, StepParams};

pub static SHADER: Shader = Shader::new("noise_update", include_str!("../../shaders/noise_update.wgsl"));

/// How the noise moves each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateRule {
    /// The notebook's: the gradient accumulates across steps, `z += d * sum(g) / steps`.
    Notebook,
    /// A plain step: `z += d * g / steps`.
    Sgd,
}

#[derive(Debug, Clone)]
pub struct NoiseUpdate {
    pub n: usize,
    pub steps: usize,
    pub zdim: usize,
    pub capacity: usize,
    pub rule: UpdateRule,
    pub grad: BufId,
    pub acc: BufId,
    pub z: BufId,
}

impl Kernel for NoiseUpdate {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        distinct("noise_update", "noise", self.z, &[Some(self.grad), Some(self.acc)])?;
        distinct("noise_update", "noise", self.acc, &[Some(self.grad)])?;
        let batch = self.capacity * self.zdim;
        need("noise_update", "noise", "gradient", len(self.grad), batch)?;
        need("noise_update", "noise", "accumulator", len(self.acc), batch)?;
        need("noise_update", "noise", "noise", len(self.z), batch)
    }

    fn run_cpu(&self, mem: &mut CpuMemory, s: StepParams) {
        let rows = s.rows as usize * self.zdim;
        let grad = mem.get(self.grad)[..rows].to_vec();
        let mut acc = std::mem::take(&mut mem.bufs[self.acc.0]);
        mem.with_output(self.z, |_, z| {
            for (idx, &g) in grad.iter().enumerate() {
                let mut delta = g;
                if self.rule == UpdateRule::Notebook {
                    delta += acc[idx];
                    acc[idx] = delta;
                }
                delta /= self.steps as f32;
                if (s.row0 as usize + idx / self.zdim) < self.n {
                    z[idx] += delta;
                } else {
                    z[idx] -= delta;
                }
            }
        });
        mem.bufs[self.acc.0] = acc;
    }

    fn dispatch(&self) -> Dispatch {
        let mode = match self.rule {
            UpdateRule::Notebook => 0,
            UpdateRule::Sgd => 1,
        };
        Dispatch {
            shader: &SHADER,
            entry: "main",
            binds: vec![
                Bind::Params(vec![self.n as u32, self.steps as u32, self.zdim as u32, mode]),
                Bind::Step,
                Bind::Read(Some(self.grad)),
                Bind::Write(self.acc),
                Bind::Write(self.z),
            ],
            work: Work::Items((self.capacity * self.zdim) as u64),
        }
    }
}
