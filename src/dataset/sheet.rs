//! Labelled images as one picture: a sheet of `SIDE x SIDE` tiles and a CelebA-style label
//! file (the bundled evaluation set of the demo world, `weights/demo-eval.{png,txt}`).
//!
//! The sheet is a PNG (or JPEG) whose width and height are whole numbers of tiles, read
//! row-major without padding: tile k (0-based) is the k-th image of the label file, at column
//! `k % per_row`, row `k / per_row`, with `per_row = width / SIDE`. The label file's images
//! fill the sheet's rows: `ceil(count / per_row)` of them, the last one possibly short (its
//! spare tiles are ignored). A tile's pixels go through `ToTensor()` and `Normalize(0.5, 0.5)`
//! only ([`super::transform::normalize`]): a tile already has the classifier's size, so the
//! notebook's resize and crop leave it as it is.
//!
//! Owns: the sheet's geometry and cutting it into tiles. Must not touch: decoding
//! ([`super::images`]), parsing labels ([`super::labels`]).

use std::path::Path;

use super::images::decode;
use super::transform::{Rgb8, normalize};
use super::{Dataset, DatasetError, IMAGE_LEN, Labels, SIDE};

/// The number of tiles in a row of a `width x height` sheet that must hold `count` images:
/// both sides whole numbers of tiles, and exactly as many rows as the images fill.
pub fn tiles_per_row(path: &str, width: usize, height: usize, count: usize, labels: &str) -> Result<usize, DatasetError> {
    if width == 0 || height == 0 || !width.is_multiple_of(SIDE) || !height.is_multiple_of(SIDE) {
        return Err(DatasetError::SheetSize { path: path.into(), width, height });
    }
    let (per_row, rows) = (width / SIDE, height / SIDE);
    if count.div_ceil(per_row) != rows {
        return Err(DatasetError::SheetCount { path: path.into(), per_row, rows, labels: labels.into(), count });
    }
    Ok(per_row)
}

/// The first `count` tiles of `sheet`, row-major, each `3 x SIDE x SIDE` (CHW) in [-1, 1], one
/// after another. The sheet's geometry must have been checked ([`tiles_per_row`]).
pub fn cut(sheet: &Rgb8, count: usize) -> Vec<f32> {
    let per_row = sheet.width / SIDE;
    let plane = SIDE * SIDE;
    let mut out = vec![0.0f32; count * IMAGE_LEN];
    for (k, tile) in out.chunks_exact_mut(IMAGE_LEN).enumerate() {
        let (left, top) = ((k % per_row) * SIDE, (k / per_row) * SIDE);
        for y in 0..SIDE {
            let row = ((top + y) * sheet.width + left) * 3;
            for (x, px) in sheet.data[row..row + SIDE * 3].chunks_exact(3).enumerate() {
                for (c, &v) in px.iter().enumerate() {
                    tile[c * plane + y * SIDE + x] = normalize(v);
                }
            }
        }
    }
    out
}

/// The images of `labels` cut from the sheet decoded from `bytes`; `path` names the sheet in
/// errors.
pub fn from_bytes(bytes: &[u8], path: &str, labels: Labels) -> Result<Dataset, DatasetError> {
    if labels.is_empty() {
        return Err(DatasetError::NoImages { source_name: labels.source });
    }
    let sheet = decode(Path::new(path), bytes)?;
    tiles_per_row(path, sheet.width, sheet.height, labels.len(), &labels.source)?;
    let images = cut(&sheet, labels.len());
    log::info!("cut {} images from {path}", labels.len());
    Ok(Dataset { source: labels.source, names: labels.names, images, labels: labels.values, files: labels.files })
}

/// The sheet at `sheet` with the labels of the label file at `labels`.
pub fn read(sheet: &Path, labels: &Path) -> Result<Dataset, DatasetError> {
    let labels = Labels::read(labels)?;
    let bytes = std::fs::read(sheet).map_err(|source| DatasetError::Io { path: sheet.display().to_string(), source })?;
    from_bytes(&bytes, &sheet.display().to_string(), labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sheet `per_row x rows` tiles whose pixel (x, y) channel c holds `(x + 2y + 3c) % 251`.
    fn sheet(per_row: usize, rows: usize) -> Rgb8 {
        let (w, h) = (per_row * SIDE, rows * SIDE);
        let data = (0..w * h * 3).map(|i| ((i / 3 % w + 2 * (i / 3 / w) + 3 * (i % 3)) % 251) as u8).collect();
        Rgb8::new(w, h, data)
    }

    #[test]
    fn tiles_are_cut_row_major_channel_major_within() {
        let s = sheet(3, 2);
        let t = cut(&s, 5);
        assert_eq!(t.len(), 5 * IMAGE_LEN);
        let value = |x: usize, y: usize, c: usize| normalize(((x + 2 * y + 3 * c) % 251) as u8);
        // Tile 4 is column 1 of row 1: its (x, y) is the sheet's (64 + x, 64 + y).
        let tile = &t[4 * IMAGE_LEN..5 * IMAGE_LEN];
        for (x, y, c) in [(0, 0, 0), (63, 0, 1), (5, 63, 2), (63, 63, 0)] {
            assert_eq!(tile[c * SIDE * SIDE + y * SIDE + x], value(SIDE + x, SIDE + y, c), "({x}, {y}, {c})");
        }
        assert_eq!(t[2 * IMAGE_LEN + 2 * SIDE * SIDE + 7], value(2 * SIDE + 7, 0, 2));
    }

    #[test]
    fn the_geometry_must_match_the_count() {
        assert_eq!(tiles_per_row("s.png", 3200, 2560, 2000, "l.txt").unwrap(), 50);
        assert_eq!(tiles_per_row("s.png", 192, 128, 4, "l.txt").unwrap(), 3);
        let e = tiles_per_row("s.png", 200, 128, 4, "l.txt").unwrap_err().to_string();
        assert_eq!(e, "s.png is 200x128 pixels, not a whole number of 64x64 tiles");
        let e = tiles_per_row("s.png", 192, 128, 7, "l.txt").unwrap_err().to_string();
        assert_eq!(e, "s.png holds 2 rows of 3 tiles (6), but l.txt labels 7 images, which fill 3 rows");
        let e = tiles_per_row("s.png", 192, 128, 3, "l.txt").unwrap_err().to_string();
        assert!(e.ends_with("but l.txt labels 3 images, which fill 1 row"), "{e}");
    }
}
