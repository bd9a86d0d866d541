//! `conv_general`: 2-D convolutions and transposed convolutions of any shape (kernel
//! height and width, strides and dilations per axis, leading pads per axis, groups), one
//! output value per invocation (`shaders/conv_general.wgsl`). The tiled kernels
//! ([`super::conv2d`], [`super::conv_transpose2d`]) keep the square shapes they serve; the
//! lowering picks this one for the others. A convolution's input-gradient is the transposed
//! convolution with the same weights and attributes, and the other way round, so each
//! direction is this kernel again.
//!
//! Owns: this kernel's checks, dispatch, uniform and CPU twin. Must not touch: other ops, backends.

use super::act::Epilogue;
use super::{Bind, BufId, Cost, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, need, uniform};

pub static SHADER: Shader =
    Shader::new("conv_general", concat!(include_str!("../../shaders/act.wgsl"), include_str!("../../shaders/conv_general.wgsl")));

uniform! {
    /// `Params` in `shaders/conv_general.wgsl`.
    pub struct ConvGeneralParams mirrors "Params" {
        pub n: u32,
        pub cin: u32,
        pub hin: u32,
        pub win: u32,
        pub cout: u32,
        pub hout: u32,
        pub wout: u32,
        pub kh: u32,
        pub kw: u32,
        pub sh: u32,
        pub sw: u32,
        pub pt: i32,
        pub pl: i32,
        pub dh: u32,
        pub dw: u32,
        pub group: u32,
        pub transpose: u32,
        pub has_bias: u32,
        /// [`Epilogue::mode`].
        pub mode: u32,
        pub act: u32,
        pub slope: f32,
        pub _p0: u32,
        pub _p1: u32,
        pub _p2: u32,
    }
}

/// A convolution (`transpose` false: weight `(cout, cin / group, kh, kw)`) or transposed
/// convolution (weight `(cin, cout / group, kh, kw)`) of `n` rows of `(cin, hin, win)` to
/// `(cout, hout, wout)`, the output size given (a transposed convolution's output padding is
/// in it). `pads` are the leading pads `[top, left]`.
#[derive(Debug, Clone)]
pub struct ConvGeneral {
    pub label: String,
    pub transpose: bool,
    pub n: usize,
    /// `[cin, hin, win]`.
    pub x: [usize; 3],
    /// `[cout, hout, wout]`.
    pub y: [usize; 3],
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub pads: [usize; 2],
    pub dilations: [usize; 2],
    pub group: usize,
    pub input: BufId,
    pub weight: BufId,
    pub bias: Option<BufId>,
    pub aux: Option<BufId>,
    pub output: BufId,
    pub epilogue: Epilogue,
}

impl ConvGeneral {
    /// The input index tap `k` of output index `o` reads along an axis, if any.
    #[inline]
    fn tap(&self, axis: usize, o: usize, k: usize) -> Option<usize> {
        let (s, p, d, size) = (self.strides[axis], self.pads[axis], self.dilations[axis], self.x[axis + 1]);
        if !self.transpose {
            let i = (o * s + k * d).checked_sub(p)?;
            return (i < size).then_some(i);
        }
        let t = (o + p).checked_sub(k * d)?;
        (t % s == 0 && t / s < size).then_some(t / s)
    }

    fn weight_len(&self) -> usize {
        let [cin, _, _] = self.x;
        let [cout, _, _] = self.y;
        (if self.transpose { cin * (cout / self.group) } else { cout * (cin / self.group) }) * self.kernel[0] * self.kernel[1]
    }
}

