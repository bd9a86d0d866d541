//! `bilinear`: bilinear resizing of `(c, h, w)` planes, separable (`shaders/bilinear.wgsl`),
//! with the source coordinates of ONNX's Resize in linear mode and of PyTorch's
//! `F.interpolate(mode="bilinear")`; backward, its input-gradient as a gather (each input
//! pixel sums the outputs it feeds, weighted), finished by the derivative of the input's
//! producer's activation. Each axis is described by a table of indices and weights the host
//! computes once ([`table`]), in f32 as PyTorch computes them.
//!
//! Owns: this kernel's checks, dispatch, uniform, tables and CPU twin. Must not touch: other
//! ops, backends.

use super::act::Act;
use super::{Bind, BufId, CpuMemory, Dispatch, Kernel, OpError, ParamBlock, Shader, StepParams, Work, distinct, need, uniform};

pub static SHADER: Shader =
    Shader::new("bilinear", concat!(include_str!("../../shaders/act.wgsl"), include_str!("../../shaders/bilinear.wgsl")));

uniform! {
    /// `Params` in `shaders/bilinear.wgsl`.
    pub struct BilinearParams mirrors "Params" {
        pub planes: u32,
        pub hin: u32,
        pub win: u32,
        pub hout: u32,
        pub wout: u32,
        /// 1 forward, 2 backward.
        pub mode: u32,
        pub act: u32,
        pub slope: f32,
        /// Where the width's table starts in the tables' buffer.
        pub tw: u32,
        pub _p0: u32,
        pub _p1: u32,
        pub _p2: u32,
    }
}

/// How an output index maps to a source coordinate (ONNX's `coordinate_transformation_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coord {
    /// `(o + 0.5) / scale - 0.5`: `align_corners=False`.
    HalfPixel,
    /// The same, but 0 where the output has one pixel.
    PytorchHalfPixel,
    /// `o (in - 1) / (out - 1)`: `align_corners=True`.
    AlignCorners,
    /// `o / scale`.
    Asymmetric,
}

impl Coord {
    pub fn name(self) -> &'static str {
        match self {
            Coord::HalfPixel => "half_pixel",
            Coord::PytorchHalfPixel => "pytorch_half_pixel",
            Coord::AlignCorners => "align_corners",
            Coord::Asymmetric => "asymmetric",
        }
    }
}

/// Output `o`'s two inputs and their weights along an axis of `size` inputs and `out`
/// outputs, `inv` the inverse of the scale, as PyTorch's CPU kernel computes them in f32:
/// the source clamped at 0, its floor the first input, the next (or the same, at the end)
/// the second.
pub fn taps(coord: Coord, inv: f32, size: usize, out: usize, o: usize) -> (usize, usize, f32, f32) {
    let half = |s: f32| (s * (o as f32 + 0.5) - 0.5).max(0.0);
    let src = match coord {
        Coord::HalfPixel => half(inv),
        Coord::PytorchHalfPixel if out > 1 => half(inv),
        Coord::PytorchHalfPixel => 0.0,
        Coord::AlignCorners if out > 1 => (size - 1) as f32 / (out - 1) as f32 * o as f32,
        Coord::AlignCorners => 0.0,
        Coord::Asymmetric => inv * o as f32,
    };
    let i0 = (src.floor() as usize).min(size - 1);
    let l1 = (src - i0 as f32).clamp(0.0, 1.0);
    let i1 = i0 + usize::from(i0 < size - 1);
    (i0, i1, 1.0 - l1, l1)
}

/// The table of one axis (layout in `shaders/bilinear.wgsl`): each output's taps, then for
/// each input the outputs it feeds with their weights.
pub fn table(coord: Coord, inv: f32, size: usize, out: usize) -> Vec<f32> {
    let taps: Vec<_> = (0..out).map(|o| taps(coord, inv, size, out, o)).collect();
    let mut feeds: Vec<Vec<(usize, f32)>> = vec![Vec::new(); size];
    for (o, &(i0, i1, l0, l1)) in taps.iter().enumerate() {
        feeds[i0].push((o, l0));
        feeds[i1].push((o, l1));
    }
    let mut t: Vec<f32> = taps.iter().flat_map(|&(i0, i1, l0, l1)| [i0 as f32, i1 as f32, l0, l1]).collect();
    let mut at = 4 * out + size + 1;
    for f in &feeds {
        t.push(at as f32);
        at += 2 * f.len();
    }
    t.push(at as f32);
    t.extend(feeds.iter().flatten().flat_map(|&(o, w)| [o as f32, w]));
    t
}

