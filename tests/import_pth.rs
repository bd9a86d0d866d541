//! Tests of the safe `.pth` importer: the two real checkpoints against PyTorch's own
//! reading of them, small torch-made files, and hostile or broken inputs.

use crate::common::pth::*;
use gan_bias::import::{ImportError, RawDtype, RawTensor, read_pth, read_pth_bytes};
use sha2::{Digest, Sha256};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn err(bytes: &[u8], key: Option<&str>) -> ImportError {
    match read_pth_bytes(bytes, key) {
        Ok(t) => panic!("expected an error, got {} tensors", t.len()),
        Err(e) => e,
    }
}

fn find<'a>(ts: &'a [RawTensor], name: &str) -> &'a RawTensor {
    ts.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no tensor {name}"))
}

#[test]
fn real_checkpoints_match_pytorch() {
    let dir = shared_dir();
    let json = std::fs::read_to_string(fixtures().join("pth_tensor_hashes.json")).unwrap();
    let expected: serde_json::Value = serde_json::from_str(&json).unwrap();
    for file in [CLASSIFIER, GENERATOR] {
        let want = &expected[file];
        let path = dir.join(file);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(hex(&Sha256::digest(&bytes)), want["file_sha256"], "{file} is not the expected file");
        let tensors = read_pth(&path, None).unwrap_or_else(|e| panic!("{e}"));
        let want = want["tensors"].as_array().unwrap();
        assert_eq!(tensors.len(), want.len(), "{file}: tensor count");
        for (t, w) in tensors.iter().zip(want) {
            assert_eq!(t.name, w["name"], "{file}: order");
            assert_eq!(t.dtype.name(), w["dtype"], "{file}: {}", t.name);
            let shape: Vec<usize> = serde_json::from_value(w["shape"].clone()).unwrap();
            assert_eq!(t.shape, shape, "{file}: {}", t.name);
            assert_eq!(t.data.len(), shape.iter().product::<usize>() * t.dtype.size());
            assert_eq!(hex(&Sha256::digest(&t.data)), w["sha256"], "{file}: {} bytes", t.name);
        }
        let key = expected[file]["key"].as_str().unwrap();
        assert_eq!(read_pth(&path, Some(key)).unwrap(), tensors, "{file} with --key {key}");
        let e = read_pth(&path, Some("nope")).unwrap_err();
        assert!(e.to_string().contains(&format!("key \"nope\" not found in the checkpoint (keys: \"{key}\")")), "{e}");
    }
}

#[test]
fn real_checkpoints_num_batches_tracked_are_i64_scalars() {
    let tensors = read_pth(&shared_dir().join(GENERATOR), None).unwrap();
    let nbt = find(&tensors, "main.1.num_batches_tracked");
    assert_eq!((nbt.dtype, nbt.shape.as_slice(), nbt.data.len()), (RawDtype::I64, &[][..], 8));
    let w = find(&tensors, "main.0.weight");
    assert_eq!((w.dtype, w.shape.as_slice()), (RawDtype::F32, &[100, 512, 4, 4][..]));
}

#[test]
fn real_checkpoints_cut_short_give_errors() {
    let dir = shared_dir();
    for file in [CLASSIFIER, GENERATOR] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        let n = bytes.len();
        for cut in [0, 1, 2, 4, 15, 21, 30, 137, 500, 1000, 3104, 3481, 3489, 5000, n / 2, n - 23, n - 22, n - 1] {
            let e = err(&bytes[..cut], None);
            assert!(!e.to_string().is_empty(), "{file} cut at {cut}");
        }
    }
    let e = err(&std::fs::read(dir.join(CLASSIFIER)).unwrap()[..3000], None);
    assert!(e.to_string().starts_with("truncated file: "), "{e}");
}

