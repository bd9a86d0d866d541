//! Safe reader for PyTorch `torch.save` checkpoints (`.pth`, `.pt`).
//!
//! Both on-disk layouts are supported: the zip archive written by torch >= 1.6
//! (`<archive>/data.pkl` plus one `<archive>/data/<key>` record per storage) and the
//! legacy stream written before that (or with `_use_new_zipfile_serialization=False`).
//!
//! The pickles inside are read by a small, safe subset of the pickle machine
//! (module `pickle`): it knows only the handful of globals a state dict needs and
//! refuses every other one (`os.system`, `builtins.eval`, ...) before anything is
//! built. Nothing is ever called or imported; every length, index, size and stride is
//! checked, so a hostile or broken file gives an [`ImportError`], never a panic.
//!
//! Owns: the file formats and the pickle subset. Must not touch: architectures, programs,
//! backends (it hands named tensors to [`crate::weights`]).

mod container;
mod globals;
mod machine;
mod pickle;
mod select;
mod tensor;
mod value;

use std::path::{Path, PathBuf};

/// Element type of an imported tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RawDtype {
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl RawDtype {
    /// Size of one element in bytes.
    pub fn size(&self) -> usize {
        match self {
            RawDtype::F64 | RawDtype::I64 => 8,
            RawDtype::F32 | RawDtype::I32 => 4,
            RawDtype::F16 | RawDtype::BF16 | RawDtype::I16 => 2,
            RawDtype::I8 | RawDtype::U8 | RawDtype::Bool => 1,
        }
    }

    /// The same element type in safetensors.
    pub fn to_safetensors(self) -> safetensors::Dtype {
        match self {
            RawDtype::F64 => safetensors::Dtype::F64,
            RawDtype::F32 => safetensors::Dtype::F32,
            RawDtype::F16 => safetensors::Dtype::F16,
            RawDtype::BF16 => safetensors::Dtype::BF16,
            RawDtype::I64 => safetensors::Dtype::I64,
            RawDtype::I32 => safetensors::Dtype::I32,
            RawDtype::I16 => safetensors::Dtype::I16,
            RawDtype::I8 => safetensors::Dtype::I8,
            RawDtype::U8 => safetensors::Dtype::U8,
            RawDtype::Bool => safetensors::Dtype::BOOL,
        }
    }

    /// A safetensors element type, where it is one of these.
    pub fn from_safetensors(dtype: safetensors::Dtype) -> Option<RawDtype> {
        const ALL: [RawDtype; 10] = [
            RawDtype::F64,
            RawDtype::F32,
            RawDtype::F16,
            RawDtype::BF16,
            RawDtype::I64,
            RawDtype::I32,
            RawDtype::I16,
            RawDtype::I8,
            RawDtype::U8,
            RawDtype::Bool,
        ];
        ALL.into_iter().find(|d| d.to_safetensors() == dtype)
    }

    /// Whether values of this type are floats (weights; the rest is bookkeeping).
    pub fn is_float(self) -> bool {
        matches!(self, RawDtype::F64 | RawDtype::F32 | RawDtype::F16 | RawDtype::BF16)
    }

    /// The dtype's name as safetensors spells it (`"F32"`, `"BOOL"`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            RawDtype::F64 => "F64",
            RawDtype::F32 => "F32",
            RawDtype::F16 => "F16",
            RawDtype::BF16 => "BF16",
            RawDtype::I64 => "I64",
            RawDtype::I32 => "I32",
            RawDtype::I16 => "I16",
            RawDtype::I8 => "I8",
            RawDtype::U8 => "U8",
            RawDtype::Bool => "BOOL",
        }
    }
}

