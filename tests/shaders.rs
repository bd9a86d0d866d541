//! Static checks of the WGSL kernels, with no adapter: every shader parses and validates with
//! naga, every file in `shaders/` is part of some shader, every storage binding documents its
//! shape, every op's dispatch matches the bindings, entry point and workgroup size of its
//! shader, and the tiled kernels validate specialised for every tile, within the workgroup
//! memory the tile claims.

use std::path::Path;

use gan_bias::backend::{BufId, StepParams};
use gan_bias::ops::act::{Act, Epilogue};
use gan_bias::ops::conv_transpose2d::ConvTranspose;
use gan_bias::ops::conv2d::{Conv, ConvArgs, ConvDims};
use gan_bias::ops::covariance::{ColumnMean, CovArgs, Covariance};
use gan_bias::ops::noise_update::{NoiseUpdate, UpdateRule};
use gan_bias::ops::record::Record;
use gan_bias::ops::seed_grad::SeedGrad;
use gan_bias::ops::tiling::TILES;
use gan_bias::ops::{Bind, Op, Work, all_shaders};
use naga::valid::{Capabilities, ValidationFlags, Validator};

fn parse(name: &str, source: &str) -> naga::Module {
    naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: WGSL does not parse:\n{}", e.emit_to_string(source)))
}

#[test]
fn every_shader_parses_and_validates() {
    for shader in all_shaders() {
        let module = parse(shader.name, shader.source);
        Validator::new(ValidationFlags::all(), Capabilities::default())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: WGSL does not validate:\n{}", shader.name, e.emit_to_string(shader.source)));
        assert!(!module.entry_points.is_empty(), "{}: no entry point", shader.name);
    }
}

#[test]
fn shader_names_are_unique() {
    let names: Vec<&str> = all_shaders().iter().map(|s| s.name).collect();
    for (i, a) in names.iter().enumerate() {
        assert!(!names[i + 1..].contains(a), "shader name {a} is used twice (it keys the pipeline cache)");
    }
}

fn shader_files() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "wgsl"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .wgsl file in {}", dir.display());
    files
}

#[test]
fn no_orphan_shader_files() {
    for (name, text) in shader_files() {
        assert!(
            !text.trim().is_empty() && all_shaders().iter().any(|s| s.source.contains(text.as_str())),
            "shaders/{name} is not part of any Shader in gan_bias::ops::all_shaders()"
        );
    }
}

#[test]
fn storage_bindings_document_their_shape() {
    for (name, text) in shader_files() {
        for (i, line) in text.lines().enumerate() {
            if line.contains("@binding(") && line.contains("var<storage") {
                assert!(line.contains("// ("), "shaders/{name}:{}: storage binding without a shape comment `// (...)`: {line}", i + 1);
            }
        }
    }
}

/// One op of every kind (and both conv epilogue modes), on made-up buffer ids.
fn sample_ops() -> Vec<Op> {
    let dims = ConvDims { n: 2, cin: 3, hin: 5, win: 5, cout: 4, hout: 3, wout: 3, k: 3, stride: 1, pad: 0 };
    let conv = |epilogue, bias, aux| ConvArgs {
        label: "sample".into(),
        dims,
        input: BufId(0),
        weight: BufId(1),
        bias,
        aux,
        output: BufId(3),
        epilogue,
    };
    let cov = CovArgs { rows: 10, features: 3, x: BufId(0), mean: BufId(1), cov: BufId(2) };
    vec![
        Op::Conv2d(Conv(conv(Epilogue::Forward(Act::Relu), Some(BufId(2)), None))),
        Op::Conv2d(Conv(conv(Epilogue::GradMask(Act::Tanh), None, Some(BufId(4))))),
        Op::ConvTranspose2d(ConvTranspose(conv(Epilogue::Forward(Act::LeakyRelu(0.2)), Some(BufId(2)), None))),
        Op::ConvTranspose2d(ConvTranspose(conv(Epilogue::GradMask(Act::Relu), None, Some(BufId(4))))),
        Op::SeedGrad(SeedGrad { rows: 4, features: 3, target: 1, scale: 0.25, out: BufId(0) }),
        Op::Record(Record { n: 2, steps: 3, features: 3, capacity: 4, logits: BufId(0), start: BufId(1), history: BufId(2) }),
        Op::NoiseUpdate(NoiseUpdate {
            n: 2,
            steps: 3,
            zdim: 5,
            capacity: 4,
            rule: UpdateRule::Notebook,
            grad: BufId(0),
            acc: BufId(1),
            z: BufId(2),
        }),
        Op::ColumnMean(ColumnMean(cov.clone())),
        Op::Covariance(Covariance(cov)),
    ]
}

