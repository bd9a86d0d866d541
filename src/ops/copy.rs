//! `copy`: blocks of values copied from one buffer into another at a stride and an offset
//! (`shaders/copy.wgsl`): a Concat puts each input into its slice of the output, and
//! backward takes each input's gradient out of the output's, finished by the derivative of
//! the input's producer's activation.
//!
//! Owns: this kernel's checks, dispatch, uniform and CPU twin. Must not touch: other ops, backends.

use super::act::Epilogue;
use super::{Bind, BufId, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, moves_only, need, uniform};

pub static SHADER: Shader = Shader::new("copy", concat!(include_str!("../../shaders/act.wgsl"), include_str!("../../shaders/copy.wgsl")));

uniform! {
    /// `Params` in `shaders/copy.wgsl`.
    pub struct CopyParams mirrors "Params" {
        pub blocks: u32,
        pub len: u32,
        pub x_stride: u32,
        pub x_offset: u32,
        pub y_stride: u32,
        pub y_offset: u32,
        /// [`Epilogue::mode`].
        pub mode: u32,
        pub act: u32,
        pub slope: f32,
        pub _p0: u32,
        pub _p1: u32,
        pub _p2: u32,
    }
}

/// Where a block starts in a buffer: block `k` at `k * stride + offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocks {
    pub stride: usize,
    pub offset: usize,
}

/// `y[k * to.stride + to.offset + i] = x[k * from.stride + from.offset + i]` for `k < blocks`,
/// `i < len`; backward (`GradMask`) multiplied by `act'(aux)`, `aux` laid out as `y`. Only
/// the blocks are written.
#[derive(Debug, Clone)]
pub struct Copy {
    pub label: String,
    pub blocks: usize,
    pub len: usize,
    pub input: BufId,
    pub from: Blocks,
    pub aux: Option<BufId>,
    pub output: BufId,
    pub to: Blocks,
    /// Forward copies; the activation of a forward epilogue must be `Identity`.
    pub epilogue: Epilogue,
}

impl Kernel for Copy {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        let op = "copy";
        let err = |detail: String| Err(OpError { op, label: self.label.clone(), detail });
        if self.blocks == 0 || self.len == 0 {
            return err(format!("{} blocks of {} values", self.blocks, self.len));
        }
        let end = |b: Blocks| (self.blocks - 1) as u64 * b.stride as u64 + b.offset as u64 + self.len as u64;
        if end(self.from).max(end(self.to)) > u32::MAX as u64 {
            return err("more than 2^32 - 1 values; split the batch".into());
        }
        if self.from.stride < self.len || self.to.stride < self.len {
            return err(format!("blocks of {} values overlap at strides {} and {}", self.len, self.from.stride, self.to.stride));
        }
        moves_only(op, &self.label, self.epilogue, self.aux)?;
        distinct(op, &self.label, self.output, &[Some(self.input), self.aux])?;
        need(op, &self.label, "input", len(self.input), end(self.from) as usize)?;
        need(op, &self.label, "output", len(self.output), end(self.to) as usize)?;
        if let Some(a) = self.aux {
            need(op, &self.label, "stored activation", len(a), end(self.to) as usize)?;
        }
        Ok(())
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        mem.with_output(self.output, |mem, y| {
            let x = mem.get(self.input);
            let aux = self.aux.map(|a| mem.get(a));
            for k in 0..self.blocks {
                let (xs, ys) = (k * self.from.stride + self.from.offset, k * self.to.stride + self.to.offset);
                for i in 0..self.len {
                    y[ys + i] = self.epilogue.finish(x[xs + i], aux.map_or(0.0, |a| a[ys + i]));
                }
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        let act = self.epilogue.act();
        let params = CopyParams {
            blocks: self.blocks as u32,
            len: self.len as u32,
            x_stride: self.from.stride as u32,
            x_offset: self.from.offset as u32,
            y_stride: self.to.stride as u32,
            y_offset: self.to.offset as u32,
            mode: self.epilogue.mode(),
            act: act.code(),
            slope: act.slope(),
            ..Default::default()
        };
        Dispatch {
            shader: &SHADER,
            entry: "main",
            binds: vec![
                Bind::Params(ParamBlock::of(&params)),
                Bind::Read(Some(self.input)),
                Bind::Read(self.aux),
                Bind::Write(self.output),
            ],
            work: Work::Items((self.blocks * self.len) as u64),
        }
    }
}
