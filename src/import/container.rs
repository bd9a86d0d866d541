//! The two `torch.save` file layouts: the zip archive (torch >= 1.6) and the legacy
//! stream of pickles followed by raw storage bytes.
//!
//! Owns: the zip and legacy containers. Must not touch: the pickle machine.

use super::ImportError;
use super::RawDtype;
use super::globals::printable;
use super::pickle::{Pickled, unpickle};
use super::tensor::{Budget, alloc};
use super::value::{StorageRef, Value};
use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::rc::Rc;
use zip::ZipArchive;
use zip::result::ZipError;

const LEGACY_MAGIC: i128 = 0x1950a86a20f9469cfc6c;
const LEGACY_VERSION: i128 = 1001;

/// An opened checkpoint: its main pickle and where its storages' bytes are.
pub(crate) struct Checkpoint<'a> {
    pub pickled: Pickled,
    pub big_endian: bool,
    source: Source<'a>,
}

enum Source<'a> {
    /// Byte ranges of each storage in the file, by key.
    Legacy { bytes: &'a [u8], table: HashMap<Rc<str>, (usize, usize)> },
    /// Storages are read from `<prefix>/data/<key>` on first use.
    Zip { archive: Box<ZipArchive<Cursor<&'a [u8]>>>, prefix: String, cache: HashMap<Rc<str>, Vec<u8>> },
}

pub(crate) fn open<'a>(bytes: &'a [u8], budget: &mut Budget) -> Result<Checkpoint<'a>, ImportError> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        open_zip(bytes, budget)
    } else if bytes.get(257..262) == Some(b"ustar") {
        Err(ImportError::LegacyTar)
    } else if bytes.first() == Some(&0x80) {
        open_legacy(bytes)
    } else {
        Err(ImportError::NotACheckpoint)
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::Int(i) => format!("{i:#x}"),
        other => format!("a {}", other.kind()),
    }
}

fn open_legacy(bytes: &[u8]) -> Result<Checkpoint<'_>, ImportError> {
    let (magic, pos) = unpickle(bytes, 0)?;
    if !matches!(magic.root, Value::Int(LEGACY_MAGIC)) {
        return Err(ImportError::BadMagic { found: describe(&magic.root) });
    }
    let (version, pos) = unpickle(bytes, pos)?;
    if !matches!(version.root, Value::Int(LEGACY_VERSION)) {
        return Err(ImportError::LegacyVersion { found: describe(&version.root) });
    }
    let (sys_info, pos) = unpickle(bytes, pos)?;
    let big_endian = match &sys_info.root {
        Value::Dict(id) => {
            sys_info.heap.dict(*id).iter().any(|(k, v)| matches!((k, v), (Value::Str(k), Value::Bool(false)) if &**k == "little_endian"))
        }
        _ => false,
    };
    let (pickled, pos) = unpickle(bytes, pos)?;
    let (keys, mut pos) = unpickle(bytes, pos)?;
    let list_end = pos;
    let bad_list = || ImportError::Pickle { offset: list_end, msg: "the storage key list is not a list of strings".into() };
    let Value::List(id) = keys.root else {
        return Err(bad_list());
    };
    let Some(super::value::Container::List(keys)) = keys.heap.get(id) else {
        return Err(bad_list());
    };

    let mut dtypes: HashMap<&str, RawDtype> = HashMap::new();
    for s in &pickled.storages {
        dtypes.entry(&s.key).or_insert(s.dtype);
    }
    let mut table = HashMap::new();
    for key in keys {
        let Value::Str(key) = key else {
            return Err(bad_list());
        };
        let shown = printable(key);
        let Some(dtype) = dtypes.get(&**key) else {
            let msg = "is listed in the storage table but used by no tensor".into();
            return Err(ImportError::BadStorage { key: shown, msg });
        };
        let truncated = |left: usize| ImportError::Truncated {
            what: format!("the data of storage {shown} is cut short ({left} bytes left)"),
            offset: pos,
        };
        let left = bytes.len() - pos.min(bytes.len());
        let header = bytes.get(pos..pos + 8).ok_or_else(|| truncated(left))?;
        let numel = u64::from_le_bytes(header.try_into().unwrap_or([0xff; 8]));
        let len = numel.checked_mul(dtype.size() as u64).and_then(|n| usize::try_from(n).ok());
        let start = pos + 8;
        let end = len.and_then(|n| start.checked_add(n)).filter(|&e| e <= bytes.len());
        let end = end.ok_or_else(|| truncated(left))?;
        if table.insert(key.clone(), (start, end - start)).is_some() {
            return Err(ImportError::BadStorage { key: shown, msg: "is listed twice".into() });
        }
        pos = end;
    }
    Ok(Checkpoint { pickled, big_endian, source: Source::Legacy { bytes, table } })
}