#[test]
fn views_and_offsets_are_gathered() {
    // {'w': arange(12.).reshape(3,4).t(), 'o': x[1:, 1:3]}
    for file in ["view_zip.pth", "view_legacy.pth", "view_zip_deflated.pth"] {
        let t = read_pth_bytes(&hostile(file), None).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].name.as_str(), t[0].shape.as_slice()), ("w", &[4, 3][..]));
        assert_eq!(t[0].data, f32_bytes(&[0., 4., 8., 1., 5., 9., 2., 6., 10., 3., 7., 11.]), "{file}");
        assert_eq!((t[1].name.as_str(), t[1].shape.as_slice()), ("o", &[2, 2][..]));
        assert_eq!(t[1].data, f32_bytes(&[5., 6., 9., 10.]), "{file}");
    }
}

#[test]
fn every_dtype_parameters_protocol4_and_module_prefix() {
    let v = [-2i64, -1, 0, 1, 2, 3];
    let f16 = [0xc000u16, 0xbc00, 0, 0x3c00, 0x4000, 0x4200];
    let bf16 = [0xc000u16, 0xbf80, 0, 0x3f80, 0x4000, 0x4040];
    let expect: Vec<(RawDtype, Vec<u8>)> = vec![
        (RawDtype::F64, v.iter().flat_map(|&x| (x as f64).to_le_bytes()).collect()),
        (RawDtype::F32, v.iter().flat_map(|&x| (x as f32).to_le_bytes()).collect()),
        (RawDtype::F16, f16.iter().flat_map(|x| x.to_le_bytes()).collect()),
        (RawDtype::BF16, bf16.iter().flat_map(|x| x.to_le_bytes()).collect()),
        (RawDtype::I64, v.iter().flat_map(|&x| x.to_le_bytes()).collect()),
        (RawDtype::I32, v.iter().flat_map(|&x| (x as i32).to_le_bytes()).collect()),
        (RawDtype::I16, v.iter().flat_map(|&x| (x as i16).to_le_bytes()).collect()),
        (RawDtype::I8, v.iter().map(|&x| x as u8).collect()),
        (RawDtype::U8, vec![254, 255, 0, 1, 2, 3]),
        (RawDtype::Bool, vec![1, 1, 0, 1, 1, 1]),
    ];
    for file in ["dtypes_p4.pth", "dtypes_legacy.pth"] {
        let t = read_pth_bytes(&hostile(file), None).unwrap_or_else(|e| panic!("{file}: {e}"));
        let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9", "p", "n"]);
        for (i, (dtype, data)) in expect.iter().enumerate() {
            assert_eq!((t[i].dtype, &t[i].shape, &t[i].data), (*dtype, &vec![2, 3], data), "{file} t{i}");
        }
        assert_eq!((t[10].dtype, &t[10].data), (RawDtype::F32, &f32_bytes(&[0.5, -2.0])));
        assert_eq!((t[11].dtype, t[11].shape.len(), &t[11].data), (RawDtype::I64, 0, &7i64.to_le_bytes().to_vec()));
    }
    assert_eq!(RawDtype::Bool.name(), "BOOL");
    assert_eq!(RawDtype::BF16.size(), 2);
}

#[test]
fn hand_built_zip_and_legacy_files() {
    let pkl = float_state_dict(&[("a", &[2, 2]), ("b", &[3])], false);
    let (d0, d1) = (f32_bytes(&[1., 2., 3., 4.]), f32_bytes(&[5., 6., 7.]));
    // Any top-level folder name works.
    let z = zip_file(&[("x/data.pkl", &pkl), ("x/data/0", &d0), ("x/data/1", &d1), ("x/byteorder", b"little")]);
    let t = read_pth_bytes(&z, None).unwrap();
    assert_eq!((t[0].data.clone(), t[1].data.clone()), (d0.clone(), d1.clone()));

    let pkl = float_state_dict(&[("a", &[2, 2]), ("b", &[3])], true);
    let legacy = legacy_file(&pkl, &[("0", 4, &d0), ("1", 3, &d1)], true);
    assert_eq!(read_pth_bytes(&legacy, None).unwrap(), t);

    // Big-endian legacy data is swapped.
    let be = |v: &[f32]| v.iter().flat_map(|x| x.to_be_bytes()).collect::<Vec<u8>>();
    let legacy = legacy_file(&pkl, &[("0", 4, &be(&[1., 2., 3., 4.])), ("1", 3, &be(&[5., 6., 7.]))], false);
    assert_eq!(read_pth_bytes(&legacy, None).unwrap(), t);
}

