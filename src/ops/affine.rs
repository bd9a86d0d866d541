//! `affine`: a per-channel affine map and an activation, elementwise (`shaders/affine.wgsl`):
//! a BatchNorm that follows no convolution, a product or sum with a constant, an activation
//! on its own; backward, its input-gradient (the scale) finished by the derivative of the
//! input's producer's activation, as the convolutions' epilogue does.
//!
//! Owns: this kernel's checks, dispatch, uniform and CPU twin. Must not touch: other ops, backends.

use super::act::{Act, Epilogue};
use super::{Bind, BufId, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, need, uniform};

pub static SHADER: Shader =
    Shader::new("affine", concat!(include_str!("../../shaders/act.wgsl"), include_str!("../../shaders/affine.wgsl")));

uniform! {
    /// `Params` in `shaders/affine.wgsl`.
    pub struct AffineParams mirrors "Params" {
        pub len: u32,
        pub channels: u32,
        pub spatial: u32,
        /// [`Epilogue::mode`].
        pub mode: u32,
        /// [`Act::code`].
        pub act: u32,
        pub slope: f32,
        pub has_scale: u32,
        pub has_shift: u32,
    }
}

/// `y = act(x * scale[c] + shift[c])` over `rows` rows of `channels x spatial` values
/// (forward), or `y = x * scale[c] * act'(aux)` (backward); a missing scale is 1, a missing
/// shift 0.
#[derive(Debug, Clone)]
pub struct Affine {
    pub label: String,
    pub rows: usize,
    /// Values of one row: a multiple of `channels x spatial`.
    pub row_len: usize,
    pub channels: usize,
    pub spatial: usize,
    pub input: BufId,
    /// `(channels)`.
    pub scale: Option<BufId>,
    /// `(channels)`, forward only.
    pub shift: Option<BufId>,
    /// The stored output the backward epilogue reads.
    pub aux: Option<BufId>,
    pub output: BufId,
    pub epilogue: Epilogue,
}

impl Affine {
    fn params(&self) -> AffineParams {
        let act = self.epilogue.act();
        AffineParams {
            len: (self.rows * self.row_len) as u32,
            channels: self.channels as u32,
            spatial: self.spatial as u32,
            mode: self.epilogue.mode(),
            act: act.code(),
            slope: act.slope(),
            has_scale: self.scale.is_some() as u32,
            has_shift: self.shift.is_some() as u32,
        }
    }

    /// The one operand binding: the shift forward, the stored activation backward.
    fn extra(&self) -> Option<BufId> {
        match self.epilogue {
            Epilogue::Forward(_) => self.shift,
            Epilogue::GradMask(_) => self.aux,
        }
    }
}

impl Kernel for Affine {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        let op = "affine";
        let err = |detail: String| Err(OpError { op, label: self.label.clone(), detail });
        if self.channels == 0 || self.spatial == 0 || !self.row_len.is_multiple_of(self.channels * self.spatial) {
            return err(format!("rows of {} values are not made of {} channels of {}", self.row_len, self.channels, self.spatial));
        }
        if (self.rows * self.row_len) as u64 > u32::MAX as u64 {
            return err("more than 2^32 - 1 values; split the batch".into());
        }
        match self.epilogue {
            Epilogue::Forward(_) if self.aux.is_some() => return err("a forward epilogue reads no stored activation".into()),
            Epilogue::GradMask(a) if self.shift.is_some() || (self.aux.is_none() && a != Act::Identity) => {
                return err("a backward epilogue takes no shift, and a stored activation unless it has none".into());
            }
            _ => {}
        }
        distinct(op, &self.label, self.output, &[Some(self.input), self.scale, self.shift, self.aux])?;
        let n = self.rows * self.row_len;
        need(op, &self.label, "input", len(self.input), n)?;
        need(op, &self.label, "output", len(self.output), n)?;
        for b in [self.scale, self.shift].into_iter().flatten() {
            need(op, &self.label, "scale and shift", len(b), self.channels)?;
        }
        if let Some(a) = self.aux {
            need(op, &self.label, "stored activation", len(a), n)?;
        }
        Ok(())
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        let n = self.rows * self.row_len;
        mem.with_output(self.output, |mem, y| {
            let x = mem.get(self.input);
            let scale = self.scale.map(|b| mem.get(b));
            let extra = self.extra().map(|b| mem.get(b));
            // A run of `spatial` values at a time, all of one channel.
            for (k, run) in y[..n].chunks_mut(self.spatial).enumerate() {
                let (c, at) = (k % self.channels, k * self.spatial);
                let xs = &x[at..at + run.len()];
                let s = scale.map_or(1.0, |s| s[c]);
                let scaled = |i: usize| if scale.is_some() { xs[i] * s } else { xs[i] };
                match (self.epilogue, extra) {
                    (Epilogue::GradMask(a), Some(aux)) => {
                        let aux = &aux[at..at + run.len()];
                        run.iter_mut().enumerate().for_each(|(i, out)| *out = scaled(i) * a.grad_from_output(aux[i]));
                    }
                    (Epilogue::GradMask(_), None) => run.iter_mut().enumerate().for_each(|(i, out)| *out = scaled(i)),
                    (Epilogue::Forward(a), Some(shift)) => {
                        let b = shift[c];
                        run.iter_mut().enumerate().for_each(|(i, out)| *out = a.apply(scaled(i) + b));
                    }
                    (Epilogue::Forward(a), None) => run.iter_mut().enumerate().for_each(|(i, out)| *out = a.apply(scaled(i))),
                }
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        Dispatch {
            shader: &SHADER,
            entry: "main",
            binds: vec![
                Bind::Params(ParamBlock::of(&self.params())),
                Bind::Read(Some(self.input)),
                Bind::Read(self.scale),
                Bind::Read(self.extra()),
                Bind::Write(self.output),
            ],
            work: Work::Items((self.rows * self.row_len) as u64),
        }
    }
}
