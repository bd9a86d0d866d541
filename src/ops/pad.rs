//! `pad`: planes moved by an offset into planes of another size, the uncovered positions
//! set to a constant (`shaders/pad.wgsl`): ONNX's Pad in constant mode on the last two axes
//! (negative pads crop); backward the same move the other way, which keeps the gradient of
//! what the forward kept, finished by the derivative of the input's producer's activation.
//!
//! Owns: this kernel's checks, dispatch, uniform and CPU twin. Must not touch: other ops, backends.

use super::act::Epilogue;
use super::{Bind, BufId, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, moves_only, need, uniform};

pub static SHADER: Shader = Shader::new("pad", concat!(include_str!("../../shaders/act.wgsl"), include_str!("../../shaders/pad.wgsl")));

uniform! {
    /// `Params` in `shaders/pad.wgsl`.
    pub struct PadParams mirrors "Params" {
        pub planes: u32,
        pub hin: u32,
        pub win: u32,
        pub hout: u32,
        pub wout: u32,
        pub top: i32,
        pub left: i32,
        pub value: f32,
        /// [`Epilogue::mode`].
        pub mode: u32,
        pub act: u32,
        pub slope: f32,
        pub _p0: u32,
    }
}

/// `y[p, oy, ox] = x[p, oy - top, ox - left]` where inside `hin x win`, else `value`; backward
/// (`GradMask`) multiplied by `act'(aux)`, `aux` laid out as `y`.
#[derive(Debug, Clone)]
pub struct Pad {
    pub label: String,
    pub planes: usize,
    pub hin: usize,
    pub win: usize,
    pub hout: usize,
    pub wout: usize,
    pub top: isize,
    pub left: isize,
    pub value: f32,
    pub input: BufId,
    pub aux: Option<BufId>,
    pub output: BufId,
    /// Forward pads; the activation of a forward epilogue must be `Identity`.
    pub epilogue: Epilogue,
}

impl Pad {
    /// The input index output index `o` reads along an axis of `size` moved by `shift`.
    fn source(o: usize, shift: isize, size: usize) -> Option<usize> {
        let i = o as isize - shift;
        (0..size as isize).contains(&i).then_some(i as usize)
    }
}

impl Kernel for Pad {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        let op = "pad";
        let err = |detail: String| Err(OpError { op, label: self.label.clone(), detail });
        if [self.planes, self.hin, self.win, self.hout, self.wout].contains(&0) || !self.value.is_finite() {
            return err(format!("empty planes or a value that is not finite: {self:?}"));
        }
        let big = (self.planes * self.hin.max(self.hout) * self.win.max(self.wout)) as u64;
        if big > u32::MAX as u64 || self.top.unsigned_abs() > 1 << 24 || self.left.unsigned_abs() > 1 << 24 {
            return err("more than 2^32 - 1 values; split the batch".into());
        }
        moves_only(op, &self.label, self.epilogue, self.aux)?;
        distinct(op, &self.label, self.output, &[Some(self.input), self.aux])?;
        let out = self.planes * self.hout * self.wout;
        need(op, &self.label, "input", len(self.input), self.planes * self.hin * self.win)?;
        need(op, &self.label, "output", len(self.output), out)?;
        if let Some(a) = self.aux {
            need(op, &self.label, "stored activation", len(a), out)?;
        }
        Ok(())
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        let (hin, win, hout, wout) = (self.hin, self.win, self.hout, self.wout);
        let sx: Vec<Option<usize>> = (0..wout).map(|o| Pad::source(o, self.left, win)).collect();
        mem.with_output(self.output, |mem, y| {
            let x = mem.get(self.input);
            let aux = self.aux.map(|a| mem.get(a));
            for p in 0..self.planes {
                for oy in 0..hout {
                    let row = Pad::source(oy, self.top, hin);
                    for (ox, &col) in sx.iter().enumerate() {
                        let i = (p * hout + oy) * wout + ox;
                        let v = match (row, col) {
                            (Some(iy), Some(ix)) => x[(p * hin + iy) * win + ix],
                            _ => self.value,
                        };
                        y[i] = self.epilogue.finish(v, aux.map_or(0.0, |a| a[i]));
                    }
                }
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        let act = self.epilogue.act();
        let params = PadParams {
            planes: self.planes as u32,
            hin: self.hin as u32,
            win: self.win as u32,
            hout: self.hout as u32,
            wout: self.wout as u32,
            top: self.top as i32,
            left: self.left as i32,
            value: self.value,
            mode: self.epilogue.mode(),
            act: act.code(),
            slope: act.slope(),
            _p0: 0,
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
            work: Work::Items((self.planes * self.hout * self.wout) as u64),
        }
    }
}
