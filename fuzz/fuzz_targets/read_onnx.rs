//! libFuzzer target for the ONNX reader: any input must give `Ok` or `Err`, never a panic,
//! a hang or a huge allocation; what is read must pass through the passes and the lowering's
//! checks. External data is looked for beside a model that does not exist. See `fuzz/README.md`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = std::path::Path::new("fuzz-input/model.onnx");
    if let Ok(model) = gan_bias::onnx::from_bytes(data, path) {
        let _ = model.listing();
        if model.check().is_ok() && !model.graph.outputs.is_empty() {
            let graph = gan_bias::passes::optimise(model.graph);
            if gan_bias::program::lower::lowerable(&graph).is_ok() {
                let _ = gan_bias::program::lower::forward_program(&graph, 2);
            }
        }
    }
});