#[test]
fn rebuild_tensor_v3_and_unsupported_dtypes() {
    // torch >= 2.1 pickles new dtypes as _rebuild_tensor_v3(untyped storage, ..., dtype).
    let p = Pk::new()
        .op(b"}")
        .s("w")
        .global("torch._utils", "_rebuild_tensor_v3")
        .op(b"(")
        .op(b"(")
        .s("storage")
        .global("torch.storage", "UntypedStorage")
        .s("0")
        .s("cpu")
        .int(16)
        .op(b"tQ")
        .int(1)
        .ints(&[3])
        .ints(&[1])
        .op(&[0x89])
        .global("collections", "OrderedDict")
        .op(b")R")
        .global("torch", "float32")
        .op(b"tRs")
        .stop();
    let d = f32_bytes(&[1., 2., 3., 4.]);
    let t = read_pth_bytes(&zip_file(&[("a/data.pkl", &p), ("a/data/0", &d)]), None).unwrap();
    assert_eq!((t[0].dtype, &t[0].shape, &t[0].data), (RawDtype::F32, &vec![3], &d[4..].to_vec()));
    let e = err(&hostile("uint16_zip.pth"), None).to_string();
    assert!(e.starts_with("unsupported tensor type torch.uint16 (only "), "{e}");
    let e = err(&hostile("complex64_legacy.pth"), None).to_string();
    assert!(e.starts_with("unsupported tensor type torch.ComplexFloatStorage"), "{e}");
}

#[test]
fn state_dict_selection() {
    let d = f32_bytes(&[1.0]);
    let sd = |name: &str| Pk::new().op(b"}").s(name).tensor(("FloatStorage", "0", 1), 0, &[1], &[1], false).op(b"s");
    let zipped = |p: Vec<u8>| zip_file(&[("a/data.pkl", &p), ("a/data/0", &d)]);
    // Bare dict; module. stripped; wrapped; ints and other values skipped.
    let bare = sd("module.w").s("version").int(1).op(b"s").stop();
    assert_eq!(read_pth_bytes(&zipped(bare), None).unwrap()[0].name, "w");
    let mixed = sd("module.w").s("v").tensor(("FloatStorage", "0", 1), 0, &[], &[], false).op(b"s").stop();
    let names: Vec<String> = read_pth_bytes(&zipped(mixed), None).unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["module.w", "v"]);
    let wrapped = Pk::new().op(b"}").s("gen").op(&sd("w").0[2..]).op(b"s").s("step").int(5).op(b"s").stop();
    assert_eq!(read_pth_bytes(&zipped(wrapped.clone()), None).unwrap()[0].name, "w");
    assert_eq!(read_pth_bytes(&zipped(wrapped), Some("gen")).unwrap()[0].name, "w");
    // Two candidate state dicts: ambiguous unless a key is given.
    let two = Pk::new().op(b"}").s("gen").op(&sd("w").0[2..]).op(b"s").s("disc").op(&sd("v").0[2..]).op(b"s").stop();
    let e = err(&zipped(two.clone()), None);
    assert_eq!(e.to_string(), "several entries hold tensors (\"gen\", \"disc\"); pass --key to choose one");
    assert_eq!(read_pth_bytes(&zipped(two.clone()), Some("disc")).unwrap()[0].name, "v");
    assert!(matches!(err(&zipped(two), Some("x")), ImportError::KeyNotFound { .. }));
    // No tensors at all; a list at the top; a key that is not a dict; duplicate names.
    let none = Pk::new().op(b"}").s("epoch").int(3).op(b"s").stop();
    assert!(matches!(err(&zipped(none), None), ImportError::NoStateDict { .. }));
    assert!(matches!(err(&zipped(Pk::new().op(b"]").stop()), None), ImportError::NotADict { .. }));
    let e = err(&zipped(Pk::new().op(b"}").s("k").int(1).op(b"s").stop()), Some("k"));
    assert!(matches!(e, ImportError::KeyNotADict { .. }), "{e}");
    let dup = sd("w").s("w").tensor(("FloatStorage", "0", 1), 0, &[1], &[1], false).op(b"s").stop();
    assert!(matches!(err(&zipped(dup), None), ImportError::DuplicateName { .. }));
}

