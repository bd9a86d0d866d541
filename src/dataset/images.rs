//! Image files -> the notebook's input tensors: JPEG or PNG decoded with the `image` crate,
//! converted to 8-bit RGB as Pillow's `convert("RGB")` converts what it opened, then the
//! notebook's transform ([`super::transform`]).
//!
//! Pillow's conversions matched here: grey is repeated into the three channels, alpha is
//! dropped (not composited), palettes are looked up; 16-bit RGB(A) and grey+alpha keep the
//! high byte (Pillow reads them so), while 16-bit grey without alpha, which Pillow opens as
//! `I;16`, is clipped to 255, not scaled.
//!
//! Owns: decoding and colour conversion, reading a folder of images in parallel. Must not
//! touch: the transform's arithmetic, labels.

use std::path::Path;

use image::DynamicImage;

use super::DatasetError;
use super::transform::{Rgb8, SIDE, preprocess};

/// `DynamicImage` as 8-bit RGB, the way Pillow's `convert("RGB")` treats the same file.
pub fn to_rgb8(img: DynamicImage) -> Rgb8 {
    let (width, height) = (img.width() as usize, img.height() as usize);
    let grey = |v: &mut dyn Iterator<Item = u8>| v.flat_map(|g| [g, g, g]).collect::<Vec<u8>>();
    let data = match img {
        DynamicImage::ImageRgb8(b) => b.into_raw(),
        DynamicImage::ImageRgba8(b) => b.into_raw().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
        DynamicImage::ImageLuma8(b) => grey(&mut b.into_raw().into_iter()),
        DynamicImage::ImageLumaA8(b) => grey(&mut b.into_raw().into_iter().step_by(2)),
        DynamicImage::ImageLuma16(b) => grey(&mut b.into_raw().into_iter().map(|v| v.min(255) as u8)),
        DynamicImage::ImageLumaA16(b) => grey(&mut b.into_raw().into_iter().step_by(2).map(|v| (v >> 8) as u8)),
        DynamicImage::ImageRgb16(b) => b.into_raw().into_iter().map(|v| (v >> 8) as u8).collect(),
        DynamicImage::ImageRgba16(b) => b.into_raw().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).map(|v| (v >> 8) as u8).collect(),
        // Neither JPEG nor PNG decodes to anything else; should it, the crate's own conversion.
        other => other.to_rgb8().into_raw(),
    };
    Rgb8::new(width, height, data)
}

/// Whether JPEG `bytes` hold an end-of-image marker after their first scan begins. Pillow
/// refuses a truncated JPEG ("image file is truncated"); the `image` crate decodes what is
/// there. The marker segments are walked up to the first scan (so a thumbnail inside an APPn
/// segment, with markers of its own, is skipped); scan data escapes its 0xFF bytes, so past
/// that point only a marker holds FF D9.
pub fn jpeg_complete(bytes: &[u8]) -> bool {
    let mut i = 2;
    while i + 4 <= bytes.len() {
        // Stray bytes and fill bytes between segments are skipped, as libjpeg skips them.
        if bytes[i] != 0xFF || bytes[i + 1] == 0xFF {
            i += 1;
            continue;
        }
        let marker = bytes[i + 1];
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            i += 2;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if marker == 0xDA {
            return bytes.get(i + 2 + len..).is_some_and(|scan| scan.windows(2).any(|w| w == [0xFF, 0xD9]));
        }
        i += 2 + len;
    }
    false
}

/// The picture in `bytes` (JPEG or PNG, told apart by content) as 8-bit RGB; `path` names
/// it in errors.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Rgb8, DatasetError> {
    let name = || path.display().to_string();
    // The crate's message already holds its cause's text; it is shown on one line, as detail.
    let failed = |e: image::ImageError| DatasetError::Decode {
        path: name(),
        detail: e.to_string().split_whitespace().collect::<Vec<_>>().join(" "),
    };
    if image::guess_format(bytes).is_ok_and(|f| f == image::ImageFormat::Jpeg) && !jpeg_complete(bytes) {
        return Err(DatasetError::Truncated { path: name() });
    }
    let img = image::load_from_memory(bytes).map_err(failed)?;
    if img.width() == 0 || img.height() == 0 {
        return Err(DatasetError::EmptyImage { path: name() });
    }
    Ok(to_rgb8(img))
}

