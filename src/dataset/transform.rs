//! The notebook's image transform, `Resize(64)`, `CenterCrop(64)`, `ToTensor()`,
//! `Normalize(0.5, 0.5)`, as torchvision applies it to a PIL image, reproduced to the bit.
//!
//! `Resize` on a PIL image is Pillow's `Image.resize(size, BILINEAR)`: a separable
//! convolution with a triangle filter whose support grows with the downscaling factor
//! (antialiasing), horizontal pass first, each pass with 22-bit fixed-point coefficients and
//! its result rounded to 8 bits; a pass whose side keeps its size is skipped. The crop's offsets
//! are Python's `round`, which rounds halves to even.
//!
//! Owns: the geometry and arithmetic of the transform on 8-bit RGB pixels. Must not touch:
//! decoding files ([`super::images`]), labels.

/// The side of the square images the classifier takes.
pub const SIDE: usize = 64;

/// Fractional bits of Pillow's fixed-point coefficients for 8-bit images (`32 - 8 - 2`).
const PRECISION_BITS: u32 = 22;

/// An 8-bit RGB picture, row-major, 3 bytes a pixel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb8 {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

impl Rgb8 {
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Self {
        assert_eq!(data.len(), width * height * 3, "an RGB picture of {width}x{height} holds {} bytes", width * height * 3);
        Rgb8 { width, height, data }
    }
}

/// torchvision's `Resize(size)` output `(height, width)` for an image of `height x width`
/// (`_compute_resized_output_size`): the shorter side becomes `size`, the longer one
/// `int(size * long / short)`, truncated.
pub fn resized_size(height: usize, width: usize, size: usize) -> (usize, usize) {
    let (short, long) = if width <= height { (width, height) } else { (height, width) };
    // Python's `int * int / int` is the correctly rounded quotient of exact integers; so is this.
    let new_long = ((size * long) as f64 / short as f64) as usize;
    if width <= height { (new_long, size) } else { (size, new_long) }
}

/// Python's `int(round(x / 2.0))` for a non-negative integer `x`: halves round to even.
fn half_to_even(x: usize) -> usize {
    let floor = x / 2;
    if x.is_multiple_of(2) || floor.is_multiple_of(2) { floor } else { floor + 1 }
}

/// The filter of one pass: for each output pixel, the first input pixel it reads and its
/// fixed-point weights.
struct Pass {
    starts: Vec<usize>,
    weights: Vec<Vec<i32>>,
}

/// Pillow's bilinear (triangle) filter.
fn triangle(x: f64) -> f64 {
    let x = x.abs();
    if x < 1.0 { 1.0 - x } else { 0.0 }
}

impl Pass {
    /// Pillow's `precompute_coeffs` over the whole input, then `normalize_coeffs_8bpc`.
    fn new(in_size: usize, out_size: usize) -> Pass {
        let scale = in_size as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filterscale; // the triangle's support is 1
        let ss = 1.0 / filterscale;
        let mut starts = Vec::with_capacity(out_size);
        let mut weights = Vec::with_capacity(out_size);
        for xx in 0..out_size {
            let center = (xx as f64 + 0.5) * scale;
            // C's `(int)` truncates toward zero; the bounds are then clamped to the input.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64);
            let raw: Vec<f64> = (xmin..xmax).map(|x| triangle((x as f64 - center + 0.5) * ss)).collect();
            let total: f64 = raw.iter().sum();
            let fixed = raw
                .iter()
                .map(|&w| {
                    let w = if total != 0.0 { w / total } else { w };
                    let scaled = w * f64::from(1u32 << PRECISION_BITS);
                    (if w < 0.0 { scaled - 0.5 } else { scaled + 0.5 }) as i32
                })
                .collect();
            starts.push(xmin as usize);
            weights.push(fixed);
        }
        Pass { starts, weights }
    }

    /// One output value from `read(i)`, the i-th input value of the filter's window.
    fn apply(&self, out: usize, read: impl Fn(usize) -> u8) -> u8 {
        let start = self.starts[out];
        let mut acc: i32 = 1 << (PRECISION_BITS - 1);
        for (i, &w) in self.weights[out].iter().enumerate() {
            acc += i32::from(read(start + i)) * w;
        }
        (acc >> PRECISION_BITS).clamp(0, 255) as u8
    }

    /// The input range every output reads: `[first, last)`.
    fn span(&self) -> (usize, usize) {
        let last = self.starts.len() - 1;
        (self.starts[0], self.starts[last] + self.weights[last].len())
    }
}

/// Pillow's `Image.resize((width, height), Image.BILINEAR)` of an 8-bit RGB picture.
pub fn resize_bilinear(img: &Rgb8, width: usize, height: usize) -> Rgb8 {
    assert!(width > 0 && height > 0 && img.width > 0 && img.height > 0, "resizing an empty picture");
    let vertical = (height != img.height).then(|| Pass::new(img.height, height));
    // Horizontally first, only the rows the vertical pass reads (its windows shift with them).
    let (across, offset) = if width != img.width {
        let (first, last) = vertical.as_ref().map_or((0, img.height), Pass::span);
        (horizontal_pass(img, &Pass::new(img.width, width), first, last), first)
    } else {
        (img.clone(), 0)
    };
    match vertical {
        Some(v) => vertical_pass(&across, &v, height, offset),
        None => across,
    }
}

/// The horizontal pass over rows `[first, last)` of `img`.
fn horizontal_pass(img: &Rgb8, pass: &Pass, first: usize, last: usize) -> Rgb8 {
    let width = pass.starts.len();
    let mut data = Vec::with_capacity(width * (last - first) * 3);
    for y in first..last {
        let row = &img.data[y * img.width * 3..(y + 1) * img.width * 3];
        for xx in 0..width {
            for c in 0..3 {
                data.push(pass.apply(xx, |x| row[x * 3 + c]));
            }
        }
    }
    Rgb8::new(width, last - first, data)
}