#[test]
fn forbidden_globals_are_refused_by_name() {
    let msg = |m: &str| format!("refusing to load: the pickle calls the global {m}, which a state dict never needs");
    for file in ["posix_system_zip.pth", "posix_system_legacy.pth"] {
        let e = err(&hostile(file), None);
        assert_eq!(e.to_string(), msg("posix.system"), "{file}");
    }
    let d = f32_bytes(&[1.0]);
    let calls = |m: &str, n: &str| Pk::new().global(m, n).s("echo pwned").op(&[0x85]).op(b"R").stop();
    for (m, n) in [("os", "system"), ("builtins", "eval"), ("subprocess", "Popen"), ("torch", "load")] {
        let z = zip_file(&[("archive/data.pkl", &calls(m, n)), ("archive/data/0", &d)]);
        assert_eq!(err(&z, None).to_string(), msg(&format!("{m}.{n}")));
        let legacy = legacy_file(&calls(m, n), &[], true);
        assert_eq!(err(&legacy, None).to_string(), msg(&format!("{m}.{n}")));
    }
    // Protocol 4 STACK_GLOBAL, and protocol 0 INST.
    let sg = Pk::new().op(&[0x8c, 8]).op(b"builtins").op(&[0x8c, 4]).op(b"eval").op(&[0x93]).stop();
    assert_eq!(err(&legacy_file(&sg, &[], true), None).to_string(), msg("builtins.eval"));
    let inst = Pk::new().op(b"(").op(b"ios\nsystem\n").stop();
    assert_eq!(err(&legacy_file(&inst, &[], true), None).to_string(), msg("os.system"));
    // An allowed global used the wrong way is refused too.
    let bad = Pk::new().global("torch", "FloatStorage").op(b")R").stop();
    assert!(matches!(err(&legacy_file(&bad, &[], true), None), ImportError::Pickle { .. }));
}

#[test]
fn broken_storages() {
    let zip = hostile("view_zip.pth");
    let records = unzip(&zip);
    let pick = |skip: &str, cut: Option<usize>| {
        let kept: Vec<(&str, &[u8])> = records
            .iter()
            .filter(|(n, _)| !n.ends_with(skip))
            .map(|(n, d)| (n.as_str(), if n.ends_with("/data/0") { &d[..cut.unwrap_or(d.len())] } else { &d[..] }))
            .collect();
        zip_file(&kept)
    };
    assert_eq!(read_pth_bytes(&pick("none", None), None).unwrap().len(), 2);
    assert_eq!(err(&pick("/data/0", None), None).to_string(), "missing storage data/0 in the zip archive");
    assert_eq!(err(&pick("/data.pkl", None), None).to_string(), "missing data.pkl in the zip archive");
    assert_eq!(err(&pick("none", Some(20)), None).to_string(), "storage 0 is 20 bytes but tensor w needs 48");

    // Legacy: a storage shorter than its tensor, missing from the table, or cut short.
    let pkl = float_state_dict(&[("a", &[2, 2])], true);
    let short = legacy_file(&pkl, &[("0", 3, &f32_bytes(&[1., 2., 3.]))], true);
    assert_eq!(err(&short, None).to_string(), "storage 0 is 12 bytes but tensor a needs 16");
    let e = err(&legacy_file(&pkl, &[], true), None);
    assert!(matches!(e, ImportError::MissingLegacyStorage { .. }), "{e}");
    let full = legacy_file(&pkl, &[("0", 4, &f32_bytes(&[1., 2., 3., 4.]))], true);
    assert!(err(&full[..full.len() - 1], None).to_string().starts_with("truncated file: the data of storage 0"));
    // A legacy view of a root storage: elements 1..3 of a 4-element storage.
    let view = Pk::new()
        .op(b"}")
        .s("v")
        .global("torch._utils", "_rebuild_tensor_v2")
        .op(b"(")
        .op(b"(")
        .s("storage")
        .global("torch", "FloatStorage")
        .s("0")
        .s("cuda:0")
        .int(4)
        .op(b"(")
        .s("9")
        .int(1)
        .int(2)
        .op(b"t")
        .op(b"tQ")
        .int(0)
        .ints(&[2])
        .ints(&[1])
        .op(&[0x89])
        .op(b")tRs")
        .stop();
    let t = read_pth_bytes(&legacy_file(&view, &[("0", 4, &f32_bytes(&[1., 2., 3., 4.]))], true), None).unwrap();
    assert_eq!(t[0].data, f32_bytes(&[2., 3.]));
}