/// The image file at `path` as the notebook's `3 x 64 x 64` input in [-1, 1].
pub fn load_image(path: &Path) -> Result<Vec<f32>, DatasetError> {
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Io { path: path.display().to_string(), source })?;
    Ok(preprocess(&decode(path, &bytes)?))
}

/// Every `files[i]` of `dir`, transformed, one after another in one buffer (`N x 3 x 64 x 64`),
/// read on all cores; the first failing file in order is the error.
pub fn load_images(dir: &Path, files: &[String]) -> Result<Vec<f32>, DatasetError> {
    let per = 3 * SIDE * SIDE;
    let mut out = vec![0.0f32; files.len() * per];
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(files.len().max(1));
    let chunk = files.len().div_ceil(threads).max(1);
    let results: Vec<Result<(), DatasetError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = out
            .chunks_mut(chunk * per)
            .zip(files.chunks(chunk))
            .map(|(dst, names)| {
                scope.spawn(move || {
                    for (slot, name) in dst.chunks_exact_mut(per).zip(names) {
                        slot.copy_from_slice(&load_image(&dir.join(name))?);
                    }
                    Ok(())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("an image-reading thread panicked")).collect()
    });
    results.into_iter().collect::<Result<(), _>>()?;
    log::info!("read {} images from {}", files.len(), dir.display());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use image::{GrayImage, ImageBuffer, Luma, LumaA, Rgba, RgbaImage};

    use super::*;

    #[test]
    fn conversions_to_rgb_follow_pillow() {
        let rgba = RgbaImage::from_raw(2, 1, vec![10, 20, 30, 0, 40, 50, 60, 255]).unwrap();
        assert_eq!(to_rgb8(DynamicImage::ImageRgba8(rgba)).data, [10, 20, 30, 40, 50, 60]);
        let grey = GrayImage::from_raw(2, 1, vec![7, 250]).unwrap();
        assert_eq!(to_rgb8(DynamicImage::ImageLuma8(grey)).data, [7, 7, 7, 250, 250, 250]);
        let la: ImageBuffer<LumaA<u8>, Vec<u8>> = ImageBuffer::from_raw(1, 1, vec![9, 0]).unwrap();
        assert_eq!(to_rgb8(DynamicImage::ImageLumaA8(la)).data, [9, 9, 9]);
        // Pillow's I;16 -> RGB clips; 16-bit colour keeps the high byte.
        let g16: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::from_raw(3, 1, vec![200, 256, 60000]).unwrap();
        assert_eq!(to_rgb8(DynamicImage::ImageLuma16(g16)).data, [200, 200, 200, 255, 255, 255, 255, 255, 255]);
        let c16: ImageBuffer<Rgba<u16>, Vec<u16>> = ImageBuffer::from_raw(1, 1, vec![0x1234, 0xff00, 0x00ff, 7]).unwrap();
        assert_eq!(to_rgb8(DynamicImage::ImageRgba16(c16)).data, [0x12, 0xff, 0x00]);
    }

    #[test]
    fn an_undecodable_file_is_named_with_the_reason() {
        let e = decode(Path::new("faces/x.jpg"), b"not an image").unwrap_err().to_string();
        assert!(e.starts_with("cannot decode faces/x.jpg as a JPEG or PNG image: "), "{e}");
        let e = load_image(Path::new("/nonexistent/y.png")).unwrap_err();
        assert_eq!(e.to_string(), "cannot read /nonexistent/y.png");
    }

    #[test]
    fn a_jpeg_is_complete_only_with_its_end_marker_after_the_scan() {
        // SOI, an APP1 segment holding a thumbnail's SOI..EOI, SOS, scan data, EOI.
        let head = [0xFF, 0xD8, 0xFF, 0xE1, 0x00, 0x06, 0xFF, 0xD8, 0xFF, 0xD9, 0xFF, 0xDA, 0x00, 0x04, 1, 2];
        let scan = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56];
        let full: Vec<u8> = [&head[..], &scan, &[0xFF, 0xD9]].concat();
        assert!(jpeg_complete(&full));
        // Cut anywhere before the end marker: the thumbnail's does not count.
        for cut in 0..full.len() - 1 {
            assert!(!jpeg_complete(&full[..cut]), "cut at {cut}");
        }
        // Bytes after the end marker are fine, as for Pillow.
        assert!(jpeg_complete(&[&full[..], b"trailing"].concat()));
    }
}
