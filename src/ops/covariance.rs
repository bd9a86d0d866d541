//! `covariance`: np.cov of the recorded changes, features as variables, ddof 1
//! (`shaders/covariance.wgsl`: entry points `column_mean`, then `covariance`). The rows are
//! those of the run: [`CovArgs::rows_per_step`] times the run's [`StepParams::steps`], of the
//! slot whose first global row is [`StepParams::row0`] (the history holds one block per slot).
//!
//! Owns: this kernel's checks, dispatch, uniform and CPU twin. Must not touch: other ops, backends.

use super::{Bind, BufId, Cost, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, need, uniform};

pub static SHADER: Shader = Shader::new("covariance", include_str!("../../shaders/covariance.wgsl"));

/// Rows summed before a partial sum joins the total (as in the shader).
const BLOCK: usize = 256;

uniform! {
    /// `Params` in `shaders/covariance.wgsl`.
    pub struct CovParams mirrors "Params" {
        pub rows_per_step: u32,
        pub features: u32,
        pub _p0: u32,
        pub _p1: u32,
    }
}

/// The shared sizes and buffers of both entry points.
#[derive(Debug, Clone)]
pub struct CovArgs {
    /// Rows recorded per step (both directions of every image).
    pub rows_per_step: usize,
    /// Most steps the changes hold.
    pub steps: usize,
    /// Slots (targets run together) the changes hold, one block of the largest run each.
    pub slots: usize,
    pub features: usize,
    pub x: BufId,
    pub mean: BufId,
    pub cov: BufId,
}

impl CovArgs {
    /// Rows of the largest run.
    fn max_rows(&self) -> usize {
        self.rows_per_step * self.steps
    }

    /// Where the changes of the run's slot begin: its first global row's block.
    fn base(&self, s: StepParams) -> usize {
        s.row0 as usize * s.steps as usize * self.features
    }

    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        if self.rows_per_step < 2 || self.steps == 0 {
            return Err(OpError { op: "covariance", label: "cov".into(), detail: "needs at least 2 rows".into() });
        }
        distinct("covariance", "cov", self.cov, &[Some(self.x), Some(self.mean)])?;
        distinct("covariance", "cov", self.mean, &[Some(self.x)])?;
        need("covariance", "cov", "changes", len(self.x), self.slots * self.max_rows() * self.features)?;
        need("covariance", "cov", "mean", len(self.mean), self.features)?;
        need("covariance", "cov", "covariance", len(self.cov), self.features * self.features)
    }

    fn dispatch(&self, entry: &'static str, threads: usize) -> Dispatch {
        Dispatch {
            shader: &SHADER,
            entry,
            binds: vec![
                Bind::Params(ParamBlock::of(&CovParams {
                    rows_per_step: self.rows_per_step as u32,
                    features: self.features as u32,
                    ..Default::default()
                })),
                Bind::Step,
                Bind::Read(Some(self.x)),
                Bind::Write(self.mean),
                Bind::Write(self.cov),
            ],
            work: Work::Items(threads as u64),
        }
    }

    /// Blocked sum of `term(r)` over `rows` rows, in the shader's order.
    fn blocked_sum(rows: usize, term: impl Fn(usize) -> f32) -> f32 {
        let mut total = 0.0f32;
        for r0 in (0..rows).step_by(BLOCK) {
            let mut part = 0.0f32;
            for r in r0..(r0 + BLOCK).min(rows) {
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

    fn run_cpu(&self, mem: &mut CpuMemory, s: StepParams) {
        let a = &self.0;
        let rows = a.rows_per_step * s.steps as usize;
        mem.with_output(a.mean, |mem, mean| {
            let x = &mem.get(a.x)[a.base(s)..];
            for (j, m) in mean[..a.features].iter_mut().enumerate() {
                *m = CovArgs::blocked_sum(rows, |r| x[r * a.features + j]) / rows as f32;
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

    fn run_cpu(&self, mem: &mut CpuMemory, s: StepParams) {
        let a = &self.0;
        let f = a.features;
        let rows = a.rows_per_step * s.steps as usize;
        mem.with_output(a.cov, |mem, cov| {
            let (x, mean) = (&mem.get(a.x)[a.base(s)..], mem.get(a.mean));
            for i in 0..f {
                for j in 0..f {
                    let sum = CovArgs::blocked_sum(rows, |r| (x[r * f + i] - mean[i]) * (x[r * f + j] - mean[j]));
                    cov[i * f + j] = sum / (rows - 1) as f32;
                }
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        self.0.dispatch("covariance", self.0.features * self.0.features)
    }

    fn cost(&self) -> Cost {
        let (r, f) = (self.0.max_rows() as f64, self.0.features as f64);
        Cost { flop: 4.0 * r * f * f, bytes: 4.0 * (r * f + f * f) }
    }
}
