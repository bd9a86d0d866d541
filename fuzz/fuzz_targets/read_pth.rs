//! libFuzzer target for the `.pth` importer: any input must give `Ok` or `Err`, never
//! a panic, a hang or a huge allocation. See `fuzz/README.md`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tensors) = gan_bias::import::read_pth_bytes(data, None) {
        for t in &tensors {
            assert_eq!(t.data.len(), t.shape.iter().product::<usize>() * t.dtype.size());
        }
    }
    let _ = gan_bias::import::read_pth_bytes(data, Some("state_dict"));
});
