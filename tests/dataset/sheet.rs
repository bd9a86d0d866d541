//! Labelled images as one sheet of 64x64 tiles (`Dataset::from_sheet`): sheets written here
//! with the `image` crate, each tile and channel holding its own values, land in the right
//! images and channels; a sheet of the wrong size or with too few or too many rows for the
//! label file is refused on one line naming the file.

use std::path::{Path, PathBuf};

use gan_bias::dataset::transform::{SIDE, normalize};
use gan_bias::dataset::{Dataset, IMAGE_LEN};
use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};

use super::{chain, write};

/// The value of channel `c` of pixel (x, y) of tile `k`: distinct per tile, channel, row and
/// column (mod 256).
fn value(k: usize, x: usize, y: usize, c: usize) -> u8 {
    ((k * 37 + c * 85 + 3 * x + 5 * y) % 256) as u8
}

/// An RGB sheet of `per_row x rows` tiles; tile k's pixels are [`value`] (blank tiles too).
fn rgb_sheet(per_row: usize, rows: usize) -> RgbImage {
    RgbImage::from_fn((per_row * SIDE) as u32, (rows * SIDE) as u32, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let k = (y / SIDE) * per_row + x / SIDE;
        Rgb([0, 1, 2].map(|c| value(k, x % SIDE, y % SIDE, c)))
    })
}

/// A label file of `count` images `0001.png`.. with two attributes: A (image k has it when k
/// is even) and B (when k is a multiple of 3).
fn labels(dir: &Path, count: usize) -> PathBuf {
    let mut text = format!("{count}\nA B\n");
    for k in 0..count {
        text += &format!("{:04}.png {:>2} {:>2}\n", k + 1, if k % 2 == 0 { 1 } else { -1 }, if k % 3 == 0 { 1 } else { -1 });
    }
    write(dir, "labels.txt", text)
}

#[test]
fn tiles_land_in_their_images_and_channels() {
    let dir = tempfile::tempdir().unwrap();
    let sheet = dir.path().join("sheet.png");
    // 3 tiles a row, 2 rows, 5 images: the last row's third tile is spare.
    rgb_sheet(3, 2).save_with_format(&sheet, ImageFormat::Png).unwrap();
    let d = Dataset::from_sheet(&sheet, &labels(dir.path(), 5)).unwrap();
    assert_eq!((d.len(), d.names.clone(), d.files[4].as_str()), (5, vec!["A".to_string(), "B".into()], "0005.png"));
    assert_eq!(d.images.len(), 5 * IMAGE_LEN);
    for k in 0..5 {
        let img = d.image(k);
        for c in 0..3 {
            for (x, y) in [(0, 0), (63, 0), (0, 63), (17, 41), (63, 63)] {
                assert_eq!(img[(c * SIDE + y) * SIDE + x], normalize(value(k, x, y, c)), "tile {k} channel {c} at ({x}, {y})");
            }
        }
        assert_eq!(d.labels_of(k), [k % 2 == 0, k % 3 == 0], "labels of image {k}");
    }
    // Every value, not only the samples: the whole tile 4 (row 1, column 1).
    let want: Vec<f32> = (0..IMAGE_LEN).map(|i| normalize(value(4, i % SIDE, i / SIDE % SIDE, i / (SIDE * SIDE)))).collect();
    assert_eq!(d.image(4), want.as_slice());
}

#[test]
fn an_rgba_sheet_drops_its_alpha() {
    let dir = tempfile::tempdir().unwrap();
    let sheet = dir.path().join("sheet.png");
    let rgb = rgb_sheet(2, 1);
    RgbaImage::from_fn(rgb.width(), rgb.height(), |x, y| {
        let p = rgb.get_pixel(x, y).0;
        Rgba([p[0], p[1], p[2], (x % 256) as u8])
    })
    .save_with_format(&sheet, ImageFormat::Png)
    .unwrap();
    let d = Dataset::from_sheet(&sheet, &labels(dir.path(), 2)).unwrap();
    assert_eq!(d.image(1)[2 * SIDE * SIDE + 5 * SIDE + 9], normalize(value(1, 9, 5, 2)));
}

#[test]
fn a_sheet_not_of_whole_tiles_or_not_filled_by_the_labels_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("odd.png");
    RgbImage::new(130, 64).save_with_format(&odd, ImageFormat::Png).unwrap();
    let e = chain(&Dataset::from_sheet(&odd, &labels(dir.path(), 2)).unwrap_err());
    assert_eq!(e, format!("{} is 130x64 pixels, not a whole number of 64x64 tiles", odd.display()));

    let sheet = dir.path().join("sheet.png");
    rgb_sheet(3, 2).save_with_format(&sheet, ImageFormat::Png).unwrap();
    let l = labels(dir.path(), 7);
    let e = chain(&Dataset::from_sheet(&sheet, &l).unwrap_err());
    let head = format!("{} holds 2 rows of 3 tiles (6), but {} labels ", sheet.display(), l.display());
    assert_eq!(e, format!("{head}7 images, which fill 3 rows"));
    // Too few images leave a whole row unused: refused too (3 fill 1 row of the 2).
    let e = chain(&Dataset::from_sheet(&sheet, &labels(dir.path(), 3)).unwrap_err());
    assert_eq!(e, format!("{head}3 images, which fill 1 row"));
    assert!(Dataset::from_sheet(&sheet, &labels(dir.path(), 4)).is_ok(), "4 images fill both rows");

    let e = chain(&Dataset::from_sheet(&dir.path().join("none.png"), &labels(dir.path(), 4)).unwrap_err());
    assert!(e.starts_with(&format!("cannot read {}", dir.path().join("none.png").display())), "{e}");
    let text = write(dir.path(), "text.png", "not a picture");
    let e = chain(&Dataset::from_sheet(&text, &labels(dir.path(), 4)).unwrap_err());
    assert!(e.starts_with(&format!("cannot decode {} as a JPEG or PNG image: ", text.display())), "{e}");
    let empty = write(dir.path(), "empty.txt", "0\nA B\n");
    let e = chain(&Dataset::from_sheet(&sheet, &empty).unwrap_err());
    assert_eq!(e, format!("{} holds no images", empty.display()));
}