impl std::fmt::Display for RawDtype {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One tensor of the state dict, copied out of its storage.
#[derive(Clone, Debug, PartialEq)]
pub struct RawTensor {
    /// Name in the state dict (a leading `module.` is stripped when every name has it).
    pub name: String,
    pub dtype: RawDtype,
    /// Shape; `[]` for a scalar such as `num_batches_tracked`.
    pub shape: Vec<usize>,
    /// Contiguous row-major little-endian bytes, `shape.product() * dtype.size()` long.
    pub data: Vec<u8>,
}

/// Why a checkpoint could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    // These two display their cause and do not return it as `source()`: the importer's
    // messages are whole on their own (callers and tests read them with `to_string`).
    #[error("cannot read {}: {cause}", path.display())]
    Io { path: PathBuf, cause: std::io::Error },
    #[error("{}: {inner}", path.display())]
    InFile { path: PathBuf, inner: Box<ImportError> },
    #[error("not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save file)")]
    NotACheckpoint,
    #[error("this is a tar-format checkpoint from PyTorch < 0.4, which is not supported; re-save it with a newer PyTorch")]
    LegacyTar,
    #[error("not a legacy torch.save file: the magic number is {found}, expected 0x1950a86a20f9469cfc6c")]
    BadMagic { found: String },
    #[error("unsupported legacy torch.save protocol version {found} (expected 1001)")]
    LegacyVersion { found: String },
    #[error("truncated file: {what} (at byte {offset})")]
    Truncated { what: String, offset: usize },
    #[error("refusing to load: the pickle calls the global {module}.{name}, which a state dict never needs")]
    ForbiddenGlobal { module: String, name: String },
    #[error("unsupported tensor type {global} (only float64/32/16, bfloat16, int64/32/16/8, uint8 and bool are supported)")]
    UnsupportedStorage { global: String },
    #[error("unsupported pickle opcode 0x{opcode:02x} at byte {offset}")]
    UnsupportedOpcode { opcode: u8, offset: usize },
    #[error("malformed pickle at byte {offset}: {msg}")]
    Pickle { offset: usize, msg: String },
    #[error("pickle nesting deeper than {limit}")]
    TooDeep { limit: usize },
    #[error("bad zip archive: {msg}")]
    Zip { msg: String },
    #[error("missing {name} in the zip archive")]
    MissingRecord { name: String },
    #[error("storage {key} is used by a tensor but missing from the file's storage table")]
    MissingLegacyStorage { key: String },
    #[error("storage {key}: {msg}")]
    BadStorage { key: String, msg: String },
    #[error("storage {key} is {have} bytes but tensor {tensor} needs {need}")]
    StorageTooSmall { key: String, tensor: String, have: u64, need: u64 },
    #[error("tensor {tensor}: {msg}")]
    BadTensor { tensor: String, msg: String },
    #[error("checkpoint would expand to more than {limit} bytes of tensor data (needs at least {need}); refusing")]
    TooLarge { need: u64, limit: u64 },
    #[error("the checkpoint holds a {found}, not a dict")]
    NotADict { found: String },
    #[error("no state dict found: no entry of the top-level dict holds tensors (keys: {keys})")]
    NoStateDict { keys: String },
    #[error("several entries hold tensors ({keys}); pass --key to choose one")]
    AmbiguousStateDict { keys: String },
    #[error("key {key:?} not found in the checkpoint (keys: {keys})")]
    KeyNotFound { key: String, keys: String },
    #[error("entry {key:?} holds a {found}, not a state dict")]
    KeyNotADict { key: String, found: String },
    #[error("the state dict under {key:?} holds no tensors")]
    NoTensors { key: String },
    #[error("state dict key {found} is not a string")]
    NonStringKey { found: String },
    #[error("tensor name {name:?} appears twice in the state dict")]
    DuplicateName { name: String },
}

impl ImportError {
    /// The error without the file path wrapped around it by [`read_pth`].
    pub fn without_path(&self) -> &ImportError {
        match self {
            ImportError::InFile { inner, .. } => inner.without_path(),
            other => other,
        }
    }
}

/// Reads the state dict of the checkpoint at `path`; see [`read_pth_bytes`].
pub fn read_pth(path: &Path, key: Option<&str>) -> Result<Vec<RawTensor>, ImportError> {
    let bytes = std::fs::read(path).map_err(|cause| ImportError::Io { path: path.to_path_buf(), cause })?;
    read_pth_bytes(&bytes, key).map_err(|e| ImportError::InFile { path: path.to_path_buf(), inner: Box::new(e) })
}

/// Reads the state dict held by a `torch.save` checkpoint, tensors in file order.
///
/// `key` names the entry of a wrapping dict (`{"netG_state_dict": sd, ...}`) that holds
/// the state dict. Without it, a dict of tensors is taken as the state dict itself, and
/// otherwise the one entry whose value is a dict holding tensors; several such entries
/// are an error listing them. Non-tensor values of the state dict are skipped.
pub fn read_pth_bytes(bytes: &[u8], key: Option<&str>) -> Result<Vec<RawTensor>, ImportError> {
    let mut budget = tensor::Budget::for_input(bytes.len());
    let mut ckpt = container::open(bytes, &mut budget)?;
    let entries = select::state_dict(&ckpt.pickled, key, &mut budget)?;
    let strip = !entries.is_empty() && entries.iter().all(|(n, _)| n.starts_with("module."));
    let big_endian = ckpt.big_endian;
    let mut out = Vec::with_capacity(entries.len());
    for (name, spec) in entries {
        let name = if strip { name["module.".len()..].to_string() } else { name };
        let storage = ckpt.storage(&spec.storage, &mut budget)?;
        let t = tensor::materialize(name, &spec, storage, big_endian, &mut budget)?;
        out.push(t);
    }
    Ok(out)
}