/// The module of `source` with its `override` constants set to `constants`, validated.
fn specialise(name: &str, source: &str, entry: &str, constants: &[(&'static str, u32)]) -> naga::Module {
    let module = parse(name, source);
    let info = Validator::new(ValidationFlags::all(), Capabilities::default()).validate(&module).unwrap();
    let values: naga::back::PipelineConstants = constants.iter().map(|&(k, v)| (k.to_string(), v as f64)).collect();
    let (module, _) = naga::back::pipeline_constants::process_overrides(&module, &info, Some((naga::ShaderStage::Compute, entry)), &values)
        .unwrap_or_else(|e| panic!("{name} with {constants:?}: {e}"));
    module.into_owned()
}

/// Every op's binds have the kinds, order and sizes its shader declares; its entry point is a
/// compute shader of workgroup size (64, 1, 1) for per-item work, which the GPU backend's
/// dispatch assumes, and for tiled work, specialised for every tile, of one invocation per
/// 4 x 4 block of the tile, with no more workgroup memory than the tile claims.
#[test]
fn dispatches_match_their_shaders() {
    let mut used = std::collections::BTreeSet::new();
    for op in sample_ops() {
        let d = op.kernel().dispatch();
        let name = format!("{} ({})", d.shader.name, d.entry);
        used.insert(d.shader.name);
        let module = parse(d.shader.name, d.shader.source);
        let ep = module.entry_points.iter().find(|e| e.name == d.entry).unwrap_or_else(|| panic!("{name}: no entry point {}", d.entry));
        assert_eq!(ep.stage, naga::ShaderStage::Compute, "{name}: not a compute entry point");
        match d.work {
            Work::Items(_) => assert_eq!(ep.workgroup_size, [64, 1, 1], "{name}: workgroup size"),
            Work::Tiled(_) => {
                for tile in TILES {
                    let m = specialise(&name, d.shader.source, d.entry, &tile.constants());
                    let ep = &m.entry_points[0];
                    assert_eq!(ep.workgroup_size, [tile.invocations(), 1, 1], "{name}: workgroup size for {tile:?}");
                    let shared: u32 = m
                        .global_variables
                        .iter()
                        .filter(|(_, g)| g.space == naga::AddressSpace::WorkGroup)
                        .map(|(_, g)| m.types[g.ty].inner.size(m.to_ctx()))
                        .sum();
                    assert_eq!(shared, tile.storage_bytes(), "{name}: bytes of workgroup memory for {tile:?}");
                }
            }
        }
        let globals: Vec<&naga::GlobalVariable> = module.global_variables.iter().map(|(_, g)| g).filter(|g| g.binding.is_some()).collect();
        assert_eq!(
            globals.len(),
            d.binds.len(),
            "{name}: the shader declares {} bindings, the dispatch binds {}",
            globals.len(),
            d.binds.len()
        );
        for (i, bind) in d.binds.iter().enumerate() {
            let g = globals
                .iter()
                .find(|g| g.binding.as_ref().is_some_and(|b| b.group == 0 && b.binding == i as u32))
                .unwrap_or_else(|| panic!("{name}: no @group(0) @binding({i}) for {bind:?}"));
            let gname = g.name.clone().unwrap_or_default();
            let size = module.types[g.ty].inner.size(module.to_ctx()) as usize;
            match (bind, g.space) {
                (Bind::Params(words), naga::AddressSpace::Uniform) => {
                    assert_eq!(size, words.len() * 4, "{name}: binding {i} ({gname}) is {size} bytes, the op packs {} words", words.len())
                }
                (Bind::Step, naga::AddressSpace::Uniform) => {
                    assert_eq!(size, std::mem::size_of::<StepParams>(), "{name}: binding {i} ({gname}) is not StepParams-sized")
                }
                (Bind::Read(_), naga::AddressSpace::Storage { access }) => {
                    assert!(
                        !access.contains(naga::StorageAccess::STORE),
                        "{name}: binding {i} ({gname}) is read_write, the op binds it read-only"
                    )
                }
                (Bind::Write(_), naga::AddressSpace::Storage { access }) => {
                    assert!(access.contains(naga::StorageAccess::STORE), "{name}: binding {i} ({gname}) is read-only, the op writes it")
                }
                (b, space) => panic!("{name}: binding {i} ({gname}) is {space:?}, the op binds {b:?}"),
            }
        }
    }
    for s in all_shaders() {
        assert!(used.contains(s.name), "shader {} is not used by any op", s.name);
    }
}