/// Table length of an axis of `size` inputs and `out` outputs.
pub fn table_len(size: usize, out: usize) -> usize {
    4 * out + size + 1 + 4 * out
}

/// The tables of both axes, one buffer: the height's, then the width's.
pub fn tables(coord: Coord, inv: [f32; 2], input: [usize; 2], output: [usize; 2]) -> Vec<f32> {
    let mut t = table(coord, inv[0], input[0], output[0]);
    t.extend(table(coord, inv[1], input[1], output[1]));
    t
}

/// Bilinear resizing of `planes` planes of `hin x win` to `hout x wout` by the tables of
/// [`tables`]; backward (`backward`) its input-gradient, multiplied by `act'(aux)`.
#[derive(Debug, Clone)]
pub struct Bilinear {
    pub label: String,
    pub planes: usize,
    pub hin: usize,
    pub win: usize,
    pub hout: usize,
    pub wout: usize,
    /// [`tables`].
    pub tables: BufId,
    pub input: BufId,
    pub aux: Option<BufId>,
    pub output: BufId,
    pub backward: bool,
    /// Backward: the activation whose derivative at `aux` finishes the gradient.
    pub act: Act,
}

/// A table read back: `(i0, i1, l0, l1)` of output `o`, and the entries of input `i`.
fn tap_of(t: &[f32], o: usize) -> (usize, usize, f32, f32) {
    (t[4 * o] as usize, t[4 * o + 1] as usize, t[4 * o + 2], t[4 * o + 3])
}

fn feeds(t: &[f32], out: usize, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
    let (a, b) = (t[4 * out + i] as usize, t[4 * out + i + 1] as usize);
    t[a..b].chunks(2).map(|e| (e[0] as usize, e[1]))
}

impl Kernel for Bilinear {
    fn check(&self, len: &dyn Fn(BufId) -> usize) -> Result<(), OpError> {
        let op = "bilinear";
        let err = |detail: String| Err(OpError { op, label: self.label.clone(), detail });
        if [self.planes, self.hin, self.win, self.hout, self.wout].contains(&0) {
            return err(format!("empty sizes {self:?}"));
        }
        if (self.planes * self.hout.max(self.hin) * self.wout.max(self.win)) as u64 > u32::MAX as u64 || self.hout.max(self.wout) > 1 << 22
        {
            return err("more than 2^32 - 1 values; split the batch".into());
        }
        if !self.backward && (self.aux.is_some() || self.act != Act::Identity) {
            return err("a forward resize applies no activation".into());
        }
        if self.backward && self.act != Act::Identity && self.aux.is_none() {
            return err("a backward epilogue with an activation reads its stored output".into());
        }
        distinct(op, &self.label, self.output, &[Some(self.input), Some(self.tables), self.aux])?;
        let (small, big) = (self.planes * self.hin * self.win, self.planes * self.hout * self.wout);
        let (inp, out) = if self.backward { (big, small) } else { (small, big) };
        need(op, &self.label, "input", len(self.input), inp)?;
        need(op, &self.label, "output", len(self.output), out)?;
        need(op, &self.label, "tables", len(self.tables), table_len(self.hin, self.hout) + table_len(self.win, self.wout))?;
        if let Some(a) = self.aux {
            need(op, &self.label, "stored activation", len(a), small)?;
        }
        Ok(())
    }

