//! The allowlist of globals: the only names a checkpoint's pickle may import.
//!
//! Owns: the allowed globals. Must not touch: anything that runs code.

use super::value::Global;
use super::{ImportError, RawDtype};

/// Maps `module.name` to an allowed global, or refuses it.
pub(crate) fn resolve_global(module: &str, name: &str) -> Result<Global, ImportError> {
    let dtype_of_storage = |n: &str| match n {
        "DoubleStorage" => Some(RawDtype::F64),
        "FloatStorage" => Some(RawDtype::F32),
        "HalfStorage" => Some(RawDtype::F16),
        "BFloat16Storage" => Some(RawDtype::BF16),
        "LongStorage" => Some(RawDtype::I64),
        "IntStorage" => Some(RawDtype::I32),
        "ShortStorage" => Some(RawDtype::I16),
        "CharStorage" => Some(RawDtype::I8),
        "ByteStorage" => Some(RawDtype::U8),
        "BoolStorage" => Some(RawDtype::Bool),
        _ => None,
    };
    let dtype = |n: &str| match n {
        "float64" | "double" => Some(RawDtype::F64),
        "float32" | "float" => Some(RawDtype::F32),
        "float16" | "half" => Some(RawDtype::F16),
        "bfloat16" => Some(RawDtype::BF16),
        "int64" | "long" => Some(RawDtype::I64),
        "int32" | "int" => Some(RawDtype::I32),
        "int16" | "short" => Some(RawDtype::I16),
        "int8" => Some(RawDtype::I8),
        "uint8" => Some(RawDtype::U8),
        "bool" => Some(RawDtype::Bool),
        _ => None,
    };
    let g = match (module, name) {
        ("torch._utils", "_rebuild_tensor") => Some(Global::RebuildTensor),
        ("torch._utils", "_rebuild_tensor_v2") => Some(Global::RebuildTensorV2),
        ("torch._utils", "_rebuild_tensor_v3") => Some(Global::RebuildTensorV3),
        ("torch._utils", "_rebuild_parameter") => Some(Global::RebuildParameter),
        ("torch._utils", "_rebuild_parameter_with_state") => Some(Global::RebuildParameterWithState),
        ("collections", "OrderedDict") => Some(Global::OrderedDict),
        ("torch" | "torch.storage", "UntypedStorage" | "_UntypedStorage") => Some(Global::UntypedStorage),
        ("torch" | "torch.cuda", n) if dtype_of_storage(n).is_some() => dtype_of_storage(n).map(Global::Storage),
        ("torch", n) if dtype(n).is_some() => dtype(n).map(Global::Dtype),
        ("torch" | "torch.cuda", n) if is_unsupported_dtype(n) => {
            return Err(ImportError::UnsupportedStorage { global: format!("{module}.{name}") });
        }
        _ => None,
    };
    g.ok_or_else(|| ImportError::ForbiddenGlobal { module: printable(module), name: printable(name) })
}

/// Real torch dtypes and storage classes that have no [`RawDtype`].
fn is_unsupported_dtype(n: &str) -> bool {
    const PREFIXES: [&str; 10] = ["uint", "float8_", "float4_", "complex", "qint", "quint", "bits", "Complex", "QInt", "QUInt"];
    (PREFIXES.iter().any(|p| n.starts_with(p) && n.len() <= 24) && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        || matches!(n, "cfloat" | "cdouble" | "chalf" | "int1" | "int2" | "int3" | "int4" | "int5" | "int6" | "int7")
}

/// At most 100 characters of `s`, control characters escaped, for error messages.
pub(crate) fn printable(s: &str) -> String {
    let mut out: String = s.chars().take(100).flat_map(char::escape_default).collect();
    if s.chars().nth(100).is_some() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist() {
        assert_eq!(resolve_global("torch", "HalfStorage").unwrap(), Global::Storage(RawDtype::F16));
        assert_eq!(resolve_global("torch", "bfloat16").unwrap(), Global::Dtype(RawDtype::BF16));
        for (m, n) in [("os", "system"), ("builtins", "eval"), ("torch", "load"), ("torch", "")] {
            let e = resolve_global(m, n).unwrap_err();
            assert!(matches!(e, ImportError::ForbiddenGlobal { .. }), "{m}.{n}: {e}");
        }
        for n in ["ComplexFloatStorage", "QInt8Storage", "uint16", "float8_e4m3fn", "cfloat"] {
            let e = resolve_global("torch", n).unwrap_err();
            assert!(e.to_string().contains(&format!("unsupported tensor type torch.{n}")), "{e}");
        }
        let e = resolve_global("torch", "FloatStorageX").unwrap_err();
        assert!(matches!(e, ImportError::ForbiddenGlobal { .. }));
        assert_eq!(
            resolve_global("os", "system").unwrap_err().to_string(),
            "refusing to load: the pickle calls the global os.system, which a state dict never needs"
        );
    }

    #[test]
    fn printable_escapes_and_truncates() {
        assert_eq!(printable("a\nb"), "a\\nb");
        assert_eq!(printable(&"x".repeat(300)).len(), 103);
    }
}
