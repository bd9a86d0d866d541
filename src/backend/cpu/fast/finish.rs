//! The fast CPU path's epilogue: a group's bias and activation (forward) or gradient mask
//! (backward), applied to each output image as soon as its group function has written it.
//!
//! Owns: the epilogue's loops on the CPU fast path. Must not touch: the convolutions.

use super::runs::with_runs;
use crate::ops::act::{Act, Epilogue};

/// A group's epilogue (bias, then the activation or the gradient mask), applied to each
/// output image as soon as a group function has written it, while it is still in cache.
pub(super) struct Finish<'a> {
    epilogue: Epilogue,
    bias: Option<&'a [f32]>,
    /// The group's stored activations, `(g, cout, plane)` (backward epilogues).
    aux: Option<&'a [f32]>,
    cout: usize,
    plane: usize,
}

impl<'a> Finish<'a> {
    /// The epilogue of a group whose stored activations (backward) are `aux`.
    pub(super) fn new(epilogue: Epilogue, bias: Option<&'a [f32]>, aux: Option<&'a [f32]>, cout: usize, plane: usize) -> Self {
        Finish { epilogue, bias, aux, cout, plane }
    }

    /// Finishes image `b` of the group, `y` its `(cout, plane)` sums: one channel's plane at a
    /// time, the activation chosen once per plane.
    pub(super) fn image(&self, b: usize, y: &mut [f32]) {
        finish_image(self, b, y);
    }

    /// Finishes the first `g` images of `y`.
    pub(super) fn images(&self, g: usize, y: &mut [f32]) {
        let len = self.cout * self.plane;
        y.chunks_exact_mut(len).take(g).enumerate().for_each(|(b, yb)| self.image(b, yb));
    }
}

// [`Finish::image`], compiled for AVX-512 where the CPU has it: the loops (`tanh` above all)
// then run 16 lanes wide. The same operations in the same order either way (no contraction
// into fused multiply-adds), so the same bits.
with_runs!(fn finish_image(f: &Finish, b: usize, y: &mut [f32]) {
    let _: Option<R> = None;
    let (plane, len) = (f.plane, f.cout * f.plane);
    let aux = f.aux.map(|a| &a[b * len..][..len]);
    for (j, yp) in y[..len].chunks_exact_mut(plane).enumerate() {
        let bias = f.bias.map_or(0.0, |b| b[j]);
        // One loop per activation, each with its activation a constant, so that each loop
        // is specialised (and vectorised) for it rather than switching per element.
        macro_rules! per_act {
            ($act:expr, |$a:ident| $body:expr) => {
                match $act {
                    Act::Identity => { let $a = Act::Identity; $body }
                    Act::Relu => { let $a = Act::Relu; $body }
                    Act::LeakyRelu(s) => { let $a = Act::LeakyRelu(s); $body }
                    Act::Tanh => { let $a = Act::Tanh; $body }
                    Act::Sigmoid => { let $a = Act::Sigmoid; $body }
                    Act::Clip(h) => { let $a = Act::Clip(h); $body }
                    Act::HardSigmoid(s) => { let $a = Act::HardSigmoid(s); $body }
                }
            };
        }
        match (f.epilogue, aux) {
            (Epilogue::Forward(Act::Identity), _) => yp.iter_mut().for_each(|v| *v += bias),
            (Epilogue::Forward(act), _) => per_act!(act, |a| yp.iter_mut().for_each(|v| *v = a.apply(*v + bias))),
            (Epilogue::GradMask(act), Some(aux)) => {
                let aux = &aux[j * plane..][..plane];
                per_act!(act, |a| yp.iter_mut().zip(aux).for_each(|(v, &y)| *v = (*v + bias) * a.grad_from_output(y)))
            }
            (Epilogue::GradMask(_), None) => unreachable!("checked: a backward epilogue has its stored activation"),
        }
    }
} as R);

#[cfg(test)]
mod tests {
    use super::Finish;
    use crate::ops::act::{Act, Epilogue};
    use crate::rng::torch_randn;

    /// The epilogue's loops (AVX-512 on a CPU that has it) against `Epilogue::finish` one
    /// element at a time: the same bits.
    #[test]
    fn the_epilogue_gives_the_bits_of_the_scalar_one() {
        let (cout, plane) = (3, 337);
        let sums: Vec<f32> = torch_randn(41, cout * plane).iter().map(|v| v * 3.0).collect();
        let aux = torch_randn(42, cout * plane);
        let bias = torch_randn(43, cout);
        for epilogue in
            [Act::Identity, Act::Relu, Act::LeakyRelu(0.2), Act::Tanh, Act::Sigmoid, Act::Clip(6.0), Act::HardSigmoid(1.0 / 6.0)]
                .into_iter()
                .flat_map(|a| [Epilogue::Forward(a), Epilogue::GradMask(a)])
        {
            let fin = Finish { epilogue, bias: Some(&bias), aux: Some(&aux), cout, plane };
            let mut y = sums.clone();
            fin.image(0, &mut y);
            for (i, (&got, &sum)) in y.iter().zip(&sums).enumerate() {
                let want = epilogue.finish(sum + bias[i / plane], aux[i]);
                assert_eq!(got.to_bits(), want.to_bits(), "{epilogue:?} at {i}: {got} vs {want}");
            }
        }
    }
}
