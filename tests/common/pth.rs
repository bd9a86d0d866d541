//! Shared helpers of the `.pth` import tests: where the fixtures are, and a tiny
//! writer of pickles, legacy `torch.save` streams and zip archives for hand-built inputs.

use std::io::Write;
use std::path::PathBuf;

/// `tests/fixtures` of this crate (where [`super::fixture`] looks).
pub fn fixtures() -> PathBuf {
    super::fixture("")
}

/// The committed small inputs made by `tools/make_hostile_pth.py`.
pub fn hostile(name: &str) -> Vec<u8> {
    let path = fixtures().join("hostile").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The folder of the real checkpoints (the harness's one lookup: `$GAN_BIAS_SHARED`, else
/// `../shared/fixtures` beside the crate). Panics with a clear message when it is missing.
pub fn shared_dir() -> PathBuf {
    let dir = super::shared_dir().to_path_buf();
    assert!(
        dir.join("coursera_celeba40_classifier.pth").is_file(),
        "the real checkpoints are missing: no coursera_celeba40_classifier.pth in {} \
         (the shared fixtures folder; set GAN_BIAS_SHARED to point elsewhere)",
        dir.display()
    );
    dir
}

pub const CLASSIFIER: &str = "coursera_celeba40_classifier.pth";
pub const GENERATOR: &str = "dcgan_tutorial_digiface_generator.pth";

/// A pickle under construction (protocol 2 header written).
#[derive(Clone)]
pub struct Pk(pub Vec<u8>);

impl Pk {
    pub fn new() -> Self {
        Pk(vec![0x80, 2])
    }
    pub fn op(mut self, bytes: &[u8]) -> Self {
        self.0.extend_from_slice(bytes);
        self
    }
    pub fn s(self, s: &str) -> Self {
        let n = (s.len() as u32).to_le_bytes();
        self.op(b"X").op(&n).op(s.as_bytes())
    }
    /// Any i64, as LONG1.
    pub fn int(self, i: i64) -> Self {
        self.op(&[0x8a, 8]).op(&i.to_le_bytes())
    }
    pub fn global(self, module: &str, name: &str) -> Self {
        self.op(b"c").op(module.as_bytes()).op(b"\n").op(name.as_bytes()).op(b"\n")
    }
    pub fn ints(self, v: &[i64]) -> Self {
        v.iter().fold(self.op(b"("), |p, &i| p.int(i)).op(b"t")
    }
    /// Pushes the persistent id `('storage', torch.<ty>, key, 'cpu', numel[, None])`.
    pub fn storage(self, ty: &str, key: &str, numel: i64, legacy: bool) -> Self {
        let p = self.op(b"(").s("storage").global("torch", ty).s(key).s("cpu").int(numel);
        (if legacy { p.op(b"N") } else { p }).op(b"tQ")
    }
    /// Pushes `_rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())`.
    pub fn tensor(self, st: (&str, &str, i64), offset: i64, size: &[i64], stride: &[i64], legacy: bool) -> Self {
        self.global("torch._utils", "_rebuild_tensor_v2")
            .op(b"(")
            .storage(st.0, st.1, st.2, legacy)
            .int(offset)
            .ints(size)
            .ints(stride)
            .op(&[0x89])
            .global("collections", "OrderedDict")
            .op(b")R")
            .op(b"tR")
    }
    pub fn stop(self) -> Vec<u8> {
        self.op(b".").0
    }
}

/// A pickle of `{name: tensor, ...}` with contiguous float tensors of the given shapes,
/// each on its own storage keyed "0", "1", ...
pub fn float_state_dict(tensors: &[(&str, &[i64])], legacy: bool) -> Vec<u8> {
    let mut p = Pk::new().op(b"}");
    for (i, (name, shape)) in tensors.iter().enumerate() {
        let numel: i64 = shape.iter().product();
        let mut stride = vec![1i64; shape.len()];
        for d in (0..shape.len().saturating_sub(1)).rev() {
            stride[d] = stride[d + 1] * shape[d + 1];
        }
        p = p.s(name).tensor(("FloatStorage", &i.to_string(), numel), 0, shape, &stride, legacy).op(b"s");
    }
    p.stop()
}

/// A legacy `torch.save` stream: magic, version, sys_info, `main`, keys, storages.
pub fn legacy_file(main: &[u8], storages: &[(&str, u64, &[u8])], little_endian: bool) -> Vec<u8> {
    let magic: u128 = 0x1950a86a20f9469cfc6c;
    let mut out = Pk::new().op(&[0x8a, 10]).op(&magic.to_le_bytes()[..10]).stop();
    out.extend(Pk::new().op(&[b'M', 0xe9, 0x03]).stop());
    let sys = Pk::new().op(b"}").s("little_endian").op(&[if little_endian { 0x88 } else { 0x89 }]);
    out.extend(sys.op(b"s").stop());
    out.extend_from_slice(main);
    let keys = storages.iter().fold(Pk::new().op(b"]("), |p, (k, _, _)| p.s(k));
    out.extend(keys.op(b"e").stop());
    for (_, numel, bytes) in storages {
        out.extend_from_slice(&numel.to_le_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

/// A zip archive of stored records.
pub fn zip_file(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// The records of a zip archive, in order.
pub fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut a = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..a.len())
        .map(|i| {
            let mut f = a.by_index(i).unwrap();
            let mut v = Vec::new();
            f.read_to_end(&mut v).unwrap();
            (f.name().unwrap().to_string(), v)
        })
        .collect()
}

/// Little-endian bytes of f32 values.
pub fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
