//! `add`: the sum of two tensors of one shape and an activation (`shaders/add.wgsl`):
//! forward a residual connection; backward the sum of two contributions to one gradient
//! where a value feeds several nodes, finished by the derivative of its producer's
//! activation.
//!
//! Owns: this kernel's checks, dispatch, uniform and CPU twin. Must not touch: other ops, backends.

use super::act::Epilogue;
use super::{Bind, BufId, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, need, uniform};

pub static SHADER: Shader = Shader::new("add", concat!(include_str!("../../shaders/act.wgsl"), include_str!("../../shaders/add.wgsl")));

uniform! {
    /// `Params` in `shaders/add.wgsl`.
    pub struct AddParams mirrors "Params" {
        pub len: u32,
        /// [`Epilogue::mode`].
        pub mode: u32,
        pub act: u32,
        pub slope: f32,
    }
}

/// `y = act(a + b)` (forward) or `y = (a + b) * act'(aux)` (backward) over `len` values.
#[derive(Debug, Clone)]
pub struct Add {
    pub label: String,
    pub len: usize,
    pub a: BufId,
    pub b: BufId,
    pub aux: Option<BufId>,
    pub output: BufId,
    pub epilogue: Epilogue,
}

impl Kernel for Add {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        let op = "add";
        let err = |detail: String| Err(OpError { op, label: self.label.clone(), detail });
        if self.len == 0 || self.len as u64 > u32::MAX as u64 {
            return err(format!("{} values", self.len));
        }
        if let Epilogue::GradMask(a) = self.epilogue
            && a.code() != 0
            && self.aux.is_none()
        {
            return err("a backward epilogue with an activation reads its stored output".into());
        }
        distinct(op, &self.label, self.output, &[Some(self.a), Some(self.b), self.aux])?;
        for (what, b) in
            [("first input", Some(self.a)), ("second input", Some(self.b)), ("stored activation", self.aux), ("output", Some(self.output))]
        {
            if let Some(b) = b {
                need(op, &self.label, what, len(b), self.len)?;
            }
        }
        Ok(())
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        mem.with_output(self.output, |mem, y| {
            let (a, b) = (mem.get(self.a), mem.get(self.b));
            let aux = self.aux.map(|x| mem.get(x));
            for i in 0..self.len {
                let v = a[i] + b[i];
                y[i] = match self.epilogue {
                    Epilogue::Forward(act) => act.apply(v),
                    Epilogue::GradMask(act) => match aux {
                        Some(x) if act.code() != 0 => v * act.grad_from_output(x[i]),
                        _ => v,
                    },
                };
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        let act = self.epilogue.act();
        let params = AddParams { len: self.len as u32, mode: self.epilogue.mode(), act: act.code(), slope: act.slope() };
        Dispatch {
            shader: &SHADER,
            entry: "main",
            binds: vec![
                Bind::Params(ParamBlock::of(&params)),
                Bind::Read(Some(self.a)),
                Bind::Read(Some(self.b)),
                Bind::Read(self.aux),
                Bind::Write(self.output),
            ],
            work: Work::Items(self.len as u64),
        }
    }
}
