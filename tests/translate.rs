//! Every shader, in every specialisation the code can choose (every tile of the tiled kernels,
//! f32 and f16 weights), through naga's four backends, as wgpu's backends translate them:
//!
//! - SPIR-V (Vulkan), validated by `spirv-val --target-env vulkan1.1` (Debian: spirv-tools);
//! - GLSL (GL) for the versions wgpu's GL backend can target with compute shaders: ES 3.10,
//!   desktop 4.30, and desktop 4.50 (what it asks of Mesa here; it never asks for more),
//!   validated by `glslangValidator` (Debian: glslang-tools);
//! - MSL (Metal) 2.0 and HLSL (DX12) shader model 5.1, the oldest each backend emits: translated
//!   only, as no Metal or HLSL compiler runs here (a failure shows the translated text).
//!
//! A missing validator fails the test; `tools/test.sh` installs both. The harness itself is
//! checked on shaders that one backend rejects.

use std::path::Path;
use std::process::Command;

use gan_bias::ops::tiling::TILES;
use gan_bias::ops::{Shader, Work};
use naga::valid::{Capabilities, ValidationFlags, Validator};

use crate::shaders::{capabilities, sample_ops};

/// One pipeline the code can make: a WGSL source, its entry point and `override` values.
pub struct Specialisation {
    pub name: String,
    pub source: String,
    pub capabilities: Capabilities,
    pub entry: String,
    pub constants: Vec<(&'static str, u32)>,
}

/// Every specialisation of every shader the ops dispatch: each tiled kernel in every tile, and
/// each dispatch's shader with its f16-weight twin.
pub fn specialisations() -> Vec<Specialisation> {
    let mut out: Vec<Specialisation> = Vec::new();
    for op in sample_ops() {
        let d = op.kernel().dispatch();
        let shaders: Vec<&'static Shader> = [d.shader].into_iter().chain(d.shader.f16_weights).collect();
        for shader in shaders {
            let tiles: Vec<Vec<(&'static str, u32)>> = match d.work {
                Work::Items(_) => vec![Vec::new()],
                Work::Tiled(_) => TILES.iter().map(|t| t.constants()).collect(),
            };
            for constants in tiles {
                let name = format!("{} ({}) {constants:?}", shader.name, d.entry);
                // Ops of one kind (two epilogues of a convolution) share their pipelines.
                if out.iter().any(|s| s.name == name) {
                    continue;
                }
                out.push(Specialisation {
                    name,
                    source: shader.source.to_string(),
                    capabilities: capabilities(shader),
                    entry: d.entry.to_string(),
                    constants,
                });
            }
        }
    }
    out
}

/// A backend's verdict on one specialisation: `Err` holds why, with the translated text.
pub struct Verdicts {
    pub spirv: Result<(), String>,
    /// Per GLSL version.
    pub glsl: Vec<(naga::back::glsl::Version, Result<(), String>)>,
    pub msl: Result<(), String>,
    pub hlsl: Result<(), String>,
}

impl Verdicts {
    /// Every failure, one paragraph each, named by backend.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Err(e) = &self.spirv {
            out.push(format!("SPIR-V: {e}"));
        }
        for (v, r) in &self.glsl {
            if let Err(e) = r {
                out.push(format!("GLSL {v}: {e}"));
            }
        }
        if let Err(e) = &self.msl {
            out.push(format!("MSL: {e}"));
        }
        if let Err(e) = &self.hlsl {
            out.push(format!("HLSL: {e}"));
        }
        out
    }
}

/// The GLSL versions wgpu's GL backend may target with compute shaders: GLES 3.1 (the least
/// with compute), desktop GL 4.3 (likewise) and 4.5 (Mesa's here; wgpu caps higher ones to it).
pub const GLSL_VERSIONS: [naga::back::glsl::Version; 3] = [
    naga::back::glsl::Version::Embedded { version: 310, is_webgl: false },
    naga::back::glsl::Version::Desktop(430),
    naga::back::glsl::Version::Desktop(450),
];

/// `s` parsed, validated and specialised (its overrides set, other entry points dropped);
/// `Err` when naga's front end or validator refuses it.
fn module(s: &Specialisation) -> Result<(naga::Module, naga::valid::ModuleInfo), String> {
    let module = naga::front::wgsl::parse_str(&s.source).map_err(|e| e.emit_to_string(&s.source))?;
    let info = Validator::new(ValidationFlags::all(), s.capabilities).validate(&module).map_err(|e| e.emit_to_string(&s.source))?;
    let values: naga::back::PipelineConstants = s.constants.iter().map(|&(k, v)| (k.to_string(), v as f64)).collect();
    let (module, info) =
        naga::back::pipeline_constants::process_overrides(&module, &info, Some((naga::ShaderStage::Compute, &s.entry)), &values)
            .map_err(|e| format!("overrides {:?}: {e}", s.constants))?;
    Ok((module.into_owned(), info.into_owned()))
}

