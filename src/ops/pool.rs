//! `pool`: max and average pooling (`shaders/pool.wgsl`): MaxPool, AveragePool,
//! GlobalAveragePool and a ReduceMean over the image axes. Backward, each input's gradient
//! gathers from the outputs whose window holds it: a share of each average's gradient, or
//! the whole gradient of each window whose maximum it is (found again from the stored input,
//! the first maximum in row-major order, as PyTorch breaks ties), finished by the derivative
//! of the input's producer's activation, read from the same stored input.
//!
//! Owns: this kernel's checks, dispatch, uniform and CPU twin. Must not touch: other ops, backends.

use super::act::Act;
use super::{Bind, BufId, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, need, uniform};

pub static SHADER: Shader = Shader::new("pool", concat!(include_str!("../../shaders/act.wgsl"), include_str!("../../shaders/pool.wgsl")));

uniform! {
    /// `Params` in `shaders/pool.wgsl`.
    pub struct PoolParams mirrors "Params" {
        pub planes: u32,
        pub hin: u32,
        pub win: u32,
        pub hout: u32,
        pub wout: u32,
        pub kh: u32,
        pub kw: u32,
        pub sh: u32,
        pub sw: u32,
        pub pt: u32,
        pub pl: u32,
        pub dh: u32,
        pub dw: u32,
        pub max: u32,
        pub include_pad: u32,
        /// 1 forward, 2 backward.
        pub mode: u32,
        pub act: u32,
        pub slope: f32,
        pub _p0: u32,
        pub _p1: u32,
    }
}

/// Which pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    Max,
    /// An average; `include_pad` counts padded positions in the divisor (up to the padded
    /// input's end).
    Average {
        include_pad: bool,
    },
}

/// The window of a pooling: kernel, strides, leading pads `[top, left]`, dilations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    pub pads: [usize; 2],
    pub dilations: [usize; 2],
}

/// Pooling of `planes` planes of `hin x win` to `hout x wout`; backward (`backward`) its
/// input-gradient from the output's gradient `input`, reading the pooled input `stored`
/// (needed by a max, and by an `act` other than `Identity`).
#[derive(Debug, Clone)]
pub struct Pool {
    pub label: String,
    pub kind: PoolKind,
    pub window: Window,
    pub planes: usize,
    pub hin: usize,
    pub win: usize,
    pub hout: usize,
    pub wout: usize,
    pub input: BufId,
    pub stored: Option<BufId>,
    pub output: BufId,
    pub backward: bool,
    /// Backward: the activation of the pooled input's producer.
    pub act: Act,
}

impl Pool {
    /// The in-bounds input positions of output `(oy, ox)`'s window, in row-major order.
    fn taps(&self, oy: usize, ox: usize) -> impl Iterator<Item = usize> + '_ {
        let w = &self.window;
        let rows = (0..w.kernel[0])
            .filter_map(move |ky| (oy * w.strides[0] + ky * w.dilations[0]).checked_sub(w.pads[0]).filter(|&i| i < self.hin));
        rows.flat_map(move |iy| {
            (0..w.kernel[1])
                .filter_map(move |kx| (ox * w.strides[1] + kx * w.dilations[1]).checked_sub(w.pads[1]).filter(|&i| i < self.win))
                .map(move |ix| iy * self.win + ix)
        })
    }

    /// The divisor of output `(oy, ox)`'s average.
    fn count(&self, oy: usize, ox: usize, include_pad: bool) -> f32 {
        let w = &self.window;
        let (y0, x0) = ((oy * w.strides[0]) as isize - w.pads[0] as isize, (ox * w.strides[1]) as isize - w.pads[1] as isize);
        let (hend, wend) = if include_pad { (self.hin + w.pads[0], self.win + w.pads[1]) } else { (self.hin, self.win) };
        let y1 = (y0 + w.kernel[0] as isize).min(hend as isize);
        let x1 = (x0 + w.kernel[1] as isize).min(wend as isize);
        let (y0, x0) = if include_pad { (y0, x0) } else { (y0.max(0), x0.max(0)) };
        ((y1 - y0) * (x1 - x0)) as f32
    }

    /// The position of output `(oy, ox)`'s first maximum within plane `x`.
    fn argmax(&self, x: &[f32], oy: usize, ox: usize) -> Option<usize> {
        let mut best: Option<(usize, f32)> = None;
        for k in self.taps(oy, ox) {
            let v = x[k];
            if best.is_none_or(|(_, b)| v > b || v.is_nan()) {
                best = Some((k, v));
            }
        }
        best.map(|(k, _)| k)
    }
}

