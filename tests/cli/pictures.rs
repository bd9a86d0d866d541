//! Pictures: `gan-bias generate` and the probe's `--grid`.

use super::*;

fn decode_png(path: &Path) -> gan_bias::pictures::RgbImage {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgb, png::BitDepth::Eight));
    buf.truncate(info.buffer_size());
    gan_bias::pictures::RgbImage { width: info.width as usize, height: info.height as usize, pixels: buf }
}

fn generate_args(out: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = strs(&["generate", "--backend", "cpu", "--generator", &gen_path(), "-o", &p(out)]);
    a.extend(strs(extra));
    a
}

fn tiny_zdim() -> usize {
    crate::common::generator(&fixture("tiny_coursera_gen.safetensors")).input[0]
}

/// The tiny generator's images (NCHW) for `z`, through `evaluate` on the reference CPU backend.
fn tiny_images(z: &[f32]) -> Vec<f32> {
    use gan_bias::backend::cpu::CpuBackend;
    let g = crate::common::generator(&fixture("tiny_coursera_gen.safetensors"));
    let c = crate::common::classifier(&fixture("tiny_classifier.safetensors"));
    let stages = gan_bias::program::lower::chain(&g, &c).unwrap();
    gan_bias::probe::evaluate(&mut CpuBackend::new(), &stages, z, 0).unwrap().outputs.swap_remove(g.graph.nodes.len() - 1)
}

/// Asserts tile `(col, row)` of a grid of 64x64 tiles with 2 px padding shows `image` (3x64x64).
fn assert_tile(grid: &gan_bias::pictures::RgbImage, col: usize, row: usize, image: &[f32], what: &str) {
    let (x0, y0) = (2 + col * 66, 2 + row * 66);
    for (x, y) in [(0, 0), (63, 63), (17, 40), (50, 9), (32, 32)] {
        let got = grid.pixel(x0 + x, y0 + y);
        for k in 0..3 {
            let want = gan_bias::pictures::to_byte(image[k * 4096 + y * 64 + x]);
            assert!(got[k].abs_diff(want) <= 1, "{what}: tile ({col}, {row}) pixel ({x}, {y}) channel {k}: {} vs {want}", got[k]);
        }
    }
}

#[test]
fn generate_writes_a_grid_of_the_generator_images() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("grid.png");
    let said = succeeds(&generate_args(&out, &["--n", "10", "--nrow", "4", "--seed", "5"]));
    assert!(said.contains("266x200"), "{said}");
    let grid = decode_png(&out);
    assert_eq!((grid.width, grid.height), (2 + 4 * 66, 2 + 3 * 66));
    let images = tiny_images(&gan_bias::rng::torch_randn(5, 10 * tiny_zdim()));
    for i in [0, 3, 4, 9] {
        assert_tile(&grid, i % 4, i / 4, &images[i * 3 * 4096..(i + 1) * 3 * 4096], "generate");
    }
    assert_eq!(grid.pixel(0, 0), gan_bias::pictures::BACKGROUND);
    assert_eq!(grid.pixel(2 + 3 * 66, 2 + 2 * 66), gan_bias::pictures::BACKGROUND, "the last row's empty tiles");
    let few = dir.path().join("few.png");
    succeeds(&generate_args(&few, &["--n", "3"]));
    let few = decode_png(&few);
    assert_eq!((few.width, few.height), (2 + 3 * 66, 2 + 66));
}

#[test]
fn generate_is_deterministic_per_seed() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b, c] = ["a.png", "b.png", "c.png"].map(|f| dir.path().join(f));
    succeeds(&generate_args(&a, &["--n", "4", "--seed", "7"]));
    succeeds(&generate_args(&b, &["--n", "4", "--seed", "7"]));
    succeeds(&generate_args(&c, &["--n", "4", "--seed", "8"]));
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_ne!(decode_png(&a).pixels, decode_png(&c).pixels);
}

#[test]
fn generate_refuses_bad_arguments_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.png");
    fails(&generate_args(&out, &["--n", "0"]), &["--n"]);
    fails(&generate_args(&out, &["--nrow", "0"]), &["--nrow"]);
    fails(&generate_args(&dir.path().join("missing/g.png"), &[]), &["missing", "does not exist"]);
    let mut bad_gen = strs(&["generate", "--backend", "cpu", "-o", &p(&out), "--generator"]);
    bad_gen.push(p(&dir.path().join("nope.safetensors")));
    fails(&bad_gen, &["nope.safetensors"]);
    let mut classifier_as_gen = strs(&["generate", "--backend", "cpu", "-o", &p(&out), "--generator"]);
    classifier_as_gen.push(cls_path());
    fails(&classifier_as_gen, &[]);
    assert!(!out.exists(), "no file is written on failure");
}

#[test]
fn probe_grid_shows_each_image_from_least_to_most_of_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("probe.png");
    let plain = succeeds(&probe_args(&strs(&["--images", "3", "--steps", "5"])));
    let extra = strs(&["--images", "3", "--steps", "5", "--grid", &p(&out), "--grid-images", "2", "--skip", "2"]);
    let with_grid = succeeds(&probe_args(&extra));
    assert_eq!(table_lines(&with_grid), table_lines(&plain), "--grid changes no number");
    let grid = decode_png(&out);
    let columns = gan_bias::pictures::probe_columns(5, 2);
    assert_eq!(columns.len(), 5); // steps 4, 2 down; start; 2, 4 up
    assert_eq!((grid.width, grid.height), (2 + columns.len() * 66, 2 + 2 * 66));
    let start = tiny_images(&gan_bias::rng::torch_randn(0, 3 * tiny_zdim()));
    for row in 0..2 {
        assert_tile(&grid, 2, row, &start[row * 3 * 4096..(row + 1) * 3 * 4096], "the middle column is G(z0)");
    }
    // The outer columns moved away from the start.
    let tile = |col: usize| (0..64).map(|x| grid.pixel(2 + col * 66 + x, 2 + 30)).collect::<Vec<_>>();
    assert_ne!(tile(0), tile(2));
    assert_ne!(tile(4), tile(2));
    // More grid images than images: one row per image.
    let all = dir.path().join("all.png");
    succeeds(&probe_args(&strs(&["--images", "2", "--steps", "1", "--grid", &p(&all), "--grid-images", "9"])));
    let all = decode_png(&all);
    assert_eq!((all.width, all.height), (2 + 66, 2 + 2 * 66));
}

#[test]
fn probe_grid_refuses_bad_arguments_before_running() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.png");
    fails(&probe_args(&strs(&["--grid", &p(&out), "--skip", "0"])), &["--skip"]);
    fails(&probe_args(&strs(&["--grid", &p(&out), "--grid-images", "0"])), &["--grid-images"]);
    fails(&probe_args(&strs(&["--grid", &p(&dir.path().join("missing/g.png"))])), &["missing", "does not exist"]);
    assert!(!out.exists());
}