fn zip_err(e: ZipError) -> ImportError {
    ImportError::Zip { msg: e.to_string() }
}

/// Reads at most `limit` bytes of record `name`, counting them against `budget`.
fn read_record(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    name: &str,
    shown: &str,
    limit: u64,
    budget: &mut Budget,
) -> Result<Vec<u8>, ImportError> {
    let Some(index) = archive.index_for_name_raw(name.as_bytes()) else {
        return Err(ImportError::MissingRecord { name: shown.into() });
    };
    let file = archive.by_index(index).map_err(zip_err)?;
    let n = file.size().min(limit);
    budget.take(n)?;
    let mut buf = alloc(n)?;
    // Never more than the declared size (a deflate bomb stops there); asking for one
    // byte more lets the zip reader reach the record's end and check its CRC.
    file.take(n.saturating_add(1)).read_to_end(&mut buf).map_err(|e| ImportError::Zip { msg: format!("{shown}: {e}") })?;
    buf.truncate(usize::try_from(n).unwrap_or(usize::MAX));
    Ok(buf)
}

fn open_zip<'a>(bytes: &'a [u8], budget: &mut Budget) -> Result<Checkpoint<'a>, ImportError> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(zip_err)?;
    let pkls: Vec<String> = archive
        .file_names_raw()
        .filter_map(|n| {
            let n = n.strip_suffix(b"/data.pkl")?;
            (!n.is_empty() && !n.contains(&b'/')).then(|| String::from_utf8(n.to_vec()).ok())?
        })
        .take(2)
        .collect();
    let prefix = match <[String; 1]>::try_from(pkls) {
        Ok([p]) => p,
        Err(v) if v.is_empty() => {
            return Err(ImportError::MissingRecord { name: "data.pkl".into() });
        }
        Err(_) => {
            return Err(ImportError::Zip { msg: "the archive holds several data.pkl records".into() });
        }
    };
    let byteorder = format!("{prefix}/byteorder");
    let big_endian = match read_record(&mut archive, &byteorder, "byteorder", 16, budget) {
        Ok(b) if b == b"little" => false,
        Ok(b) if b == b"big" => true,
        Ok(b) => {
            let msg = format!("unknown byte order {:?}", String::from_utf8_lossy(&b));
            return Err(ImportError::Zip { msg });
        }
        Err(ImportError::MissingRecord { .. }) => false,
        Err(e) => return Err(e),
    };
    let name = format!("{prefix}/data.pkl");
    let pkl = read_record(&mut archive, &name, "data.pkl", u64::MAX, budget)?;
    let (pickled, _) = unpickle(&pkl, 0)?;
    let source = Source::Zip { archive: Box::new(archive), prefix, cache: HashMap::new() };
    Ok(Checkpoint { pickled, big_endian, source })
}

impl Checkpoint<'_> {
    /// The bytes of storage `s` (its view, for a legacy view), at most its declared size.
    pub fn storage(&mut self, s: &StorageRef, budget: &mut Budget) -> Result<&[u8], ImportError> {
        let es = s.dtype.size() as u64;
        let bad = |msg: &str| ImportError::BadStorage { key: printable(&s.key), msg: msg.into() };
        let numel = u64::try_from(s.numel).map_err(|_| bad("has a negative size"))?;
        let want = numel.checked_mul(es).ok_or_else(|| bad("is too large"))?;
        let root: &[u8] = match &mut self.source {
            Source::Legacy { bytes, table } => {
                let &(start, len) = table.get(&s.key).ok_or_else(|| ImportError::MissingLegacyStorage { key: printable(&s.key) })?;
                &bytes[start..start + len]
            }
            Source::Zip { archive, prefix, cache } => {
                if !cache.contains_key(&s.key) {
                    let name = format!("{prefix}/data/{}", s.key);
                    let shown = format!("storage data/{}", printable(&s.key));
                    let data = read_record(archive, &name, &shown, want, budget)?;
                    cache.insert(s.key.clone(), data);
                }
                &cache[&s.key]
            }
        };
        let root = &root[..root.len().min(usize::try_from(want).unwrap_or(usize::MAX))];
        let Some((offset, n)) = s.view else {
            return Ok(root);
        };
        let range = u64::try_from(offset).ok().zip(u64::try_from(n).ok()).and_then(|(o, n)| {
            let start = o.checked_mul(es)?;
            let end = start.checked_add(n.checked_mul(es)?)?;
            (end <= root.len() as u64).then_some(start as usize..end as usize)
        });
        Ok(&root[range.ok_or_else(|| bad("has a view outside its data"))?])
    }
}
