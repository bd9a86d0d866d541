//! Pictures: the grid layout and byte mapping, PNG round trips, the probe grid's columns,
//! the forward-only `generate`, and the noise the probe keeps for its grid.

use crate::common::{assert_close, fixture};
use gan_bias::backend::cpu::CpuBackend;
use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::pictures::{self, BACKGROUND, Column, RgbImage, image_grid, probe_columns, to_byte};
use gan_bias::probe::{self, Keep, ProbeSettings, evaluate, run_probe, run_probe_with};
use gan_bias::rng::torch_randn;

fn decode(bytes: &[u8]) -> RgbImage {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.color_type, info.bit_depth), (png::ColorType::Rgb, png::BitDepth::Eight));
    buf.truncate(info.buffer_size());
    RgbImage { width: info.width as usize, height: info.height as usize, pixels: buf }
}

#[test]
fn bytes_map_tanh_range_like_the_notebook() {
    assert_eq!(to_byte(-1.0), 0);
    assert_eq!(to_byte(1.0), 255);
    assert_eq!(to_byte(0.0), 128); // 127.5 rounds away from zero
    assert_eq!(to_byte(-0.5), 64); // 63.75
    assert_eq!(to_byte(3.0), 255);
    assert_eq!(to_byte(-7.0), 0);
    assert_eq!(to_byte(f32::NAN), 0);
}

/// Image `i`, channel `k`, pixel `(x, y)` of the test images: distinct, inside [-1, 1].
fn value(i: usize, k: usize, x: usize, y: usize) -> f32 {
    ((i * 37 + k * 11 + x * 5 + y * 3) % 200) as f32 / 100.0 - 1.0
}

fn test_images(n: usize, c: usize, h: usize, w: usize) -> Vec<f32> {
    let mut v = Vec::new();
    for i in 0..n {
        for k in 0..c {
            for y in 0..h {
                for x in 0..w {
                    v.push(value(i, k, x, y));
                }
            }
        }
    }
    v
}

#[test]
fn grid_lays_tiles_out_row_major_like_make_grid() {
    let (n, c, h, w, nrow, pad) = (10, 3, 5, 4, 4, 2);
    let g = image_grid(&test_images(n, c, h, w), n, c, h, w, nrow, pad);
    // make_grid: xmaps = min(nrow, n), ymaps = ceil(n / xmaps), size pad + maps * (side + pad).
    assert_eq!((g.width, g.height), (2 + 4 * 6, 2 + 3 * 7));
    assert_eq!(g.pixels.len(), g.width * g.height * 3);
    for i in 0..n {
        let (x0, y0) = (pad + (i % nrow) * (w + pad), pad + (i / nrow) * (h + pad));
        for (x, y) in [(0, 0), (w - 1, h - 1), (1, 3)] {
            let want = [0, 1, 2].map(|k| to_byte(value(i, k, x, y)));
            assert_eq!(g.pixel(x0 + x, y0 + y), want, "image {i} pixel ({x}, {y})");
        }
    }
    // Padding, and the two empty tiles of the last row, are background.
    for (x, y) in
        [(0, 0), (1, 10), (pad + w, 3), (pad + w + 1, 3), (g.width - 1, g.height - 1), (pad + 2 * (w + pad) + 1, pad + 2 * (h + pad))]
    {
        assert_eq!(g.pixel(x, y), BACKGROUND, "({x}, {y})");
    }
}

#[test]
fn grid_with_fewer_images_than_nrow_is_one_row_and_grey_images_repeat_their_channel() {
    let g = image_grid(&test_images(3, 1, 2, 2), 3, 1, 2, 2, 8, 1);
    assert_eq!((g.width, g.height), (1 + 3 * 3, 1 + 3));
    let v = to_byte(value(2, 0, 1, 0));
    assert_eq!(g.pixel(1 + 2 * 3 + 1, 1), [v, v, v]);
    let empty = image_grid(&[], 0, 3, 4, 4, 8, 2);
    assert_eq!((empty.width, empty.height), (8, 2));
}

#[test]
fn png_round_trips_and_is_written_atomically() {
    let g = image_grid(&test_images(5, 3, 6, 7), 5, 3, 6, 7, 2, 2);
    let back = decode(&pictures::encode_png(&g).unwrap());
    assert_eq!(back, g);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("grid.png");
    pictures::write_png(&path, &g).unwrap();
    assert_eq!(decode(&std::fs::read(&path).unwrap()), g);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    let missing = dir.path().join("nope/grid.png");
    assert!(pictures::write_png(&missing, &g).unwrap_err().to_string().contains("nope"));
}

