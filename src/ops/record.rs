//! `record`: this step's logits minus the starting logits, into the history
//! (`shaders/record.wgsl`, which documents the layout). The history is laid out for the run's
//! step count ([`StepParams::steps`]), at most the [`Record::steps`] its buffer was sized for.
//!
//! Owns: this kernel's checks, dispatch, uniform, CPU twin and the history layout. Must not touch: other ops, backends.

use super::{Bind, BufId, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, need, uniform};

pub static SHADER: Shader = Shader::new("record", include_str!("../../shaders/record.wgsl"));

uniform! {
    /// `Params` in `shaders/record.wgsl`.
    pub struct RecordParams mirrors "Params" {
        /// Images per direction.
        pub n: u32,
        pub features: u32,
        pub _p0: u32,
        pub _p1: u32,
    }
}

#[derive(Debug, Clone)]
pub struct Record {
    /// Images per direction.
    pub n: usize,
    /// Most steps per direction the history holds.
    pub steps: usize,
    /// Targets run together: slot `k` is global rows `2 n k .. 2 n (k + 1)`.
    pub slots: usize,
    pub features: usize,
    /// Rows of the batch buffers.
    pub capacity: usize,
    pub logits: BufId,
    pub start: BufId,
    pub history: BufId,
}

impl Record {
    /// Flat history index of feature `f` of global row `g` at `step` of a run of `steps` steps
    /// (`g / n` is the slot's direction counted over every slot: `2 slot + direction`).
    pub fn history_index(&self, g: usize, step: usize, steps: usize, f: usize) -> usize {
        let (direction, image) = (g / self.n, g % self.n);
        ((direction * steps + step) * self.n + image) * self.features + f
    }
}

impl Kernel for Record {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        distinct("record", "history", self.start, &[Some(self.logits), Some(self.history)])?;
        distinct("record", "history", self.history, &[Some(self.logits)])?;
        let batch = self.capacity * self.features;
        need("record", "history", "logits", len(self.logits), batch)?;
        need("record", "history", "start", len(self.start), batch)?;
        need("record", "history", "history", len(self.history), self.slots * 2 * self.steps * self.n * self.features)
    }

    fn run_cpu(&self, mem: &mut CpuMemory, s: StepParams) {
        let rows = s.rows as usize * self.features;
        if s.step == 0 {
            let logits = mem.get(self.logits)[..rows].to_vec();
            mem.get_mut(self.start)[..rows].copy_from_slice(&logits);
        }
        mem.with_output(self.history, |mem, h| {
            let (y, y0) = (mem.get(self.logits), mem.get(self.start));
            for idx in 0..rows {
                let g = s.row0 as usize + idx / self.features;
                h[self.history_index(g, s.step as usize, s.steps as usize, idx % self.features)] = y[idx] - y0[idx];
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        let params = RecordParams { n: self.n as u32, features: self.features as u32, ..Default::default() };
        Dispatch {
            shader: &SHADER,
            entry: "main",
            binds: vec![
                Bind::Params(ParamBlock::of(&params)),
                Bind::Step,
                Bind::Read(Some(self.logits)),
                Bind::Write(self.start),
                Bind::Write(self.history),
            ],
            work: Work::Items((self.capacity * self.features) as u64),
        }
    }
}
