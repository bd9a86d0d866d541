//! Pictures: generator outputs laid out as a grid (like torchvision's `make_grid`) and
//! written as PNG; the layout of the probe's grid (images down, steps across).
//!
//! Owns: image grids and PNG writing. Must not touch: the probe's numbers.

use std::path::Path;

use crate::output::{WriteError, write_atomic};

/// An 8-bit RGB image, rows top to bottom, pixels `[r, g, b]` left to right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl RgbImage {
    /// The `[r, g, b]` of pixel `(x, y)`.
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = 3 * (y * self.width + x);
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }
}

/// The colour between tiles: black, `make_grid`'s default `pad_value = 0`.
pub const BACKGROUND: [u8; 3] = [0, 0, 0];

/// A Tanh output in `[-1, 1]` as a byte: `round((x + 1) / 2 * 255)`, clamped; NaN is 0.
pub fn to_byte(x: f32) -> u8 {
    let v = ((x + 1.0) / 2.0 * 255.0).round();
    if v.is_nan() { 0 } else { v.clamp(0.0, 255.0) as u8 }
}

/// Lays out `n` images (`n x c x h x w`, NCHW, values in `[-1, 1]`) row-major, `nrow` tiles
/// per row, `pad` pixels of [`BACKGROUND`] around and between tiles, as torchvision's
/// `make_grid(images, nrow, padding=pad)` after the notebook's `(x + 1) / 2`.
/// One channel is shown as grey; of more than three, the first three are red, green, blue.
///
/// # Panics
/// When `images` does not hold `n x c x h x w` values, or `c` is 0 or 2.
pub fn image_grid(images: &[f32], n: usize, c: usize, h: usize, w: usize, nrow: usize, pad: usize) -> RgbImage {
    assert_eq!(images.len(), n * c * h * w, "images hold {} values, not {n}x{c}x{h}x{w}", images.len());
    assert!(c == 1 || c >= 3, "cannot show {c}-channel images");
    let cols = nrow.max(1).min(n.max(1));
    let rows = n.div_ceil(cols);
    let (width, height) = (pad + cols * (w + pad), pad + rows * (h + pad));
    let mut pixels = BACKGROUND.repeat(width * height);
    let plane = h * w;
    for i in 0..n {
        let image = &images[i * c * plane..(i + 1) * c * plane];
        let (x0, y0) = (pad + (i % cols) * (w + pad), pad + (i / cols) * (h + pad));
        for y in 0..h {
            for x in 0..w {
                let at = 3 * ((y0 + y) * width + x0 + x);
                for k in 0..3 {
                    let channel = if c == 1 { 0 } else { k };
                    pixels[at + k] = to_byte(image[channel * plane + y * w + x]);
                }
            }
        }
    }
    RgbImage { width, height, pixels }
}

/// The image as PNG bytes (8-bit RGB, best compression).
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, image.width as u32, image.height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&image.pixels)?;
    writer.finish()?;
    Ok(bytes)
}

/// Why a picture could not be written.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    #[error("cannot encode {path} as PNG")]
    Encode {
        path: String,
        #[source]
        source: png::EncodingError,
    },
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// Writes `image` to `path` as PNG, whole or not at all.
pub fn write_png(path: &Path, image: &RgbImage) -> Result<(), PictureError> {
    let bytes = encode_png(image).map_err(|source| PictureError::Encode { path: path.display().to_string(), source })?;
    write_atomic(path, &bytes)?;
    Ok(())
}

/// One column of the probe's grid: a step of one direction, or the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// The step-th image moving down the target's gradient (step >= 1).
    Down(usize),
    /// The starting image, `G(z0)`.
    Start,
    /// The step-th image moving up (step >= 1).
    Up(usize),
}

impl Column {
    /// Direction index of the probe's noise history (0 up, 1 down) and step.
    pub fn history_index(self) -> (usize, usize) {
        match self {
            Column::Down(s) => (1, s),
            Column::Start => (0, 0),
            Column::Up(s) => (0, s),
        }
    }
}

/// The probe grid's columns, least to most of the target: every `skip`-th recorded step
/// down (steps `1..steps`, the last first), the start, then every `skip`-th step up.
/// Recorded steps are `0..steps` (the notebook's history ends before the last update).
pub fn probe_columns(steps: usize, skip: usize) -> Vec<Column> {
    let skip = skip.max(1);
    let ups: Vec<usize> = (skip..steps).step_by(skip).collect();
    let mut cols: Vec<Column> = ups.iter().rev().map(|&s| Column::Down(s)).collect();
    cols.push(Column::Start);
    cols.extend(ups.iter().map(|&s| Column::Up(s)));
    cols
}

/// The noise of every tile of the probe grid, row-major (image `i`'s row, then the columns),
/// from the probe's noise history (`[direction][step]`, each `kept x zdim`); `images` rows.
pub fn probe_grid_noise(history: &[Vec<Vec<f32>>], columns: &[Column], images: usize, zdim: usize) -> Vec<f32> {
    let mut noise = Vec::with_capacity(images * columns.len() * zdim);
    for i in 0..images {
        for col in columns {
            let (dir, step) = col.history_index();
            noise.extend_from_slice(&history[dir][step][i * zdim..(i + 1) * zdim]);
        }
    }
    noise
}