#[test]
fn probe_columns_read_from_least_to_most_of_the_target() {
    use Column::*;
    assert_eq!(probe_columns(5, 2), vec![Down(4), Down(2), Start, Up(2), Up(4)]);
    assert_eq!(probe_columns(6, 2), vec![Down(4), Down(2), Start, Up(2), Up(4)]);
    assert_eq!(probe_columns(1, 2), vec![Start]);
    assert_eq!(probe_columns(3, 5), vec![Start]);
    assert_eq!(probe_columns(3, 1), vec![Down(2), Down(1), Start, Up(1), Up(2)]);
    let notebook = probe_columns(30, 2);
    assert_eq!(notebook.len(), 29);
    assert_eq!((notebook[0], notebook[14], notebook[28]), (Down(28), Start, Up(28)));
    assert_eq!((Down(3).history_index(), Start.history_index(), Up(3).history_index()), ((1, 3), (0, 0), (0, 3)));
}

#[test]
fn generate_matches_the_forward_pass_of_evaluate_across_batches() {
    let g = crate::common::generator(&fixture("tiny_coursera_gen.safetensors"));
    let c = crate::common::classifier(&fixture("tiny_classifier.safetensors"));
    let rows = probe::GENERATE_BATCH + 6; // two programs' worth: one full, one padded
    let z = torch_randn(3, rows * g.input[0]);
    let stages = &g.graph;
    let images = probe::generate(&mut CpuBackend::new(), stages, &z).unwrap();
    let chained = gan_bias::program::lower::chain(&g, &c).unwrap();
    let ev = evaluate(&mut CpuBackend::new(), &chained, &z, 0).unwrap();
    assert_close("generated images", &images, &ev.outputs[g.graph.nodes.len() - 1], 1e-5, 1e-6);
    let again = probe::generate(&mut CpuBackend::fast(), stages, &z[..5 * g.input[0]]).unwrap();
    assert_close("fast backend, 5 rows", &again, &images[..5 * g.output.iter().product::<usize>()], 1e-4, 1e-5);
    assert!(probe::generate(&mut CpuBackend::new(), stages, &z[..7]).is_err());
    assert!(probe::generate(&mut CpuBackend::new(), stages, &[]).is_err());
    assert!(probe::generate(&mut CpuBackend::new(), &gan_bias::graph::Graph::default(), &z).is_err());
}

#[test]
fn kept_noise_is_the_start_and_each_update_and_changes_no_number() {
    let g = crate::common::generator(&fixture("tiny_coursera_gen.safetensors"));
    let c = crate::common::classifier(&fixture("tiny_classifier.safetensors"));
    let (n, steps, zdim) = (4, 3, g.input[0]);
    let z0 = torch_randn(0, n * zdim);
    let settings = ProbeSettings { target: 20, steps, update: UpdateRule::Sgd, max_batch: Some(3) };
    let plain = run_probe(&mut CpuBackend::new(), &g, &c, &z0, &settings).unwrap();
    assert!(plain.noise_history.is_empty());
    let kept = run_probe_with(&mut CpuBackend::new(), &g, &c, &z0, &settings, Keep { noise: 2, changes: false }, None).unwrap();
    assert_eq!(kept.cov, plain.cov);
    assert_eq!((kept.start_mean, kept.end_mean_up, kept.end_mean_down), (plain.start_mean, plain.end_mean_up, plain.end_mean_down));
    assert_eq!(kept.noise_history.len(), 2);
    for dir in &kept.noise_history {
        assert_eq!(dir.len(), steps);
        assert_eq!(dir[0], z0[..2 * zdim]);
    }
    // One SGD step: z1 = z0 +- grad(mean over the n images of the target logit) / steps.
    let chained = gan_bias::program::lower::chain(&g, &c).unwrap();
    let grad = evaluate(&mut CpuBackend::new(), &chained, &z0, 20).unwrap().input_grad;
    let up: Vec<f32> = (0..2 * zdim).map(|i| z0[i] + grad[i] / steps as f32).collect();
    let down: Vec<f32> = (0..2 * zdim).map(|i| z0[i] - grad[i] / steps as f32).collect();
    assert_close("kept noise, one step up", &kept.noise_history[0][1], &up, 1e-5, 1e-6);
    assert_close("kept noise, one step down", &kept.noise_history[1][1], &down, 1e-5, 1e-6);
    assert_ne!(kept.noise_history[0][2], kept.noise_history[0][1]);
    // More images kept than probed: all of them.
    let all = run_probe_with(&mut CpuBackend::new(), &g, &c, &z0, &settings, Keep { noise: 99, changes: false }, None).unwrap();
    assert_eq!(all.noise_history[1][0].len(), n * zdim);
    assert_eq!(all.noise_history[0][2][..2 * zdim], kept.noise_history[0][2][..]);
}
