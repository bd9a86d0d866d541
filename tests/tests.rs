//! The integration tests, one test binary (one link of the crate and wgpu instead of one per
//! file): each module below is one file of `tests/` (or a folder of them), and
//! [`common`] is their one harness. `cargo test --release --test integration NAME` runs the
//! tests whose path contains NAME (e.g. `demo_world`, `cli::probe`, `ops::conv`).

mod common;

mod audit_stats;
mod bench;
mod cli;
mod dataset;
mod demo_world;
mod f16;
mod first_order_calibration;
mod first_order_golden;
mod golden;
mod import_pth;
mod import_pth_fuzz;
mod limits;
mod lowering;
mod onnx;
mod onnx_conformance;
mod onnx_fuzz;
mod ops;
mod pictures;
mod plots;
mod plots_directed;
mod plots_png;
mod probe_targets;
mod real;
mod report_html;
mod rng;
mod shaders;
mod stats_calibration;
mod stats_probe_golden;
mod translate;