    fn run_cpu(&self, mem: &mut CpuMemory, _: StepParams) {
        let (hin, win, hout, wout) = (self.hin, self.win, self.hout, self.wout);
        mem.with_output(self.output, |mem, y| {
            let (x, t) = (mem.get(self.input), mem.get(self.tables));
            let (th, tw) = t.split_at(table_len(hin, hout));
            if !self.backward {
                for p in 0..self.planes {
                    for oy in 0..hout {
                        let (r0, r1, ly0, ly1) = tap_of(th, oy);
                        let (r0, r1) = ((p * hin + r0) * win, (p * hin + r1) * win);
                        for ox in 0..wout {
                            let (c0, c1, lx0, lx1) = tap_of(tw, ox);
                            y[(p * hout + oy) * wout + ox] =
                                ly0 * (lx0 * x[r0 + c0] + lx1 * x[r0 + c1]) + ly1 * (lx0 * x[r1 + c0] + lx1 * x[r1 + c1]);
                        }
                    }
                }
                return;
            }
            let aux = self.aux.map(|a| mem.get(a));
            for p in 0..self.planes {
                for iy in 0..hin {
                    for ix in 0..win {
                        let mut sum = 0.0f32;
                        for (oy, wy) in feeds(th, hout, iy) {
                            let row = (p * hout + oy) * wout;
                            let inner: f32 = feeds(tw, wout, ix).map(|(ox, wx)| wx * x[row + ox]).sum();
                            sum += wy * inner;
                        }
                        let i = (p * hin + iy) * win + ix;
                        y[i] = match aux {
                            Some(a) if self.act != Act::Identity => sum * self.act.grad_from_output(a[i]),
                            _ => sum,
                        };
                    }
                }
            }
        });
    }

    fn dispatch(&self) -> Dispatch {
        let act = if self.backward { self.act } else { Act::Identity };
        let params = BilinearParams {
            planes: self.planes as u32,
            hin: self.hin as u32,
            win: self.win as u32,
            hout: self.hout as u32,
            wout: self.wout as u32,
            mode: if self.backward { 2 } else { 1 },
            act: act.code(),
            slope: act.slope(),
            tw: table_len(self.hin, self.hout) as u32,
            ..Default::default()
        };
        let items = if self.backward { self.planes * self.hin * self.win } else { self.planes * self.hout * self.wout };
        Dispatch {
            shader: &SHADER,
            entry: "main",
            binds: vec![
                Bind::Params(ParamBlock::of(&params)),
                Bind::Read(Some(self.input)),
                Bind::Read(Some(self.tables)),
                Bind::Read(self.aux),
                Bind::Write(self.output),
            ],
            work: Work::Items(items as u64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Source coordinates worked by hand from PyTorch's documented formulas.
    #[test]
    fn taps_follow_the_coordinate_modes() {
        // 4 -> 8, half pixel: o = 0 -> src max(0.5 * 0.5 - 0.5, 0) = 0; o = 3 -> 1.25; o = 7 -> 3.25 -> (3, 3).
        assert_eq!(taps(Coord::HalfPixel, 0.5, 4, 8, 0), (0, 1, 1.0, 0.0));
        assert_eq!(taps(Coord::HalfPixel, 0.5, 4, 8, 3), (1, 2, 0.75, 0.25));
        assert_eq!(taps(Coord::HalfPixel, 0.5, 4, 8, 7), (3, 3, 0.75, 0.25));
        // align corners, 3 -> 5: o = 3 -> 3 * 2 / 4 = 1.5.
        assert_eq!(taps(Coord::AlignCorners, 0.0, 3, 5, 3), (1, 2, 0.5, 0.5));
        assert_eq!(taps(Coord::PytorchHalfPixel, 0.25, 4, 1, 0), (0, 1, 1.0, 0.0));
        // Downscaling 8 -> 3 by sizes: inv 8/3, o = 1 -> 8/3 * 1.5 - 0.5 = 3.5.
        let (i0, i1, l0, l1) = taps(Coord::HalfPixel, 8.0 / 3.0, 8, 3, 1);
        assert_eq!((i0, i1), (3, 4));
        assert!((l0 - 0.5).abs() < 1e-6 && (l1 - 0.5).abs() < 1e-6);
        // Every output's weights appear once among its inputs' entries.
        let t = table(Coord::HalfPixel, 0.5, 4, 8);
        assert_eq!(t.len(), table_len(4, 8));
        let total: f32 = (0..4).flat_map(|i| feeds(&t, 8, i).map(|(_, w)| w)).sum();
        assert!((total - 8.0).abs() < 1e-5, "{total}");
    }
}