/// Runs `tool` with `args`, `Err` with its output when it fails. A missing tool panics: the
/// test fails, it never skips.
fn run_validator(tool: &str, package: &str, args: &[&std::ffi::OsStr]) -> Result<(), String> {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} cannot run ({e}): install it (Debian/Ubuntu: apt-get install {package}; tools/test.sh does)"));
    if out.status.success() {
        return Ok(());
    }
    Err(format!("{tool} rejects it:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// SPIR-V as wgpu's Vulkan backend writes it for a Vulkan 1.1 device (SPIR-V 1.3, bounds
/// checks by clamping), validated by `spirv-val`.
fn spirv(module: &naga::Module, info: &naga::valid::ModuleInfo, entry: &str, dir: &Path) -> Result<(), String> {
    use naga::back::spv;
    let options = spv::Options {
        lang_version: (1, 3),
        bounds_check_policies: naga::proc::BoundsCheckPolicies {
            index: naga::proc::BoundsCheckPolicy::Restrict,
            buffer: naga::proc::BoundsCheckPolicy::Restrict,
            image_load: naga::proc::BoundsCheckPolicy::Restrict,
            binding_array: naga::proc::BoundsCheckPolicy::Unchecked,
        },
        // The pipelines ask for none (`GpuContext::pipeline`).
        zero_initialize_workgroup_memory: spv::ZeroInitializeWorkgroupMemoryMode::None,
        ..Default::default()
    };
    let pipeline = spv::PipelineOptions { shader_stage: naga::ShaderStage::Compute, entry_point: entry.to_string() };
    let words = spv::write_vec(module, info, &options, Some(&pipeline)).map_err(|e| format!("naga cannot write it: {e}"))?;
    let path = dir.join("shader.spv");
    std::fs::write(&path, bytemuck::cast_slice::<u32, u8>(&words)).unwrap();
    run_validator("spirv-val", "spirv-tools", &["--target-env".as_ref(), "vulkan1.1".as_ref(), path.as_os_str()])
}

/// GLSL of `version` as wgpu's GL backend writes it (bindings numbered per kind in binding
/// order, no bounds checks, no zeroed workgroup memory), validated by `glslangValidator`.
fn glsl(
    module: &naga::Module,
    info: &naga::valid::ModuleInfo,
    entry: &str,
    version: naga::back::glsl::Version,
    dir: &Path,
) -> Result<(), String> {
    use naga::back::glsl;
    let mut globals: Vec<(naga::ResourceBinding, bool)> =
        module.global_variables.iter().filter_map(|(_, g)| g.binding.map(|b| (b, g.space == naga::AddressSpace::Uniform))).collect();
    globals.sort_by_key(|(b, _)| (b.group, b.binding));
    let mut binding_map = glsl::BindingMap::default();
    let (mut uniforms, mut storage) = (0u8, 0u8);
    for (b, uniform) in globals {
        let counter = if uniform { &mut uniforms } else { &mut storage };
        binding_map.insert(b, *counter);
        *counter += 1;
    }
    let options = glsl::Options {
        version,
        writer_flags: glsl::WriterFlags::ADJUST_COORDINATE_SPACE | glsl::WriterFlags::FORCE_POINT_SIZE,
        binding_map,
        zero_initialize_workgroup_memory: false,
    };
    let pipeline = glsl::PipelineOptions { shader_stage: naga::ShaderStage::Compute, entry_point: entry.to_string(), multiview: None };
    let policies = naga::proc::BoundsCheckPolicies::default();
    let mut text = String::new();
    glsl::Writer::new(&mut text, module, info, &options, &pipeline, policies)
        .and_then(|mut w| w.write())
        .map_err(|e| format!("naga cannot write it: {e}"))?;
    let path = dir.join("shader.comp");
    std::fs::write(&path, &text).unwrap();
    run_validator("glslangValidator", "glslang-tools", &[path.as_os_str()]).map_err(|e| format!("{e}\n--- GLSL ---\n{text}"))
}

/// MSL 2.0 as wgpu's Metal backend writes it: translated only.
fn msl(module: &naga::Module, info: &naga::valid::ModuleInfo, entry: &str) -> Result<String, String> {
    use naga::back::msl;
    let options = msl::Options { lang_version: (2, 0), zero_initialize_workgroup_memory: false, ..Default::default() };
    let pipeline = msl::PipelineOptions { entry_point: Some((naga::ShaderStage::Compute, entry.to_string())), ..Default::default() };
    let (text, names) = msl::write_string(module, info, &options, &pipeline).map_err(|e| format!("naga cannot write it: {e}"))?;
    // The entry point, renamed where its name is reserved in MSL (`main`).
    match names.entry_point_names.as_slice() {
        [Ok(name)] if text.contains(&format!(" {name}(")) => Ok(text),
        other => Err(format!("entry point {entry}: {other:?}\n{text}")),
    }
}

/// HLSL of shader model 5.1 (what wgpu's DX12 backend emits for FXC) as it writes it:
/// translated only.
fn hlsl(module: &naga::Module, info: &naga::valid::ModuleInfo, entry: &str) -> Result<String, String> {
    use naga::back::hlsl;
    let options = hlsl::Options { shader_model: hlsl::ShaderModel::V5_1, zero_initialize_workgroup_memory: false, ..Default::default() };
    let pipeline = hlsl::PipelineOptions { entry_point: Some((naga::ShaderStage::Compute, entry.to_string())) };
    let mut text = String::new();
    hlsl::Writer::new(&mut text, &options, &pipeline).write(module, info, None).map_err(|e| format!("naga cannot write it: {e}"))?;
    Ok(text)
}

/// `s` through the four backends. A shader naga's front end refuses fails them all.
pub fn translate(s: &Specialisation) -> Verdicts {
    let dir = tempfile::tempdir().unwrap();
    let (module, info) = match module(s) {
        Ok(m) => m,
        Err(e) => {
            let e = format!("the WGSL does not validate:\n{e}");
            return Verdicts {
                spirv: Err(e.clone()),
                glsl: GLSL_VERSIONS.iter().map(|&v| (v, Err(e.clone()))).collect(),
                msl: Err(e.clone()),
                hlsl: Err(e),
            };
        }
    };
    // The text of a translation nothing here compiles, kept for a failure's message.
    let msl_text = msl(&module, &info, &s.entry);
    let hlsl_text = hlsl(&module, &info, &s.entry);
    Verdicts {
        spirv: spirv(&module, &info, &s.entry, dir.path()),
        glsl: GLSL_VERSIONS.iter().map(|&v| (v, glsl(&module, &info, &s.entry, v, dir.path()))).collect(),
        msl: msl_text.map(|_| ()),
        hlsl: hlsl_text.and_then(|t| if t.contains("[numthreads(") { Ok(()) } else { Err(format!("no compute entry point:\n{t}")) }),
    }
}

#[test]
fn every_shader_in_every_specialisation_translates_for_every_backend() {
    let specs = specialisations();
    // Six tiles of four tiled shaders (two kernels, f32 and f16 weights) and the fourteen
    // other entry points.
    assert_eq!(specs.len(), 4 * TILES.len() + 14, "{:?}", specs.iter().map(|s| &s.name).collect::<Vec<_>>());
    let mut failures = Vec::new();
    for s in &specs {
        for f in translate(s).failures() {
            failures.push(format!("{}: {f}", s.name));
        }
    }
    println!("{} specialisations: SPIR-V and GLSL {:?} validated, MSL and HLSL translated", specs.len(), GLSL_VERSIONS);
    assert!(failures.is_empty(), "{} failures:\n\n{}", failures.len(), failures.join("\n\n"));
}

/// The harness fails a shader that one backend rejects, and names that backend.
#[test]
fn the_translation_check_fails_a_shader_a_backend_rejects() {
    let spec = |name: &str, source: &str, capabilities| Specialisation {
        name: name.into(),
        source: source.into(),
        capabilities,
        entry: "main".into(),
        constants: Vec::new(),
    };
    // Valid WGSL, and what wgpu would run on a Vulkan adapter with the shader-f16 feature: real
    // half-precision arithmetic (what the f16-weight kernels avoid, reading f16 through
    // unpack2x16float). Naga writes no GLSL for it.
    let half = spec(
        "half arithmetic",
        "enable f16;
         @group(0) @binding(0) var<storage, read_write> y: array<f16>;
         @compute @workgroup_size(64)
         fn main(@builtin(global_invocation_id) g: vec3<u32>) { y[g.x] = y[g.x] * 2.0h; }",
        Capabilities::SHADER_FLOAT16,
    );
    let v = translate(&half);
    let f = v.failures();
    assert!(v.spirv.is_ok(), "{:?}", v.spirv);
    assert!(v.glsl.iter().all(|(_, r)| r.as_ref().is_err_and(|e| e.starts_with("naga cannot write it"))), "{:?}", v.glsl);
    assert_eq!(f.len(), GLSL_VERSIONS.len(), "{f:#?}");
    // Valid WGSL whose every translation naga writes, but a workgroup of 2048 invocations: past
    // what GLSL allows a compute shader (glslang's gl_MaxComputeWorkGroupSize), so the GLSL
    // validator rejects it and nothing else does.
    let wide = spec(
        "wide workgroup",
        "@group(0) @binding(0) var<storage, read_write> y: array<f32>;
         @compute @workgroup_size(2048)
         fn main(@builtin(global_invocation_id) g: vec3<u32>) { y[g.x] = y[g.x] * 2.0; }",
        Capabilities::default(),
    );
    let v = translate(&wide);
    let f = v.failures();
    assert!(!f.is_empty() && f.iter().all(|f| f.starts_with("GLSL") && f.contains("glslangValidator rejects it")), "{f:#?}");
    assert!(f.iter().any(|f| f.contains("local_size_x")), "the validator's message: {f:#?}");
    // And a shader naga's front end refuses fails every backend.
    let broken = spec("not WGSL", "fn main( {", Capabilities::default());
    assert_eq!(translate(&broken).failures().len(), 3 + GLSL_VERSIONS.len());
}