impl Kernel for ConvGeneral {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        let op = "conv_general";
        let err = |detail: String| Err(OpError { op, label: self.label.clone(), detail });
        let sizes = [self.n, self.x[0], self.x[1], self.x[2], self.y[0], self.y[1], self.y[2], self.group];
        if sizes.contains(&0) || self.kernel.contains(&0) || self.strides.contains(&0) || self.dilations.contains(&0) {
            return err(format!("empty sizes or a zero kernel, stride, dilation or group: {self:?}"));
        }
        if !self.x[0].is_multiple_of(self.group) || !self.y[0].is_multiple_of(self.group) {
            return err(format!("{} and {} channels are not in {} groups", self.x[0], self.y[0], self.group));
        }
        let most = (self.n * self.x.iter().product::<usize>()).max(self.n * self.y.iter().product::<usize>()).max(self.weight_len());
        let reach = self.pads.iter().chain(&self.strides).chain(&self.dilations).chain(&self.kernel).all(|&v| v < 1 << 16);
        if most as u64 > u32::MAX as u64 || !reach {
            return err("more than 2^32 - 1 values, or attributes above 65535; split the batch".into());
        }
        match self.epilogue {
            Epilogue::Forward(_) if self.aux.is_some() => return err("a forward epilogue reads no stored activation".into()),
            Epilogue::GradMask(a) if self.bias.is_some() || (a.code() != 0 && self.aux.is_none()) => {
                return err("a backward epilogue adds no bias, and reads a stored activation when it has one".into());
            }
            _ => {}
        }
        distinct(op, &self.label, self.output, &[Some(self.input), Some(self.weight), self.bias, self.aux])?;
        let out = self.n * self.y.iter().product::<usize>();
        need(op, &self.label, "input", len(self.input), self.n * self.x.iter().product::<usize>())?;
        need(op, &self.label, "weight", len(self.weight), self.weight_len())?;
        need(op, &self.label, "output", len(self.output), out)?;
        if let Some(b) = self.bias {
            need(op, &self.label, "bias", len(b), self.y[0])?;
        }
        if let Some(a) = self.aux {
            need(op, &self.label, "stored activation", len(a), out)?;
        }
        Ok(())
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        let [cin, hin, win] = self.x;
        let [cout, hout, wout] = self.y;
        let [kh, kw] = self.kernel;
        let (cin_g, cout_g) = (cin / self.group, cout / self.group);
        let taps_x: Vec<Vec<Option<usize>>> = (0..wout).map(|ox| (0..kw).map(|kx| self.tap(1, ox, kx)).collect()).collect();
        mem.with_output(self.output, |mem, y| {
            let (x, w) = (mem.get(self.input), mem.get(self.weight));
            let bias = self.bias.map(|b| mem.get(b));
            let aux = self.aux.map(|a| mem.get(a));
            for r in 0..self.n {
                for co in 0..cout {
                    let g = co / cout_g;
                    for oy in 0..hout {
                        let taps_y: Vec<Option<usize>> = (0..kh).map(|ky| self.tap(0, oy, ky)).collect();
                        for (ox, taps_ox) in taps_x.iter().enumerate() {
                            let mut sum = 0.0f32;
                            for j in 0..cin_g {
                                let ci = g * cin_g + j;
                                let xbase = (r * cin + ci) * hin * win;
                                let wbase = if self.transpose { (ci * cout_g + co % cout_g) * kh * kw } else { (co * cin_g + j) * kh * kw };
                                for (ky, iy) in taps_y.iter().enumerate() {
                                    let Some(iy) = iy else { continue };
                                    for (kx, ix) in taps_ox.iter().enumerate() {
                                        if let Some(ix) = ix {
                                            sum += w[wbase + ky * kw + kx] * x[xbase + iy * win + ix];
                                        }
                                    }
                                }
                            }
                            let i = ((r * cout + co) * hout + oy) * wout + ox;
                            let total = sum + bias.map_or(0.0, |b| b[co]);
                            y[i] = self.epilogue.finish(total, aux.map_or(0.0, |a| a[i]));
                        }
                    }
                }
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        let act = self.epilogue.act();
        let params = ConvGeneralParams {
            n: self.n as u32,
            cin: self.x[0] as u32,
            hin: self.x[1] as u32,
            win: self.x[2] as u32,
            cout: self.y[0] as u32,
            hout: self.y[1] as u32,
            wout: self.y[2] as u32,
            kh: self.kernel[0] as u32,
            kw: self.kernel[1] as u32,
            sh: self.strides[0] as u32,
            sw: self.strides[1] as u32,
            pt: self.pads[0] as i32,
            pl: self.pads[1] as i32,
            dh: self.dilations[0] as u32,
            dw: self.dilations[1] as u32,
            group: self.group as u32,
            transpose: self.transpose as u32,
            has_bias: self.bias.is_some() as u32,
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
                Bind::Read(Some(self.weight)),
                Bind::Read(self.bias.or(self.aux)),
                Bind::Write(self.output),
            ],
            work: Work::Items((self.n * self.y.iter().product::<usize>()) as u64),
        }
    }

    fn cost(&self) -> Cost {
        // Every output visits every tap of its group (a transposed convolution skips the taps
        // that fall between strides, counted here all the same).
        let outs = (self.n * self.y.iter().product::<usize>()) as f64;
        let taps = (self.x[0] / self.group * self.kernel[0] * self.kernel[1]) as f64;
        Cost { flop: 2.0 * outs * taps, bytes: 4.0 * (outs * (taps + 1.0)) }
    }
}
