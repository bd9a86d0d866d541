//! The PNG plots: the bitmap font, the heatmap's cell colours against the colour map's
//! definition, the regplot's markers and lines where an independent fit puts them, and
//! `--plot` / `--heatmap` with `.png` paths end to end on the tiny fixtures.

use std::path::Path;

use crate::common::{fixture, gan, probe_args};
use gan_bias::pictures::RgbImage;
use gan_bias::plots::canvas::{Anchor, Canvas, Rect, TextStyle};
use gan_bias::plots::font::{self, ROWS};
use gan_bias::plots::raster::RasterCanvas;
use gan_bias::plots::{self, PlotFormat};
use gan_bias::rng::torch_randn;
use gan_bias::stats::FeatureMatrix;
use nalgebra::{DMatrix, DVector};

pub fn decode(bytes: &[u8]) -> RgbImage {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).expect("PNG pixels");
    assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgb, png::BitDepth::Eight));
    buf.truncate(info.buffer_size());
    RgbImage { width: info.width as usize, height: info.height as usize, pixels: buf }
}

/// Pixels darker than any the plots draw except text, in `[x0, x1) x [y0, y1)`.
fn dark_in(img: &RgbImage, x0: usize, y0: usize, x1: usize, y1: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    for y in y0..y1.min(img.height) {
        for x in x0..x1.min(img.width) {
            if img.pixel(x, y).iter().all(|c| *c < 64) {
                out.push((x, y));
            }
        }
    }
    out
}

/// `(min x, min y, max x, max y)` of some pixels.
fn bounds(px: &[(usize, usize)]) -> (usize, usize, usize, usize) {
    assert!(!px.is_empty(), "no pixels");
    let xs = px.iter().map(|p| p.0);
    let ys = px.iter().map(|p| p.1);
    (xs.clone().min().unwrap(), ys.clone().min().unwrap(), xs.max().unwrap(), ys.max().unwrap())
}

// ---------------------------------------------------------------------------------------------
// The font

#[test]
fn font_has_a_distinct_glyph_for_every_printable_character() {
    let printable: Vec<char> = (' '..='~').collect();
    assert_eq!(printable.len(), 95);
    let mut seen = std::collections::HashMap::new();
    for &c in &printable {
        let g = font::glyph(c);
        let lit = (0..font::COLUMNS).flat_map(|x| (0..ROWS).map(move |y| (x, y))).filter(|&(x, y)| g.lit(x, y)).count();
        assert_eq!(lit == 0, c == ' ', "{c:?} has {lit} lit pixels");
        if c != ' ' {
            // The width is exactly the lit columns (digits keep the whole cell).
            let cols: Vec<usize> = (0..font::COLUMNS).filter(|&x| (0..ROWS).any(|y| g.lit(x, y))).collect();
            if !c.is_ascii_digit() {
                assert_eq!((g.left, g.width), (cols[0], cols[cols.len() - 1] + 1 - cols[0]), "{c:?}");
            } else {
                assert_eq!((g.left, g.width), (0, font::COLUMNS), "{c:?}");
            }
        }
        if let Some(other) = seen.insert(g.rows, c) {
            panic!("{c:?} and {other:?} look the same");
        }
    }
    // Anything else is a box, unlike every printable glyph.
    for c in ['é', '\u{1F600}', '\t'] {
        assert!(!seen.contains_key(&font::glyph(c).rows), "{c:?}");
        assert_eq!(font::glyph(c).rows, font::glyph('é').rows);
    }
    // Descenders only where letters have them.
    for c in printable {
        let below = (0..font::COLUMNS).any(|x| (font::ASCENT..ROWS).any(|y| font::glyph(c).lit(x, y)));
        assert_eq!(below, "gjpqy,;_|".contains(c), "{c:?}");
    }
}

