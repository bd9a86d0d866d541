//! `covariance`: np.cov of the recorded changes, features as variables, ddof 1
//! (`shaders/covariance.wgsl`: entry points `column_mean`, then `covariance`).

use super::{Bind, Cost, CpuMemory, Dispatch, Kernel, OpError, Shader, Work, distinct, need};
use crate::backend::{BufId, StepParams};

pub static SHADER: Shader = Shader::new("covariance", include_str!("../../shaders/covariance.wgsl"));

/// Rows summed before a partial sum joins the total (as in the shader).
const BLOCK: usize = 256;

/// The shared sizes and buffers of both entry points.
#[derive(Debug, Clone)]
pub struct CovArgs {
    pub rows: usize,
    pub features: usize,
    pub x: BufId,
    pub mean: BufId,
    pub cov: BufId,
}

impl CovArgs {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        if self.rows < 2 {
            return Err(OpError { op: "covariance", label: "cov".into(), detail: "needs at least 2 rows".into() });
        }
        distinct("covariance", "cov", self.cov, &[Some(self.x), Some(self.mean)])?;
        distinct("covariance", "cov", self.mean, &[Some(self.x)])?;
        need("covariance", "cov", "changes", len(self.x), self.rows * self.features)?;
        need("covariance", "cov", "mean", len(self.mean), self.features)?;
        need("covariance", "cov", "covariance", len(self.cov), self.features * self.features)
    }

    fn dispatch(&self, entry: &'static str, threads: usize) -> Dispatch {
        Dispatch {
            shader: &SHADER,
            entry,
            binds: vec![
                Bind::Params(vec![self.rows as u32, self.features as u32, 0, 0]),
                Bind::Read(Some(self.x)),
                Bind::Write(self.mean),
                Bind::Write(self.cov),
            ],
            work: Work::Items(threads as u64),
        }
    }

    /// Blocked sum of `term(r)` over all rows, in the shader's order.
    fn blocked_sum(&self, term: impl Fn(usize) -> f32) -> f32 {
        let mut total = 0.0f32;
        for r0 in (0..self.rows).step_by(BLOCK) {
            let mut part = 0.0f32;
            for r in r0..(r0 + BLOCK).min(self.rows) {
                part += term(r);
            }
            total += part;
        }
        total
    }
}

/// Column means of the changes.
#[derive(Debug, Clone)]
pub struct ColumnMean(pub CovArgs);

/// The covariance, given the column means.
#[derive(Debug, Clone)]
pub struct Covariance(pub CovArgs);

impl Kernel for ColumnMean {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        self.0.check(len)
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        let a = &self.0;
        mem.with_output(a.mean, |mem, mean| {
            let x = mem.get(a.x);
            for (j, m) in mean[..a.features].iter_mut().enumerate() {
                *m = a.blocked_sum(|r| x[r * a.features + j]) / a.rows as f32;
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        self.0.dispatch("column_mean", self.0.features)
    }
}

impl Kernel for Covariance {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        self.0.check(len)
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        let a = &self.0;
        let f = a.features;
        mem.with_output(a.cov, |mem, cov| {
            let (x, mean) = (mem.get(a.x), mem.get(a.mean));
            for i in 0..f {
                for j in 0..f {
                    let s = a.blocked_sum(|r| (x[r * f + i] - mean[i]) * (x[r * f + j] - mean[j]));
                    cov[i * f + j] = s / (a.rows - 1) as f32;
                }
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        self.0.dispatch("covariance", self.0.features * self.0.features)
    }

    fn cost(&self) -> Cost {
        let (r, f) = (self.0.rows as f64, self.0.features as f64);
        Cost { flop: 4.0 * r * f * f, bytes: 4.0 * (r * f + f * f) }
    }
}