impl Kernel for Pool {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        let op = "pool";
        let err = |detail: String| Err(OpError { op, label: self.label.clone(), detail });
        let w = &self.window;
        let sizes = [
            self.planes,
            self.hin,
            self.win,
            self.hout,
            self.wout,
            w.kernel[0],
            w.kernel[1],
            w.strides[0],
            w.strides[1],
            w.dilations[0],
            w.dilations[1],
        ];
        if sizes.contains(&0) || w.pads.iter().chain(&w.kernel).chain(&w.strides).chain(&w.dilations).any(|&v| v >= 1 << 16) {
            return err(format!("empty sizes or a zero window: {self:?}"));
        }
        if (self.planes * self.hin.max(self.hout) * self.win.max(self.wout)) as u64 > u32::MAX as u64 {
            return err("more than 2^32 - 1 values; split the batch".into());
        }
        if !self.backward && (self.stored.is_some() || self.act != Act::Identity) {
            return err("a forward pooling reads no stored input and applies no activation".into());
        }
        if self.backward && self.stored.is_none() && (self.kind == PoolKind::Max || self.act != Act::Identity) {
            return err("a max's input-gradient, and one with an activation, read the stored input".into());
        }
        distinct(op, &self.label, self.output, &[Some(self.input), self.stored])?;
        let (small, big) = (self.planes * self.hout * self.wout, self.planes * self.hin * self.win);
        let (inp, out) = if self.backward { (small, big) } else { (big, small) };
        need(op, &self.label, "input", len(self.input), inp)?;
        need(op, &self.label, "output", len(self.output), out)?;
        if let Some(s) = self.stored {
            need(op, &self.label, "stored input", len(s), big)?;
        }
        Ok(())
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        let (hin, win, hout, wout) = (self.hin, self.win, self.hout, self.wout);
        mem.with_output(self.output, |mem, y| {
            let x = mem.get(self.input);
            let stored = self.stored.map(|s| mem.get(s));
            for p in 0..self.planes {
                if !self.backward {
                    let xp = &x[p * hin * win..(p + 1) * hin * win];
                    for oy in 0..hout {
                        for ox in 0..wout {
                            y[(p * hout + oy) * wout + ox] = match self.kind {
                                PoolKind::Max => self.argmax(xp, oy, ox).map_or(f32::NEG_INFINITY, |k| xp[k]),
                                PoolKind::Average { include_pad } => {
                                    self.taps(oy, ox).map(|k| xp[k]).sum::<f32>() / self.count(oy, ox, include_pad)
                                }
                            };
                        }
                    }
                    continue;
                }
                // Summed per input in the shader's order: taps ky, then kx.
                let sp = stored.map(|s| &s[p * hin * win..(p + 1) * hin * win]);
                let yp = &mut y[p * hin * win..(p + 1) * hin * win];
                let mut sums = vec![0.0f32; hin * win];
                for (i, sum) in sums.iter_mut().enumerate() {
                    let (iy, ix) = (i / win, i % win);
                    let w = &self.window;
                    for ky in 0..w.kernel[0] {
                        let Some(ty) = (iy + w.pads[0]).checked_sub(ky * w.dilations[0]) else { continue };
                        if ty % w.strides[0] != 0 || ty / w.strides[0] >= hout {
                            continue;
                        }
                        let oy = ty / w.strides[0];
                        for kx in 0..w.kernel[1] {
                            let Some(tx) = (ix + w.pads[1]).checked_sub(kx * w.dilations[1]) else { continue };
                            if tx % w.strides[1] != 0 || tx / w.strides[1] >= wout {
                                continue;
                            }
                            let ox = tx / w.strides[1];
                            let g = x[(p * hout + oy) * wout + ox];
                            match self.kind {
                                PoolKind::Max => {
                                    if self.argmax(sp.expect("checked"), oy, ox) == Some(i) {
                                        *sum += g;
                                    }
                                }
                                PoolKind::Average { include_pad } => *sum += g / self.count(oy, ox, include_pad),
                            }
                        }
                    }
                }
                for (i, (v, s)) in yp.iter_mut().zip(sums).enumerate() {
                    *v = match sp {
                        Some(a) if self.act != Act::Identity => s * self.act.grad_from_output(a[i]),
                        _ => s,
                    };
                }
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        let act = if self.backward { self.act } else { Act::Identity };
        let w = &self.window;
        let params = PoolParams {
            planes: self.planes as u32,
            hin: self.hin as u32,
            win: self.win as u32,
            hout: self.hout as u32,
            wout: self.wout as u32,
            kh: w.kernel[0] as u32,
            kw: w.kernel[1] as u32,
            sh: w.strides[0] as u32,
            sw: w.strides[1] as u32,
            pt: w.pads[0] as u32,
            pl: w.pads[1] as u32,
            dh: w.dilations[0] as u32,
            dw: w.dilations[1] as u32,
            max: (self.kind == PoolKind::Max) as u32,
            include_pad: matches!(self.kind, PoolKind::Average { include_pad: true }) as u32,
            mode: if self.backward { 2 } else { 1 },
            act: act.code(),
            slope: act.slope(),
            ..Default::default()
        };
        let items = if self.backward { self.planes * self.hin * self.win } else { self.planes * self.hout * self.wout };
        Dispatch {
            shader: &SHADER,
            entry: "main",
            binds: vec![
                Bind::Params(ParamBlock::of(&params)),
                Bind::Read(Some(self.input)),
                Bind::Read(self.stored),
                Bind::Write(self.output),
            ],
            work: Work::Items(items as u64),
        }
    }

    fn cost(&self) -> super::Cost {
        let items = (self.planes * self.hout * self.wout) as f64;
        let taps = (self.window.kernel[0] * self.window.kernel[1]) as f64;
        super::Cost { flop: items * taps, bytes: 4.0 * (items * (taps + 1.0)) }
    }
}
