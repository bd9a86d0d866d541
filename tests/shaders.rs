//! Static checks of the WGSL kernels, with no adapter: every shader parses and validates with
//! naga, every file in `shaders/` is part of some shader, every storage binding documents its
//! shape, every op's dispatch matches the bindings, entry point and workgroup size of its
//! shader (and of its f16-weight twin), the tiled kernels validate specialised for every tile,
//! within the workgroup memory the tile claims, and only the f16-weight twins need more than
//! naga's default capabilities.

use gan_bias::ops::act::{Act, Epilogue};
use gan_bias::ops::conv_transpose2d::ConvTranspose;
use gan_bias::ops::conv2d::{Conv, ConvArgs, ConvDims};
use gan_bias::ops::covariance::{ColumnMean, CovArgs, Covariance};
use gan_bias::ops::noise_update::{NoiseUpdate, UpdateRule};
use gan_bias::ops::record::Record;
use gan_bias::ops::seed_grad::SeedGrad;
use gan_bias::ops::tiling::TILES;
use gan_bias::ops::{Bind, Field, Op, Shader, Uniform, Work, all_shaders};
use gan_bias::ops::{BufId, StepParams};
use naga::valid::{Capabilities, ValidationFlags, Validator};

pub fn parse(name: &str, source: &str) -> naga::Module {
    naga::front::wgsl::parse_str(source).unwrap_or_else(|e| panic!("{name}: WGSL does not parse:\n{}", e.emit_to_string(source)))
}

/// Whether `shader` is the f16-weight twin of another.
fn is_f16_twin(shader: &Shader) -> bool {
    all_shaders().iter().any(|s| s.f16_weights.is_some_and(|t| std::ptr::eq(t, shader)))
}

/// What `shader` needs of naga: the defaults, and for an f16-weight twin `unpack2x16float`
/// (which wgpu grants where the adapter has the downlevel flag SHADER_F16_IN_F32).
pub fn capabilities(shader: &Shader) -> Capabilities {
    if is_f16_twin(shader) { Capabilities::default() | Capabilities::SHADER_FLOAT16_IN_FLOAT32 } else { Capabilities::default() }
}

#[test]
fn every_shader_parses_and_validates() {
    for shader in all_shaders() {
        let module = parse(shader.name, shader.source);
        Validator::new(ValidationFlags::all(), capabilities(shader))
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: WGSL does not validate:\n{}", shader.name, e.emit_to_string(shader.source)));
        assert!(!module.entry_points.is_empty(), "{}: no entry point", shader.name);
    }
}

