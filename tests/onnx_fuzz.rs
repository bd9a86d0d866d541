//! A bounded, std-only mutation fuzzer for the ONNX reader: seeded mutations of the ONNX
//! fixtures (both exporters' files, the hostile ones). Every input must give `Ok` or `Err`
//! quickly, and what is read must lower; a panic or a slow input fails the test and leaves
//! the input in the temp folder. `GAN_BIAS_FUZZ_ITERS` scales the iterations (default 2000);
//! `cargo +nightly fuzz run read_onnx` (in `fuzz/`) goes further.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use crate::common::SimRng;
use crate::common::fixture;
use crate::common::fuzz::mutate;

/// Bytes that steer a protobuf decoder somewhere interesting: field tags of every wire type,
/// varint continuations, the ends of ranges.
const INTERESTING: &[u8] = &[0, 1, 2, 0x08, 0x0a, 0x10, 0x12, 0x1a, 0x22, 0x2a, 0x3a, 0x42, 0x4a, 0x7f, 0x80, 0xff, 0xfe, 0x05, 0x0d, 0x15];

/// Reads `input` as a model beside the fixtures (so external data resolves); what is read is
/// passed through the passes and checked for the lowering. Returns the failure, if any.
fn check(input: &[u8], limit: Duration) -> Option<String> {
    let path = fixture("onnx/tiny_gen_dynamo.onnx");
    let start = Instant::now();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let model = gan_bias::onnx::from_bytes(input, &path)?;
        let listing = model.listing();
        if model.check().is_ok() && !model.graph.outputs.is_empty() {
            let graph = gan_bias::passes::optimise(model.graph.clone());
            if gan_bias::program::lower::lowerable(&graph).is_ok() {
                gan_bias::program::lower::forward_program(&graph, 2)
                    .map(|_| ())
                    .map_err(|e| gan_bias::onnx::OnnxError::Structure { path: String::new(), detail: e.to_string() })?;
            }
        }
        Ok::<usize, gan_bias::onnx::OnnxError>(listing.len())
    }));
    let took = start.elapsed();
    match result {
        Err(_) => Some("panicked".into()),
        Ok(_) if took > limit => Some(format!("took {took:?}")),
        Ok(Err(e)) if e.to_string().is_empty() || e.to_string().contains('\n') => Some(format!("bad error message {e:?}")),
        Ok(_) => None,
    }
}

#[test]
fn fuzz_onnx_reader() {
    let scale: f64 = std::env::var("GAN_BIAS_FUZZ_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(2000.0);
    let files = [
        "tiny_gen_ts.onnx",
        "tiny_gen_dynamo.onnx",
        "hostile_op.onnx",
        "hostile_short.onnx",
        "tiny_coursera_dynamo.onnx",
        "tiny_classifier_dynamo.onnx",
        // The shape arithmetic of F.pad and F.interpolate, pooling, general convolutions.
        "tiny_mix_ts.onnx",
        "tiny_bilinear_ts.onnx",
        "tiny_pool_ts.onnx",
        "tiny_convs_ts.onnx",
    ];
    let seeds: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(fixture(&format!("onnx/{f}"))).unwrap()).collect();
    let mut rng = SimRng(0x0bad_5eed);
    let mut failures = Vec::new();
    let started = Instant::now();
    let iters = scale.ceil() as usize;
    for i in 0..iters {
        let input = mutate(&mut rng, &seeds[i % seeds.len()], &seeds, usize::MAX, INTERESTING);
        if std::env::var_os("GAN_BIAS_FUZZ_TRACE").is_some() {
            // Left behind by an input that hangs.
            std::fs::write(std::env::temp_dir().join("onnx_fuzz_current.bin"), &input).unwrap();
        }
        if let Some(why) = check(&input, Duration::from_secs(5)) {
            let path = std::env::temp_dir().join(format!("onnx_fuzz_{i}.bin"));
            std::fs::write(&path, &input).unwrap();
            failures.push(format!("#{i}: {why} (input saved to {})", path.display()));
        }
    }
    eprintln!("{iters} mutated ONNX inputs in {:.1} s", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
}
