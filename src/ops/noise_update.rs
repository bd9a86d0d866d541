//! `noise_update`: one step of the noise along the target's gradient (`shaders/noise_update.wgsl`).
//!
//! Owns: this kernel's checks, dispatch, uniform and CPU twin. Must not touch: other ops, backends.

use super::{Bind, BufId, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, need, uniform};

pub static SHADER: Shader = Shader::new("noise_update", include_str!("../../shaders/noise_update.wgsl"));

uniform! {
    /// `Params` in `shaders/noise_update.wgsl`.
    pub struct NoiseUpdateParams mirrors "Params" {
        /// Images per direction.
        pub n: u32,
        pub zdim: u32,
        /// 0: [`UpdateRule::Notebook`], 1: [`UpdateRule::Sgd`].
        pub mode: u32,
        pub _p0: u32,
    }
}

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
        let mut acc = mem.get(self.acc)[..rows].to_vec();
        mem.with_output(self.z, |_, z| {
            for (idx, &g) in grad.iter().enumerate() {
                let mut delta = g;
                if self.rule == UpdateRule::Notebook {
                    delta += acc[idx];
                    acc[idx] = delta;
                }
                delta /= s.steps as f32;
                if ((s.row0 as usize + idx / self.zdim) / self.n).is_multiple_of(2) {
                    z[idx] += delta;
                } else {
                    z[idx] -= delta;
                }
            }
        });
        if self.rule == UpdateRule::Notebook {
            mem.get_mut(self.acc)[..rows].copy_from_slice(&acc);
        }
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
                Bind::Params(ParamBlock::of(&NoiseUpdateParams { n: self.n as u32, zdim: self.zdim as u32, mode, _p0: 0 })),
                Bind::Step,
                Bind::Read(Some(self.grad)),
                Bind::Write(self.acc),
                Bind::Write(self.z),
            ],
            work: Work::Items((self.capacity * self.zdim) as u64),
        }
    }
}