#[test]
fn bad_sizes_and_strides() {
    let d = f32_bytes(&[0.0; 4]);
    let one = |size: &[i64], stride: &[i64], offset: i64| {
        let p = Pk::new().op(b"}").s("t").tensor(("FloatStorage", "0", 4), offset, size, stride, false).op(b"s").stop();
        err(&zip_file(&[("a/data.pkl", &p), ("a/data/0", &d)]), None).to_string()
    };
    assert_eq!(one(&[-2], &[1], 0), "tensor t: size -2 in dimension 0 is invalid");
    assert_eq!(one(&[2], &[-1], 0), "tensor t: stride -1 in dimension 0 is invalid");
    assert_eq!(one(&[1], &[1], -1), "tensor t: storage offset -1 is invalid");
    assert!(one(&[i64::MAX, i64::MAX, 4], &[1, 1, 1], 0).contains("is too large"));
    assert!(one(&[2, 2], &[i64::MAX, 1], 0).contains("overflow"));
    assert_eq!(one(&[2, 2], &[3, 2], 0), "storage 0 is 16 bytes but tensor t needs 24");
    assert_eq!(one(&[1], &[1], 4), "storage 0 is 16 bytes but tensor t needs 20");
    assert!(one(&[1 << 40], &[0], 0).starts_with("checkpoint would expand to more than"));
    assert!(one(&[2], &[1, 1], 0).contains("1 sizes but 2 strides"));
}

#[test]
fn deep_nesting_is_refused() {
    const N: usize = 100_000;
    let deep = "pickle nesting deeper than 256";
    let wrap = |body: &[u8]| legacy_file(&Pk::new().op(body).stop(), &[], true);
    let lists = [vec![b']'; N], vec![b'a'; N - 1]].concat();
    assert_eq!(err(&wrap(&lists), None).to_string(), deep);
    assert_eq!(err(&wrap(&vec![b'('; N]), None).to_string(), deep);
    let tuples = [&b")"[..], &vec![0x85; N]].concat();
    assert_eq!(err(&wrap(&tuples), None).to_string(), deep);
    let dicts = [b"}K\x00".repeat(N), b"}".to_vec(), b"s".repeat(N)].concat();
    assert_eq!(err(&wrap(&dicts), None).to_string(), deep);
    let mixed = [b"]".repeat(N), b"}".to_vec(), b"a".repeat(N)].concat();
    assert_eq!(err(&wrap(&mixed), None).to_string(), deep);
    // A list appended to itself over and over is refused too, without looping.
    let cyclic = [&b"]q\x00"[..], &b"h\x00a".repeat(N)].concat();
    assert_eq!(err(&wrap(&cyclic), None).to_string(), deep);
}

