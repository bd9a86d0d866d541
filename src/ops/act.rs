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
}

impl Act {
    /// The code the WGSL kernels switch on (see `shaders/conv2d.wgsl`).
    pub fn code(self) -> u32 {
        match self {
            Act::Identity => 0,
            Act::Relu => 1,
            Act::LeakyRelu(_) => 2,
            Act::Tanh => 3,
        }
    }

    pub fn slope(self) -> f32 {
        match self {
            Act::LeakyRelu(s) => s,
            _ => 0.0,
        }
    }

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
            Act::Tanh => x.tanh(),
        }
    }

    /// d act / d x, expressed through the activation's output `y` (as PyTorch's backward does).
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
        }
    }
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
