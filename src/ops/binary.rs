//! `binary`: differences, products and quotients of two computed tensors of one shape, and
//! their input-gradients, elementwise (`shaders/binary.wgsl`), each finished by an activation
//! (forward) or the derivative of the input's producer's activation (backward). Sums have
//! their own kernel ([`super::add`]), the reverse pass's most frequent op.
//!
//! Owns: this kernel's checks, dispatch, uniform and CPU twin. Must not touch: other ops, backends.

use super::act::Epilogue;
use super::{Bind, BufId, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, need, uniform};

pub static SHADER: Shader =
    Shader::new("binary", concat!(include_str!("../../shaders/act.wgsl"), include_str!("../../shaders/binary.wgsl")));

uniform! {
    /// `Params` in `shaders/binary.wgsl`.
    pub struct BinaryParams mirrors "Params" {
        pub len: u32,
        /// [`BinOp::code`].
        pub op: u32,
        /// [`Epilogue::mode`].
        pub mode: u32,
        pub act: u32,
        pub slope: f32,
        pub _p0: u32,
        pub _p1: u32,
        pub _p2: u32,
    }
}

/// What the kernel computes of its operands `a`, `b` and `c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// `a / b`.
    Div,
    /// `-(a * b) / (aux * aux)`: a quotient's gradient for its denominator (`a` the gradient,
    /// `b` the numerator, `aux` the denominator, the stored value the epilogue reads too).
    DivDenominator,
    /// `-a`: a difference's gradient for what it subtracts.
    Neg,
}

impl BinOp {
    /// The code `shaders/binary.wgsl` switches on.
    pub fn code(self) -> u32 {
        match self {
            BinOp::Sub => 1,
            BinOp::Mul => 2,
            BinOp::Div => 3,
            BinOp::DivDenominator => 4,
            BinOp::Neg => 5,
        }
    }

    /// How many operands it reads besides `aux`.
    pub fn arity(self) -> usize {
        match self {
            BinOp::Neg => 1,
            _ => 2,
        }
    }

    /// The op's name, as ONNX spells it.
    pub fn name(self) -> &'static str {
        match self {
            BinOp::Sub => "Sub",
            BinOp::Mul => "Mul",
            BinOp::Div => "Div",
            BinOp::DivDenominator => "Div's denominator gradient",
            BinOp::Neg => "Neg",
        }
    }

    #[inline]
    fn apply(self, a: f32, b: f32, c: f32) -> f32 {
        match self {
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::DivDenominator => -(a * b) / (c * c),
            BinOp::Neg => -a,
        }
    }
}

/// `y = act(op(a, b, aux))` (forward) or `y = op(a, b, aux) * act'(aux)` (backward) over `len`
/// values.
#[derive(Debug, Clone)]
pub struct Binary {
    pub label: String,
    pub op: BinOp,
    pub len: usize,
    /// The operands, as many as [`BinOp::arity`].
    pub operands: Vec<BufId>,
    /// The stored activation the backward epilogue reads; for
    /// [`BinOp::DivDenominator`] the denominator (required).
    pub aux: Option<BufId>,
    pub output: BufId,
    pub epilogue: Epilogue,
}

impl Kernel for Binary {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        let op = "binary";
        let err = |detail: String| Err(OpError { op, label: self.label.clone(), detail });
        if self.len == 0 || self.len as u64 > u32::MAX as u64 {
            return err(format!("{} values", self.len));
        }
        if self.operands.len() != self.op.arity() {
            return err(format!("{} reads {} operands, given {}", self.op.name(), self.op.arity(), self.operands.len()));
        }
        if let Epilogue::GradMask(a) = self.epilogue
            && a.code() != 0
            && self.aux.is_none()
        {
            return err("a backward epilogue with an activation reads its stored output".into());
        }
        if self.op == BinOp::DivDenominator
            && (self.aux.is_none()
                || self.epilogue.act() != crate::ops::act::Act::Identity && matches!(self.epilogue, Epilogue::Forward(_)))
        {
            return err("a quotient's denominator gradient reads the denominator, and applies no activation".into());
        }
        let mut others: Vec<Option<BufId>> = self.operands.iter().copied().map(Some).collect();
        others.push(self.aux);
        distinct(op, &self.label, self.output, &others)?;
        for (k, &b) in self.operands.iter().enumerate() {
            need(op, &self.label, ["first operand", "second operand"][k], len(b), self.len)?;
        }
        if let Some(a) = self.aux {
            need(op, &self.label, "stored activation", len(a), self.len)?;
        }
        need(op, &self.label, "output", len(self.output), self.len)
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        mem.with_output(self.output, |mem, y| {
            let ops: Vec<&[f32]> = self.operands.iter().map(|&b| mem.get(b)).collect();
            let at = |k: usize, i: usize| ops.get(k).map_or(0.0, |o| o[i]);
            let aux = self.aux.map(|x| mem.get(x));
            for (i, out) in y[..self.len].iter_mut().enumerate() {
                let stored = aux.map_or(0.0, |a| a[i]);
                let v = self.op.apply(ops[0][i], at(1, i), stored);
                *out = self.epilogue.finish(v, stored);
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        let act = self.epilogue.act();
        let params = BinaryParams {
            len: self.len as u32,
            op: self.op.code(),
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
                Bind::Read(self.operands.first().copied()),
                Bind::Read(self.operands.get(1).copied()),
                Bind::Read(self.aux),
                Bind::Write(self.output),
            ],
            work: Work::Items(self.len as u64),
        }
    }
}