#[test]
fn malformed_inputs() {
    let e = |b: &[u8]| err(b, None).to_string();
    assert_eq!(e(b""), "not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save file)");
    assert_eq!(e(b"hello world"), e(b""));
    let mut tar = vec![0u8; 1024];
    tar[257..262].copy_from_slice(b"ustar");
    assert!(e(&tar).contains("tar-format checkpoint from PyTorch < 0.4"));
    assert!(e(&Pk::new().int(5).stop()).starts_with("not a legacy torch.save file: the magic number is 0x5"));
    let legacy = |p: Pk| legacy_file(&p.stop(), &[], true);
    assert!(e(&legacy(Pk::new().op(b"h\x07"))).contains("memo entry 7 is not defined"));
    assert!(e(&legacy(Pk::new().op(b"a"))).contains("stack underflow"));
    assert!(e(&legacy(Pk::new().op(b"(a"))).contains("stack underflow"));
    assert!(e(&legacy(Pk::new().op(b"t"))).contains("no MARK"));
    assert!(e(&legacy(Pk::new().op(b"K\x01K\x02a"))).contains("adding items to a int"));
    assert!(e(&legacy(Pk::new().op(b"X\xff\xff\xff\xff"))).starts_with("truncated file: the pickle ends inside BINUNICODE"));
    assert!(e(&legacy(Pk::new().op(&[0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]))).starts_with("truncated file"));
    assert!(e(&legacy(Pk::new().op(b"X\x02\x00\x00\x00\xff\xfe"))).contains("not valid UTF-8"));
    assert!(e(&legacy(Pk::new().op(&[0x97]))).contains("unsupported pickle opcode 0x97"));
    assert!(e(&legacy(Pk::new().op(b"cos"))).starts_with("truncated file"));
    assert!(e(&legacy(Pk::new().op(b"K\x01Q"))).contains("persistent id is a int"));
    assert!(e(&[0x80, 0x02]).starts_with("truncated file: the pickle ends before its STOP opcode"));
    assert!(e(b"PK\x03\x04garbage").starts_with("bad zip archive"));
    let z = zip_file(&[("a/data.pkl", &Pk::new().op(b"}").stop()), ("a/byteorder", b"middle")]);
    assert!(e(&z).contains("unknown byte order"));
}

#[test]
fn every_prefix_of_the_small_files_errors_without_panic() {
    for file in ["view_zip.pth", "view_legacy.pth", "dtypes_p4.pth", "dtypes_legacy.pth", "posix_system_zip.pth"] {
        let bytes = hostile(file);
        for cut in 0..bytes.len() {
            assert!(read_pth_bytes(&bytes[..cut], None).is_err(), "{file} cut at {cut} was accepted");
        }
    }
}

#[test]
fn path_errors_name_the_file() {
    let e = read_pth(std::path::Path::new("/nonexistent/x.pth"), None).unwrap_err();
    assert!(e.to_string().starts_with("cannot read /nonexistent/x.pth: "), "{e}");
    let dir = std::env::temp_dir().join(format!("pth-import-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("evil.pth");
    std::fs::write(&path, hostile("posix_system_zip.pth")).unwrap();
    let e = read_pth(&path, None).unwrap_err();
    assert!(e.to_string().starts_with(&format!("{}: refusing to load", path.display())), "{e}");
    assert!(matches!(e.without_path(), ImportError::ForbiddenGlobal { .. }));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shared_references_do_not_blow_up() {
    // A dict of 100k ints, referred to by the 100k entries of the top-level dict: each
    // dict must be scanned once, not once per reference.
    const N: usize = 100_000;
    let mut p = Pk::new().op(b"}q\x00(");
    for i in 0..N as u32 {
        p = p.op(b"J").op(&i.to_le_bytes()).op(b"K\x00");
    }
    p = p.op(b"u}(");
    for i in 0..N as u32 {
        p = p.op(b"J").op(&i.to_le_bytes()).op(b"h\x00");
    }
    let start = std::time::Instant::now();
    let e = err(&legacy_file(&p.op(b"u").stop(), &[], true), None);
    assert!(matches!(e, ImportError::NoStateDict { .. }), "{e}");
    assert!(start.elapsed().as_secs() < 10, "took {:?}", start.elapsed());
    // The same tensor under many names is bounded by the output budget.
    let d = f32_bytes(&[0.0; 1024]);
    let mut p = Pk::new().op(b"}(").s("t0").tensor(("FloatStorage", "0", 1024), 0, &[1 << 20], &[0], false).op(b"q\x09");
    for i in 1..200 {
        p = p.s(&format!("t{i}")).op(b"h\x09");
    }
    let z = zip_file(&[("a/data.pkl", &p.op(b"u").stop()), ("a/data/0", &d)]);
    assert!(matches!(err(&z, None), ImportError::TooLarge { .. }));
}