#[test]
fn text_width_matches_the_drawn_extent() {
    let texts = ["Male", "Generator Biases: Features vs Male-ness", "-0.852", "i", "WearingNecktie", "a b", "{|}~", "5oClockShadow"];
    for t in texts {
        let px = font::pixels(t);
        let (x0, _, x1, _) = bounds(&px);
        assert_eq!((x0, x1 + 1), (0, font::text_width(t)), "{t:?} at scale 1");
    }
    // Digits are all as wide, so columns of numbers line up; a narrow one is drawn inside.
    assert_eq!(font::text_width("1.11"), font::text_width("0.80"));
    let (x0, _, x1, _) = bounds(&font::pixels("1"));
    assert!(x0 > 0 && x1 + 1 < font::text_width("1"));
    assert_eq!(font::text_width("  "), 2 * 3 + 1, "a space is 3 wide, then the gap");
    assert_eq!(font::text_width(""), 0);

    // On a raster, at each anchor, flat and turned; the origin is on the baseline.
    let (ox, oy) = (150.0, 250.0); // pixels (300, 500)
    for size in [10.0, 12.0, 16.0] {
        for t in ["Mg", "Other Feature", "0.25"] {
            for anchor in [Anchor::Start, Anchor::Middle, Anchor::End] {
                for vertical in [false, true] {
                    let mut c = RasterCanvas::new(800, 800, 2.0);
                    let style = TextStyle { size, anchor, vertical };
                    c.text((ox, oy), t, style);
                    let w = (c.text_width(t, size) * 2.0).round() as usize;
                    let s = c.font_scale(size);
                    assert_eq!(w, font::text_width(t) * s);
                    let img = c.into_image();
                    let (x0, y0, x1, y1) = bounds(&dark_in(&img, 0, 0, img.width, img.height));
                    let (along0, along1, across0, across1) = if vertical { (y0, y1, x0, x1) } else { (x0, x1, y0, y1) };
                    let what = format!("{t:?} size {size} {anchor:?} vertical {vertical}");
                    assert_eq!(along1 + 1 - along0, w, "{what}: extent along the text");
                    let start = match (anchor, vertical) {
                        (Anchor::Start, false) => 300,
                        (Anchor::Middle, false) => 300 - w / 2,
                        (Anchor::End, false) => 300 - w,
                        (Anchor::Start, true) => 500 - w,
                        (Anchor::Middle, true) => 500 - w + w / 2,
                        (Anchor::End, true) => 500,
                    };
                    assert_eq!(along0, start, "{what}: where it starts");
                    // Capitals stand 7 font pixels on the baseline; a descender hangs 2 below.
                    let descends = t.contains('g');
                    let (top, bottom) = if vertical { (300 - 7 * s, 300 + 2 * s) } else { (500 - 7 * s, 500 + 2 * s) };
                    assert_eq!(across0, top, "{what}: cap height");
                    assert_eq!(across1 + 1, if descends { bottom } else { top + 7 * s }, "{what}: baseline");
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The heatmap

/// The colour map as documented: white to (33, 102, 172) at -1, to (178, 24, 43) at +1.
fn expected_colour(t: f64) -> [u8; 3] {
    let t = t.clamp(-1.0, 1.0);
    let end = if t < 0.0 { [33.0, 102.0, 172.0] } else { [178.0, 24.0, 43.0] };
    [0, 1, 2].map(|k| (255.0 - (255.0 - end[k]) * t.abs()).round() as u8)
}

#[test]
fn heatmap_png_cells_have_the_colour_of_their_value() {
    let names: Vec<String> = ["Alpha", "Beta", "Gamma", "Delta"].iter().map(|s| s.to_string()).collect();
    #[rustfmt::skip]
    let m: [f32; 16] = [
        1.5, 0.8, -0.3, 0.2,
        0.8, 0.72, -0.8, 0.0,
        -0.3, -0.8, -2.0, 0.6,
        0.2, 0.0, 0.6, 0.0,
    ];
    let bytes = plots::heatmap_file(PlotFormat::Png, &FeatureMatrix::new(names.clone(), m.to_vec()).unwrap(), "Test").unwrap();
    let img = decode(&bytes);
    // Names room: 10 + 6.2 x 5 = 41; width 41 + 4 x 14 + 110, height 45 + 4 x 14 + 41; 2 px per unit.
    assert_eq!((img.width, img.height), (2 * 207, 2 * 142));
    let lim = 0.8; // the largest |value| off the diagonal
    for i in 0..4 {
        for j in 0..4 {
            let (x, y) = (2 * (41 + 14 * j + 7), 2 * (45 + 14 * i + 7));
            let want = expected_colour(m[i * 4 + j] as f64 / lim);
            assert_eq!(img.pixel(x, y), want, "cell ({i}, {j}) = {}", m[i * 4 + j]);
            // The whole cell is that colour, up to its edges.
            assert_eq!(img.pixel(x - 13, y - 13), want);
            assert_eq!(img.pixel(x + 13, y + 13), want);
        }
        // The row's name left of it, ending 4 units before the cells; the column's below.
        let (_, y0, x1, y1) = bounds(&dark_in(&img, 0, 2 * (45 + 14 * i), 82, 2 * (45 + 14 * i + 14)));
        assert_eq!(x1 + 1, 2 * (41 - 4), "row {i}'s name ends before the cells");
        assert!(y0 >= 2 * (45 + 14 * i) && y1 < 2 * (45 + 14 * i + 14));
        let (x0, y0, x1, _) = bounds(&dark_in(&img, 2 * (41 + 14 * i), 2 * 101, 2 * (41 + 14 * i + 14), img.height));
        assert_eq!(y0, 2 * (101 + 4), "column {i}'s name starts 4 units below the cells");
        assert!(x0 >= 2 * (41 + 14 * i) && x1 < 2 * (41 + 14 * i + 14));
    }
    // The colour bar: +lim at the top, white half way, -lim at the bottom.
    let bx = 2 * (41 + 56 + 25 + 8);
    let near = |got: [u8; 3], want: [u8; 3]| got.iter().zip(want).all(|(g, w)| (*g as i32 - w as i32).abs() <= 12);
    assert!(near(img.pixel(bx, 2 * 45 + 2), expected_colour(1.0)), "{:?}", img.pixel(bx, 2 * 45 + 2));
    assert!(near(img.pixel(bx, 2 * (45 + 28)), [255, 255, 255]), "{:?}", img.pixel(bx, 2 * (45 + 28)));
    assert!(near(img.pixel(bx, 2 * (45 + 56) - 3), expected_colour(-1.0)), "{:?}", img.pixel(bx, 2 * (45 + 56) - 3));
    // Title and the bar's numbers are drawn.
    assert!(!dark_in(&img, 0, 0, img.width, 2 * 45).is_empty(), "title");
    assert!(!dark_in(&img, bx + 20, 2 * 40, img.width, 2 * 50).is_empty(), "the bar's top number");

    // A title wider than the cells widens the picture: 20 + 9.92 per character, and fits.
    let title = "A title much longer than two cells and their names are wide";
    let img =
        decode(&plots::heatmap_file(PlotFormat::Png, &FeatureMatrix::new(names[..2].to_vec(), m[..4].to_vec()).unwrap(), title).unwrap());
    assert_eq!(img.width, 2 * (20 + (248 * title.len()).div_ceil(25)));
    let (x0, _, x1, _) = bounds(&dark_in(&img, 0, 0, img.width, 2 * 40));
    assert!(x0 > 0 && x1 < img.width - 1, "title {x0}..{x1} of {}", img.width);
}

// ---------------------------------------------------------------------------------------------
// The regplot

/// Least squares by nalgebra's SVD of the design matrix [1, x]: (slope, intercept).
fn svd_fit(x: &[f64], y: &[f64]) -> (f64, f64) {
    let a = DMatrix::from_fn(x.len(), 2, |r, c| if c == 0 { 1.0 } else { x[r] });
    let beta = a.svd(true, true).solve(&DVector::from_column_slice(y), 1e-14).unwrap();
    (beta[1], beta[0])
}

const BLUE: [u8; 3] = [0x1f, 0x77, 0xb4];
const ORANGE: [u8; 3] = [0xff, 0x7f, 0x0e];

#[test]
fn regplot_png_puts_markers_and_lines_where_an_independent_fit_does() {
    // A noisy series over x in [0.2, 1.8], and an exact line whose three x values are its
    // three bins, so it alone sets the axes: x from 0 to 2, y from -10 to 10, each widened 5%.
    let noise = torch_randn(11, 30);
    let x1: Vec<f64> = (0..30).map(|i| 0.2 + 1.6 * i as f64 / 29.0).collect();
    let y1: Vec<f64> = x1.iter().zip(&noise).map(|(x, e)| 3.0 - x + 0.2 * *e as f64).collect();
    let x2: Vec<f64> = [0.0, 1.0, 2.0].iter().flat_map(|v| [*v; 3]).collect();
    let y2: Vec<f64> = x2.iter().map(|x| 10.0 - 10.0 * x).collect();
    let series = vec![("Noisy".to_string(), x1.clone(), y1.clone()), ("Exact".to_string(), x2, y2)];
    let img = decode(&plots::regplot_file(PlotFormat::Png, "Male", &series, 3).unwrap());
    assert_eq!((img.width, img.height), (1520, 1040));
    // The plotting area: 75 units from the left, 45 from the top, 665 x 415; 2 px per unit.
    let px = |x: f64, y: f64| ((2.0 * (75.0 + (x + 0.1) / 2.2 * 665.0)) as usize, (2.0 * (45.0 + (11.0 - y) / 22.0 * 415.0)) as usize);

    // The exact line's bin means, and nothing orange a little left of them.
    for (x, y) in [(0.0, 10.0), (1.0, 0.0), (2.0, -10.0)] {
        let (cx, cy) = px(x, y);
        assert_eq!(img.pixel(cx, cy), ORANGE, "marker at ({x}, {y})");
        // A disc of radius 3.5 units: 7 px.
        for dy in [-5, 5] {
            assert_eq!(img.pixel(cx, (cy as i64 + dy) as usize), ORANGE, "{dy} px off the marker at ({x}, {y})");
        }
        for dy in [-9, 9] {
            assert_ne!(img.pixel(cx, (cy as i64 + dy) as usize), ORANGE, "{dy} px off the marker at ({x}, {y})");
        }
        assert_ne!(img.pixel(cx - 10, cy), ORANGE, "left of the marker at ({x}, {y})");
    }
    // The noisy series' fitted line, away from its bins (x about 0.6, 1.0, 1.4) and from
    // where it crosses the other line (x about 0.8); clear of it 12 px above and below.
    let (slope, intercept) = svd_fit(&x1, &y1);
    for x in [0.3, 0.5, 1.2, 1.7] {
        let (cx, cy) = px(x, intercept + slope * x);
        assert_eq!(img.pixel(cx, cy), BLUE, "fitted line at x = {x}");
        for dy in [-12i64, 12] {
            let p = img.pixel(cx, (cy as i64 + dy) as usize);
            assert!(p != BLUE && p.iter().map(|c| *c as u32).sum::<u32>() > 600, "{dy} px off the line at x = {x}: {p:?}");
        }
    }
    // The line spans the data only.
    let (cx, cy) = px(0.1, intercept + slope * 0.1);
    assert_ne!(img.pixel(cx, cy), BLUE, "the line goes no further left than the data");

    // The title, centred over the plotting area, 3 px per font pixel, standing on y = 28 units.
    let title = "Generator Biases: Features vs Male-ness";
    let (x0, y0, x1, y1) = bounds(&dark_in(&img, 0, 0, 1520, 2 * 40));
    assert_eq!(x1 + 1 - x0, 3 * font::text_width(title));
    assert!(((x0 + x1 + 1) as i64 - 2 * (2 * 75 + 665)).abs() <= 1, "title centred on x = 407.5 units: {x0}..{x1}");
    assert_eq!((y0, y1 + 1), (56 - 21, 56));
    // Axis labels: the target under the x ticks, "Other Feature" turned at the left.
    assert!(!dark_in(&img, 0, 2 * 490, 1520, 1040).is_empty(), "x label");
    let (_, y0, _, y1) = bounds(&dark_in(&img, 0, 0, 2 * 30, 1040));
    assert_eq!(y1 + 1 - y0, 3 * font::text_width("Other Feature"));
    // Tick labels left of and under the area; inside it the only text is the legend's, at the
    // upper right.
    assert!(!dark_in(&img, 2 * 30, 2 * 45, 2 * 75, 2 * 460).is_empty(), "y tick labels");
    assert!(!dark_in(&img, 2 * 75, 2 * 460, 2 * 740, 2 * 480).is_empty(), "x tick labels");
    let (x0, y0, _, y1) = bounds(&dark_in(&img, 2 * 75, 2 * 45, 2 * 740, 2 * 460));
    assert!(x0 > 2 * 500 && y0 > 2 * 53 && y1 < 2 * 103, "legend text at {x0}, {y0}..{y1}");
}

#[test]
fn odd_numbers_draw_without_panicking() {
    let x = vec![0.0, 1.0, f64::NAN, 1e300, -1e300, 2.0];
    let y = vec![1.0, f64::INFINITY, 0.0, 2.0, -1e300, f64::NAN];
    let flat = vec![5.0; 6];
    for series in [vec![("odd".to_string(), x.clone(), y.clone())], vec![("flat".to_string(), flat.clone(), flat.clone())], vec![]] {
        let img = decode(&plots::regplot_file(PlotFormat::Png, "T\u{e9}st", &series, 4).unwrap());
        assert_eq!((img.width, img.height), (1520, 1040));
    }
    let names: Vec<String> = vec!["a".into(), "b\u{e9}".into()];
    for m in [[f32::NAN, f32::INFINITY, -f32::INFINITY, 0.0], [0.0; 4], [1e38, -1e38, 3.0, f32::MIN_POSITIVE]] {
        let img = decode(&plots::heatmap_file(PlotFormat::Png, &FeatureMatrix::new(names.clone(), m.to_vec()).unwrap(), "").unwrap());
        assert_eq!(img.width, 2 * (10 + 13 + 28 + 110));
    }
    // Shapes reaching past what f64 can subtract.
    let mut c = RasterCanvas::new(50, 50, 2.0);
    let m = f64::MAX;
    c.fill_polygon(&[(0.0, 0.0), (m, m), (-m, m)], [0, 0, 0], 1.0);
    c.fill_polygon(&[(m, 0.0), (-m, 10.0), (m, 20.0)], [0, 0, 0], 1.0);
    c.line((-m, 3.0), (m, 7.0), [0, 0, 0], 1.0);
    c.circle((m, m), m, [0, 0, 0]);
    c.text((f64::NAN, m), "x", TextStyle::new(12.0, Anchor::Middle));
    c.vertical_gradient(Rect { x: -m, y: -m, w: m, h: f64::INFINITY }, &[(0.0, [0, 0, 0]), (1.0, [9, 9, 9])]);
    // Names too long for a PNG are refused, not drawn.
    let long = vec!["x".repeat(100_000)];
    assert!(matches!(
        plots::heatmap_file(PlotFormat::Png, &FeatureMatrix::new(long, vec![1.0f32]).unwrap(), "t"),
        Err(plots::PlotError::TooLarge { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// The command

fn s(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn plot_and_heatmap_write_pngs_by_their_extension() {
    let dir = tempfile::tempdir().unwrap();
    let (plot, heat) = (dir.path().join("plot.png"), dir.path().join("heat.PNG"));
    let out = gan(&probe_args(&["--plot", &s(&plot), "--heatmap", &s(&heat)]));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let img = decode(&std::fs::read(&plot).unwrap());
    assert_eq!((img.width, img.height), (1520, 1040));
    let five = [BLUE, ORANGE, [0x2c, 0xa0, 0x2c], [0xd6, 0x27, 0x28], [0x94, 0x67, 0xbd]];
    for colour in five {
        assert!(img.pixels.chunks(3).any(|p| p == colour), "a series in {colour:?}");
    }
    let names = crate::common::classifier(&fixture("tiny_classifier.safetensors")).features;
    let title = "Covariance of the classifier's changes, probing Male";
    let label = 10 + (31 * names.iter().map(|n| n.chars().count()).max().unwrap()).div_ceil(5);
    let side = 14 * names.len();
    let w = (label + side + 110).max(20 + (248 * title.len()).div_ceil(25));
    let img = decode(&std::fs::read(&heat).unwrap());
    assert_eq!((img.width, img.height), (2 * w, 2 * (45 + side + label)));
    assert!(std::fs::read_dir(dir.path()).unwrap().count() == 2, "no temporary files left");
}

#[test]
fn other_extensions_fail_early_naming_the_flag_and_path() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, name) in [("--plot", "x.jpg"), ("--heatmap", "x.svgz"), ("--plot", "noextension")] {
        let path = s(&dir.path().join(name));
        let out = gan(&probe_args(&[flag, &path]));
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{err}");
        for needle in [flag, path.as_str(), ".svg", ".png"] {
            assert!(lines[0].contains(needle), "{:?} does not name {needle}", lines[0]);
        }
        assert!(out.stdout.is_empty(), "failed before the probe ran");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