/// The f16-weight twins need `unpack2x16float`, and only they: the f32 kernels, separate
/// modules, run on every adapter.
#[test]
fn only_the_f16_weight_twins_need_unpack2x16float() {
    let twins: Vec<&str> = all_shaders().iter().filter(|s| is_f16_twin(s)).map(|s| s.name).collect();
    assert_eq!(twins, ["conv2d_f16_weights", "conv_transpose2d_f16_weights"]);
    for shader in all_shaders().into_iter().filter(|s| is_f16_twin(s)) {
        let module = parse(shader.name, shader.source);
        let err = Validator::new(ValidationFlags::all(), Capabilities::default()).validate(&module).expect_err(shader.name);
        assert!(format!("{err:?}").contains("SHADER_FLOAT16_IN_FLOAT32"), "{}: {err:?}", shader.name);
        assert!(!shader.source.lines().any(|l| l.trim_start().starts_with("enable")), "{}: enables an extension", shader.name);
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
    let dir = gan_bias::load::project_root().join("shaders");
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
pub fn sample_ops() -> Vec<Op> {
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
    let cov = CovArgs { rows_per_step: 10, steps: 1, slots: 1, features: 3, x: BufId(0), mean: BufId(1), cov: BufId(2) };
    vec![
        Op::Conv2d(Conv(conv(Epilogue::Forward(Act::Relu), Some(BufId(2)), None))),
        Op::Conv2d(Conv(conv(Epilogue::GradMask(Act::Tanh), None, Some(BufId(4))))),
        Op::ConvTranspose2d(ConvTranspose(conv(Epilogue::Forward(Act::LeakyRelu(0.2)), Some(BufId(2)), None))),
        Op::ConvTranspose2d(ConvTranspose(conv(Epilogue::GradMask(Act::Relu), None, Some(BufId(4))))),
        Op::SeedGrad(SeedGrad { rows: 4, features: 3, scale: 0.25, rows_per_target: 4, targets: BufId(1), out: BufId(0) }),
        Op::Record(Record { n: 2, steps: 3, slots: 1, features: 3, capacity: 4, logits: BufId(0), start: BufId(1), history: BufId(2) }),
        Op::NoiseUpdate(NoiseUpdate { n: 2, zdim: 5, capacity: 4, rule: UpdateRule::Notebook, grad: BufId(0), acc: BufId(1), z: BufId(2) }),
        Op::ColumnMean(ColumnMean(cov.clone())),
        Op::Covariance(Covariance(cov)),
        Op::Affine(gan_bias::ops::affine::Affine {
            label: "sample".into(),
            rows: 2,
            row_len: 12,
            channels: 3,
            spatial: 4,
            input: BufId(0),
            scale: Some(BufId(1)),
            shift: Some(BufId(2)),
            aux: None,
            output: BufId(3),
            epilogue: Epilogue::Forward(Act::Tanh),
        }),
        Op::Affine(gan_bias::ops::affine::Affine {
            label: "sample".into(),
            rows: 2,
            row_len: 12,
            channels: 3,
            spatial: 4,
            input: BufId(0),
            scale: Some(BufId(1)),
            shift: None,
            aux: Some(BufId(2)),
            output: BufId(3),
            epilogue: Epilogue::GradMask(Act::Relu),
        }),
        Op::Resize(gan_bias::ops::resize::Resize {
            label: "sample".into(),
            planes: 3,
            hin: 4,
            win: 5,
            hout: 8,
            wout: 10,
            inv: [0.5, 0.5],
            input: BufId(0),
            aux: Some(BufId(1)),
            output: BufId(2),
            backward: true,
            act: Act::Relu,
        }),
        Op::Add(gan_bias::ops::add::Add {
            label: "sample".into(),
            len: 10,
            a: BufId(0),
            b: BufId(1),
            aux: Some(BufId(2)),
            output: BufId(3),
            epilogue: Epilogue::GradMask(Act::Tanh),
        }),
        Op::Binary(gan_bias::ops::binary::Binary {
            label: "sample".into(),
            op: gan_bias::ops::binary::BinOp::DivDenominator,
            len: 10,
            operands: vec![BufId(0), BufId(1)],
            aux: Some(BufId(3)),
            output: BufId(4),
            epilogue: Epilogue::GradMask(Act::Relu),
        }),
        Op::Copy(gan_bias::ops::copy::Copy {
            label: "sample".into(),
            blocks: 3,
            len: 4,
            input: BufId(0),
            from: gan_bias::ops::copy::Blocks { stride: 4, offset: 0 },
            aux: None,
            output: BufId(1),
            to: gan_bias::ops::copy::Blocks { stride: 9, offset: 5 },
            epilogue: Epilogue::Forward(Act::Identity),
        }),
        Op::Pad(gan_bias::ops::pad::Pad {
            label: "sample".into(),
            planes: 2,
            hin: 3,
            win: 4,
            hout: 5,
            wout: 7,
            top: 1,
            left: -1,
            value: 0.5,
            input: BufId(0),
            aux: None,
            output: BufId(1),
            epilogue: Epilogue::Forward(Act::Identity),
        }),
        Op::ConvGeneral(gan_bias::ops::conv_general::ConvGeneral {
            label: "sample".into(),
            transpose: true,
            n: 2,
            x: [4, 3, 5],
            y: [6, 7, 9],
            kernel: [3, 2],
            strides: [2, 2],
            pads: [1, 0],
            dilations: [1, 2],
            group: 2,
            input: BufId(0),
            weight: BufId(1),
            bias: Some(BufId(2)),
            aux: None,
            output: BufId(3),
            epilogue: Epilogue::Forward(Act::LeakyRelu(0.1)),
        }),
        Op::Pool(gan_bias::ops::pool::Pool {
            label: "sample".into(),
            kind: gan_bias::ops::pool::PoolKind::Max,
            window: gan_bias::ops::pool::Window { kernel: [3, 2], strides: [2, 1], pads: [1, 0], dilations: [1, 2] },
            planes: 3,
            hin: 7,
            win: 6,
            hout: 4,
            wout: 4,
            input: BufId(0),
            stored: Some(BufId(1)),
            output: BufId(2),
            backward: true,
            act: Act::Relu,
        }),
        Op::Bilinear(gan_bias::ops::bilinear::Bilinear {
            label: "sample".into(),
            planes: 3,
            hin: 4,
            win: 5,
            hout: 8,
            wout: 3,
            tables: BufId(0),
            input: BufId(2),
            aux: Some(BufId(3)),
            output: BufId(4),
            backward: true,
            act: Act::Tanh,
        }),
    ]
}

/// The WGSL struct `ty` of `module` is the one named `wgsl_struct`, with exactly `fields`: the
/// same names in the same order, at the same byte offsets, of the same scalar types.
fn check_uniform(name: &str, module: &naga::Module, ty: naga::Handle<naga::Type>, wgsl_struct: &str, fields: &[Field]) {
    let t = &module.types[ty];
    assert_eq!(t.name.as_deref(), Some(wgsl_struct), "{name}: the uniform's WGSL struct");
    let naga::TypeInner::Struct { members, .. } = &t.inner else { panic!("{name}: uniform {wgsl_struct} is not a struct") };
    let wgsl: Vec<(String, usize, &str)> = members
        .iter()
        .map(|m| {
            let ty = match module.types[m.ty].inner {
                naga::TypeInner::Scalar(naga::Scalar::U32) => "u32",
                naga::TypeInner::Scalar(naga::Scalar::I32) => "i32",
                naga::TypeInner::Scalar(naga::Scalar::F32) => "f32",
                ref other => panic!("{name}: {wgsl_struct}.{:?} is {other:?}, not a 32-bit scalar", m.name),
            };
            (m.name.clone().unwrap_or_default(), m.offset as usize, ty)
        })
        .collect();
    let rust: Vec<(String, usize, &str)> = fields.iter().map(|f| (f.name.to_string(), f.offset, f.ty)).collect();
    assert_eq!(rust, wgsl, "{name}: the Rust mirror of {wgsl_struct} (left) differs from the shader's (right)");
}

/// The module of `shader` with its `override` constants set to `constants`, validated.
fn specialise(name: &str, shader: &Shader, entry: &str, constants: &[(&'static str, u32)]) -> naga::Module {
    let module = parse(name, shader.source);
    let info = Validator::new(ValidationFlags::all(), capabilities(shader)).validate(&module).unwrap();
    let values: naga::back::PipelineConstants = constants.iter().map(|&(k, v)| (k.to_string(), v as f64)).collect();
    let (module, _) = naga::back::pipeline_constants::process_overrides(&module, &info, Some((naga::ShaderStage::Compute, entry)), &values)
        .unwrap_or_else(|e| panic!("{name} with {constants:?}: {e}"));
    module.into_owned()
}

/// Every op's binds have the kinds, order and sizes its shader declares; its entry point is a
/// compute shader of workgroup size (64, 1, 1) for per-item work, which the GPU backend's
/// dispatch assumes, and for tiled work, specialised for every tile, of one invocation per
/// 4 x 4 block of the tile, with no more workgroup memory than the tile claims. The same for
/// the f16-weight twin of a shader, whose weights are `array<u32>` where the shader's are
/// `array<f32>`.
#[test]
fn dispatches_match_their_shaders() {
    let mut used = std::collections::BTreeSet::new();
    for op in sample_ops() {
        let d = op.kernel().dispatch();
        for shader in [d.shader].into_iter().chain(d.shader.f16_weights) {
            check_dispatch(&d, shader);
            used.insert(shader.name);
        }
    }
    for s in all_shaders() {
        assert!(used.contains(s.name), "shader {} is not used by any op", s.name);
    }
}

/// [`dispatches_match_their_shaders`] for one dispatch run with `shader`.
fn check_dispatch(d: &gan_bias::ops::Dispatch, shader: &Shader) {
    let name = format!("{} ({})", shader.name, d.entry);
    {
        let module = parse(shader.name, shader.source);
        let ep = module.entry_points.iter().find(|e| e.name == d.entry).unwrap_or_else(|| panic!("{name}: no entry point {}", d.entry));
        assert_eq!(ep.stage, naga::ShaderStage::Compute, "{name}: not a compute entry point");
        match d.work {
            Work::Items(_) => assert_eq!(ep.workgroup_size, [64, 1, 1], "{name}: workgroup size"),
            Work::Tiled(_) => {
                for tile in TILES {
                    let m = specialise(&name, shader, d.entry, &tile.constants());
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
                (Bind::Params(block), naga::AddressSpace::Uniform) => {
                    assert_eq!(
                        size,
                        block.bytes.len(),
                        "{name}: binding {i} ({gname}) is {size} bytes, the op packs {}",
                        block.bytes.len()
                    );
                    check_uniform(&name, &module, g.ty, block.wgsl_struct, &block.fields);
                }
                (Bind::Step, naga::AddressSpace::Uniform) => {
                    assert_eq!(size, std::mem::size_of::<StepParams>(), "{name}: binding {i} ({gname}) is not StepParams-sized");
                    check_uniform(&name, &module, g.ty, StepParams::WGSL_STRUCT, &StepParams::fields());
                }
                (Bind::Read(_), naga::AddressSpace::Storage { access }) => {
                    assert!(
                        !access.contains(naga::StorageAccess::STORE),
                        "{name}: binding {i} ({gname}) is read_write, the op binds it read-only"
                    )
                }
                (Bind::Weights(_), naga::AddressSpace::Storage { access }) => {
                    assert!(
                        !access.contains(naga::StorageAccess::STORE),
                        "{name}: binding {i} ({gname}) is read_write, the op binds weights"
                    );
                    let naga::TypeInner::Array { base, .. } = module.types[g.ty].inner else {
                        panic!("{name}: weights {gname} not an array")
                    };
                    // f32 values, or (the twin) two packed f16 values per 32-bit word.
                    let want = if is_f16_twin(shader) { naga::Scalar::U32 } else { naga::Scalar::F32 };
                    assert_eq!(module.types[base].inner, naga::TypeInner::Scalar(want), "{name}: weights {gname}");
                }
                (Bind::Write(_), naga::AddressSpace::Storage { access }) => {
                    assert!(access.contains(naga::StorageAccess::STORE), "{name}: binding {i} ({gname}) is read-only, the op writes it")
                }
                (b, space) => panic!("{name}: binding {i} ({gname}) is {space:?}, the op binds {b:?}"),
            }
        }
    }
}