/// The vertical pass over `img`, whose row 0 is the input's row `offset`.
fn vertical_pass(img: &Rgb8, pass: &Pass, height: usize, offset: usize) -> Rgb8 {
    let stride = img.width * 3;
    let mut data = Vec::with_capacity(stride * height);
    for yy in 0..height {
        for i in 0..stride {
            data.push(pass.apply(yy, |y| img.data[(y - offset) * stride + i]));
        }
    }
    Rgb8::new(img.width, height, data)
}

/// torchvision's `CenterCrop(side)` of a picture at least `side` on each side.
pub fn center_crop(img: &Rgb8, side: usize) -> Rgb8 {
    assert!(img.width >= side && img.height >= side, "cropping {side}x{side} from {}x{}", img.width, img.height);
    let top = half_to_even(img.height - side);
    let left = half_to_even(img.width - side);
    let mut data = Vec::with_capacity(side * side * 3);
    for y in top..top + side {
        let row = (y * img.width + left) * 3;
        data.extend_from_slice(&img.data[row..row + side * 3]);
    }
    Rgb8::new(side, side, data)
}

/// `ToTensor()` then `Normalize(0.5, 0.5)` of one 8-bit value, in f32 as torch computes it.
pub fn normalize(v: u8) -> f32 {
    (f32::from(v) / 255.0 - 0.5) / 0.5
}

/// The whole transform: `3 x SIDE x SIDE` values in [-1, 1], channel-major (CHW).
pub fn preprocess(img: &Rgb8) -> Vec<f32> {
    let (h, w) = resized_size(img.height, img.width, SIDE);
    let crop = center_crop(&resize_bilinear(img, w, h), SIDE);
    let plane = SIDE * SIDE;
    let mut out = vec![0.0; 3 * plane];
    for (p, px) in crop.data.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + p] = normalize(px[c]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each pixel's value is its column (mod 256), in every channel.
    fn columns(width: usize, height: usize) -> Rgb8 {
        Rgb8::new(width, height, (0..width * height * 3).map(|i| (i / 3 % width) as u8).collect())
    }

    #[test]
    fn resized_sizes_follow_torchvision() {
        // CelebA's 178 x 218: int(64 * 218 / 178) = int(78.38...) = 78.
        assert_eq!(resized_size(218, 178, 64), (78, 64));
        assert_eq!(resized_size(178, 218, 64), (64, 78));
        assert_eq!(resized_size(100, 67, 64), (95, 64));
        assert_eq!(resized_size(50, 50, 64), (64, 64));
        assert_eq!(resized_size(64, 640, 64), (64, 640));
    }

    #[test]
    fn crop_offsets_round_halves_to_even() {
        assert_eq!([1, 2, 3, 5, 7, 14, 31].map(half_to_even), [0, 1, 2, 2, 4, 7, 16]);
        // Each pixel's value is its row; (67 - 64) / 2 = 1.5 rounds to 2: the first row kept is 2.
        let img = Rgb8::new(64, 67, (0..64 * 67 * 3).map(|i| (i / (64 * 3)) as u8).collect());
        let crop = center_crop(&img, 64);
        assert_eq!((crop.data[0], crop.data[64 * 64 * 3 - 1]), (2, 65));
    }

    #[test]
    fn constant_pictures_stay_constant_at_any_scale() {
        for (w, h) in [(178, 218), (100, 80), (40, 50), (64, 200), (7, 300)] {
            let img = Rgb8::new(w, h, vec![200; w * h * 3]);
            let (oh, ow) = resized_size(h, w, SIDE);
            let out = resize_bilinear(&img, ow, oh);
            assert_eq!((out.width, out.height), (ow, oh));
            assert!(out.data.iter().all(|&v| v == 200), "{w}x{h}");
        }
    }

    #[test]
    fn halving_averages_pairs_and_a_kept_side_is_not_filtered() {
        // Downscaling by 2: each output is the triangle of support 2 centred between two inputs,
        // weights 1, 3, 3, 1 (/8); at the borders the outer one falls off and the rest sum to 7.
        let img = Rgb8::new(4, 1, [0u8, 0, 0, 80, 80, 80, 160, 160, 160, 240, 240, 240].to_vec());
        let out = resize_bilinear(&img, 2, 1);
        // (0*3 + 80*3 + 160*1) / 7 = 57.1; (80*1 + 160*3 + 240*3) / 7 = 182.9
        assert_eq!(out.data, [57, 57, 57, 183, 183, 183]);
        // Same height: only the horizontal pass; same width: only the vertical one.
        let r = columns(64, 100);
        assert_eq!(resize_bilinear(&r, 64, 50).data[..64 * 3], r.data[..64 * 3]);
        let r = columns(100, 64);
        let out = resize_bilinear(&r, 50, 64);
        assert_eq!(out.height, 64);
        assert!(out.data.chunks(50 * 3).all(|row| row == &out.data[..50 * 3]), "every row filtered alike");
    }

    #[test]
    fn preprocess_maps_bytes_to_minus_one_one() {
        assert_eq!((normalize(0), normalize(255)), (-1.0, 1.0));
        let img = Rgb8::new(64, 64, (0..64 * 64 * 3).map(|i| if i % 3 == 1 { 255 } else { 0 }).collect());
        let t = preprocess(&img);
        assert!(t[..4096].iter().all(|&v| v == -1.0) && t[4096..8192].iter().all(|&v| v == 1.0));
    }
}
