//! `resize`: nearest-neighbour resizing, ONNX's Resize with asymmetric coordinates and floor
//! rounding (`shaders/resize.wgsl`); backward, its input-gradient, each input pixel the sum
//! of the outputs it was copied to, finished by the derivative of the input's producer's
//! activation.
//!
//! Owns: this kernel's checks, dispatch, uniform and CPU twin. Must not touch: other ops, backends.

use super::act::Act;
use super::{Bind, BufId, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, need, uniform};

pub static SHADER: Shader =
    Shader::new("resize", concat!(include_str!("../../shaders/act.wgsl"), include_str!("../../shaders/resize.wgsl")));

uniform! {
    /// `Params` in `shaders/resize.wgsl`.
    pub struct ResizeParams mirrors "Params" {
        /// Rows x channels.
        pub planes: u32,
        pub hin: u32,
        pub win: u32,
        pub hout: u32,
        pub wout: u32,
        pub inv_h: f32,
        pub inv_w: f32,
        /// 1 forward, 2 backward.
        pub mode: u32,
        pub act: u32,
        pub slope: f32,
        pub _p0: u32,
        pub _p1: u32,
    }
}

/// Nearest-neighbour resizing of `planes` planes of `hin x win` to `hout x wout`: output
/// `(oy, ox)` copies input `(floor(oy * inv_h), floor(ox * inv_w))` (clamped). Backward it
/// maps a gradient of the output to one of the input, multiplied by `act'(aux)`.
#[derive(Debug, Clone)]
pub struct Resize {
    pub label: String,
    pub planes: usize,
    pub hin: usize,
    pub win: usize,
    pub hout: usize,
    pub wout: usize,
    /// The inverse of the scale along each axis, as f32 (as PyTorch computes the source).
    pub inv: [f32; 2],
    pub input: BufId,
    pub aux: Option<BufId>,
    pub output: BufId,
    pub backward: bool,
    /// Backward: the activation whose derivative at `aux` finishes the gradient.
    pub act: Act,
}

/// The input index output index `o` copies, of an axis of `size`.
pub fn source(o: usize, inv: f32, size: usize) -> usize {
    ((o as f32 * inv).floor() as usize).min(size - 1)
}

impl Kernel for Resize {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        let op = "resize";
        let err = |detail: String| Err(OpError { op, label: self.label.clone(), detail });
        if [self.planes, self.hin, self.win, self.hout, self.wout].contains(&0) || !self.inv.iter().all(|v| v.is_finite() && *v > 0.0) {
            return err(format!("empty or non-finite sizes {self:?}"));
        }
        if (self.planes * self.hout.max(self.hin) * self.wout.max(self.win)) as u64 > u32::MAX as u64 {
            return err("more than 2^32 - 1 values; split the batch".into());
        }
        // The backward gather scans a window of the outputs around each input pixel.
        if self.backward && (self.hout > 64 * self.hin || self.wout > 64 * self.win) {
            return err("scales above 64 are not supported".into());
        }
        distinct(op, &self.label, self.output, &[Some(self.input), self.aux])?;
        let (small, big) = (self.planes * self.hin * self.win, self.planes * self.hout * self.wout);
        let (inp, out) = if self.backward { (big, small) } else { (small, big) };
        need(op, &self.label, "input", len(self.input), inp)?;
        need(op, &self.label, "output", len(self.output), out)?;
        if let Some(a) = self.aux {
            need(op, &self.label, "stored activation", len(a), small)?;
        }
        Ok(())
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        let (hin, win, hout, wout) = (self.hin, self.win, self.hout, self.wout);
        let sy: Vec<usize> = (0..hout).map(|o| source(o, self.inv[0], hin)).collect();
        let sx: Vec<usize> = (0..wout).map(|o| source(o, self.inv[1], win)).collect();
        mem.with_output(self.output, |mem, y| {
            let x = mem.get(self.input);
            if !self.backward {
                for p in 0..self.planes {
                    for oy in 0..hout {
                        for ox in 0..wout {
                            y[(p * hout + oy) * wout + ox] = x[(p * hin + sy[oy]) * win + sx[ox]];
                        }
                    }
                }
                return;
            }
            let aux = self.aux.map(|a| mem.get(a));
            let act = self.act;
            // Summed in the shader's order: output rows, then columns, ascending.
            let mut sums = vec![0.0f32; self.planes * hin * win];
            for p in 0..self.planes {
                for oy in 0..hout {
                    for ox in 0..wout {
                        sums[(p * hin + sy[oy]) * win + sx[ox]] += x[(p * hout + oy) * wout + ox];
                    }
                }
            }
            for (i, s) in sums.into_iter().enumerate() {
                y[i] = match aux {
                    Some(a) if act.code() != 0 => s * act.grad_from_output(a[i]),
                    _ => s,
                };
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        let act = if self.backward { self.act } else { Act::Identity };
        let params = ResizeParams {
            planes: self.planes as u32,
            hin: self.hin as u32,
            win: self.win as u32,
            hout: self.hout as u32,
            wout: self.wout as u32,
            inv_h: self.inv[0],
            inv_w: self.inv[1],
            mode: if self.backward { 2 } else { 1 },
            act: act.code(),
            slope: act.slope(),
            _p0: 0,
            _p1: 0,
        };
        let items = if self.backward { self.planes * self.hin * self.win } else { self.planes * self.hout * self.wout };
        Dispatch {
            shader: &SHADER,
            entry: "main",
            binds: vec![
                Bind::Params(ParamBlock::of(&params)),
                Bind::Read(Some(self.input)),
                Bind::Read(self.aux),
                Bind::Write(self.output),
            ],
            work: Work::Items(items as u64),
        }
    }
}
