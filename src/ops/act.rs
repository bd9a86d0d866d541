//! Activations and the epilogue every convolution kernel ends with.
//!
//! Forward, a convolution adds its bias and applies its stage's activation. Backward, the
//! input-gradient of a stage is multiplied by the derivative of the *previous* stage's
//! activation, read from that stage's stored output (every supported activation's derivative
//! is a function of its output), so no separate elementwise pass is needed.
//!
//! Owns: activation codes, their derivatives, the epilogue. Must not touch: dispatch, backends.

/// An activation function, applied elementwise.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    Identity,
    Relu,
    LeakyRelu(f32),
    Tanh,
    Sigmoid,
    /// `min(max(x, 0), hi)`: ReLU6 (`hi` 6), ONNX's Clip with a lower bound of 0.
    Clip(f32),
    /// `min(max(alpha x + 0.5, 0), 1)`: PyTorch's hardsigmoid (`alpha` 1/6).
    HardSigmoid(f32),
}

impl Act {
    /// The code the WGSL kernels switch on (see `shaders/conv2d.wgsl`).
    pub fn code(self) -> u32 {
        match self {
            Act::Identity => 0,
            Act::Relu => 1,
            Act::LeakyRelu(_) => 2,
            Act::Tanh => 3,
            Act::Sigmoid => 4,
            Act::Clip(_) => 5,
            Act::HardSigmoid(_) => 6,
        }
    }

    pub fn slope(self) -> f32 {
        match self {
            Act::LeakyRelu(s) | Act::Clip(s) | Act::HardSigmoid(s) => s,
            _ => 0.0,
        }
    }

    #[inline]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Act::Identity => x,
            Act::Relu => {
                if x > 0.0 {
                    x
                } else {
                    0.0
                }
            }
            Act::LeakyRelu(s) => {
                if x > 0.0 {
                    x
                } else {
                    x * s
                }
            }
            Act::Tanh => tanh(x),
            Act::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Act::Clip(hi) => x.max(0.0).min(hi),
            Act::HardSigmoid(alpha) => (alpha * x + 0.5).clamp(0.0, 1.0),
        }
    }

    /// d act / d x, expressed through the activation's output `y` (as PyTorch's backward does).
    #[inline]
    pub fn grad_from_output(self, y: f32) -> f32 {
        match self {
            Act::Identity => 1.0,
            Act::Relu => {
                if y > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Act::LeakyRelu(s) => {
                if y > 0.0 {
                    1.0
                } else {
                    s
                }
            }
            Act::Tanh => 1.0 - y * y,
            Act::Sigmoid => y * (1.0 - y),
            // Where the output is strictly inside the bounds (PyTorch's hardtanh and
            // hardsigmoid backward: 0 at the bounds).
            Act::Clip(hi) => {
                if y > 0.0 && y < hi {
                    1.0
                } else {
                    0.0
                }
            }
            Act::HardSigmoid(alpha) => {
                if y > 0.0 && y < 1.0 {
                    alpha
                } else {
                    0.0
                }
            }
        }
    }
}

/// `tanh` in f32 within about 2 ulp (relative error at most 2.4e-7, the test below), with no
/// branch or library call, so that a loop over a plane of outputs compiles to vector
/// instructions (the C library's `tanhf` is a scalar call, about 20 ns each: a DCGAN's last
/// layer spent more time in it than in its convolution). Below |x| = 0.625 an odd polynomial
/// fitted for relative error (`x + x^3 P(x^2)`, degree 5 in `x^2`); above it
/// `1 - 2 / (e^(2|x|) + 1)`, with `e^t` from `2^n` times a degree-7 Taylor polynomial of the
/// remainder; from |x| = 10 on, +-1 (as f32 rounds it). NaN stays NaN.
#[inline]
pub fn tanh(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 in two parts, the first exact in few bits, so that t - n ln 2 loses nothing.
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let a = x.abs().min(10.0);
    let u = a * a;
    let p = (((-0.005_798_1 * u + 0.020_720_28) * u - 0.053_763_8) * u + 0.133_317_19) * u - 0.333_332_93;
    let small = a + a * u * p;
    let t = 2.0 * a;
    let n = (t * LOG2E + 0.5) as i32;
    let r = (t - n as f32 * LN2_HI) - n as f32 * LN2_LO;
    let er = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    let e = er * f32::from_bits(((n + 127) as u32) << 23);
    let large = 1.0 - 2.0 / (e + 1.0);
    let y = if a < 0.625 { small } else { large };
    if x.is_nan() { x } else { y.copysign(x) }
}

/// What a convolution kernel does with its sum before storing it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Epilogue {
    /// Forward: `act(sum + bias)`.
    Forward(Act),
    /// Backward: `sum * act'(aux)`, with `aux` the stored output of the activation.
    GradMask(Act),
}

impl Epilogue {
    pub fn mode(self) -> u32 {
        match self {
            Epilogue::Forward(_) => 1,
            Epilogue::GradMask(_) => 2,
        }
    }

    pub fn act(self) -> Act {
        match self {
            Epilogue::Forward(a) | Epilogue::GradMask(a) => a,
        }
    }

    /// Applies the epilogue on the CPU: `sum` already includes the bias; `aux` is the
    /// stored activation output at the same index (ignored going forward).
    pub fn finish(self, sum: f32, aux: f32) -> f32 {
        match self {
            Epilogue::Forward(a) => a.apply(sum),
            Epilogue::GradMask(a) => sum * a.grad_from_output(aux),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tanh;

    /// Against f64's tanh on a dense grid of [-12, 12] and every float near the switch, the
    /// zeros, the infinities and NaN.
    #[test]
    fn tanh_is_within_a_few_ulp() {
        let mut worst = (0.0f64, 0.0f32);
        let grid = (-1_200_000..=1_200_000).map(|i| i as f32 * 1e-5);
        let near = (-2000..=2000).map(|i| 0.625f32 + i as f32 * 1e-7);
        let tiny = (1..200).map(|i| i as f32 * 1e-30);
        for x in grid.chain(near).chain(tiny) {
            let want = (x as f64).tanh();
            let got = tanh(x) as f64;
            let rel = if want == 0.0 { got.abs() } else { ((got - want) / want).abs() };
            if rel > worst.0 {
                worst = (rel, x);
            }
        }
        assert!(worst.0 <= 2.4e-7, "relative error {} at x = {}", worst.0, worst.1);
        assert_eq!(tanh(0.0).to_bits(), 0.0f32.to_bits());
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!((tanh(f32::INFINITY), tanh(f32::NEG_INFINITY)), (1.0, -1.0));
        assert!(tanh(f32::NAN).is_nan());
    }
}
