// act.wgsl: the activations (codes of `Act::code`: 0 none, 1 ReLU, 2 leaky ReLU of slope
// `slope`, 3 tanh, 4 sigmoid, 5 clip to [0, slope] (ReLU6), 6 hard sigmoid of slope `slope`)
// and their derivatives through their output, shared by every kernel with an activation
// epilogue (the convolutions, affine).

fn activate(v: f32, act: u32, slope: f32) -> f32 {
    switch act {
        case 1u: { return select(0.0, v, v > 0.0); }
        case 2u: { return select(v * slope, v, v > 0.0); }
        case 3u: { return tanh(v); }
        case 4u: { return 1.0 / (1.0 + exp(-v)); }
        case 5u: { return min(max(v, 0.0), slope); }
        case 6u: { return min(max(slope * v + 0.5, 0.0), 1.0); }
        default: { return v; }
    }
}

fn activation_grad(v: f32, act: u32, slope: f32) -> f32 {
    switch act {
        case 1u: { return select(0.0, 1.0, v > 0.0); }
        case 2u: { return select(slope, 1.0, v > 0.0); }
        case 3u: { return 1.0 - v * v; }
        case 4u: { return v * (1.0 - v); }
        case 5u: { return select(0.0, 1.0, v > 0.0 && v < slope); }
        case 6u: { return select(0.0, slope, v > 0.0 && v < 1.0); }
        default: { return 1.0; }
    }
}
