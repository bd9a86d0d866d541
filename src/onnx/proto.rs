//! The protobuf layer: an ONNX file's bytes decoded into `rten-onnx`'s message structs,
//! through a reader that checks every declared length against the bytes that remain, so a
//! hostile length is an error, not an allocation of what it claims.
//!
//! Owns: bytes -> `ModelProto`. Must not touch: what the messages mean.

use rten_onnx::onnx::{ModelProto, TensorProto};
use rten_onnx::protobuf::{DecodeMessage, ErrorKind, OwnedValues, ProtobufError, ReadValue};

/// A reader over a byte slice that never reads, skips or allocates past its end.
struct Bounded<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Bounded<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], ProtobufError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or(ProtobufError::new(ErrorKind::Eof))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ProtobufError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
}

impl ReadValue for Bounded<'_> {
    type Types = OwnedValues;

    fn read_i32(&mut self) -> Result<i32, ProtobufError> {
        Ok(i32::from_le_bytes(self.array()?))
    }

    fn read_i64(&mut self) -> Result<i64, ProtobufError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    /// A varint of at most ten bytes (the crate's own decoder loops forever on ten
    /// continuation bytes in a row, so this one is written out).
    fn read_varint(&mut self) -> Result<u64, ProtobufError> {
        let mut value = 0u64;
        for i in 0..10 {
            let Some(&b) = self.bytes.get(self.pos + i) else {
                return Err(ProtobufError::new(if i == 0 { ErrorKind::Eof } else { ErrorKind::InvalidVarint }));
            };
            value |= ((b & 0x7f) as u64) << (7 * i);
            if b < 0x80 {
                if i == 9 && b > 1 {
                    break;
                }
                self.pos += i + 1;
                return Ok(value);
            }
        }
        Err(ProtobufError::new(ErrorKind::InvalidVarint))
    }

    fn read_bytes(&mut self, len: usize) -> Result<Vec<u8>, ProtobufError> {
        Ok(self.take(len)?.to_vec())
    }

    fn read_string(&mut self, len: usize) -> Result<String, ProtobufError> {
        String::from_utf8(self.take(len)?.to_vec()).map_err(|_| ProtobufError::new(ErrorKind::InvalidUtf8))
    }

    fn skip(&mut self, len: usize) -> Result<(), ProtobufError> {
        self.take(len).map(|_| ())
    }

    fn position(&self) -> u64 {
        self.pos as u64
    }
}

/// Decodes a model from `bytes`, every name and string in it made printable on one line.
pub fn decode(bytes: &[u8]) -> Result<ModelProto, ProtobufError> {
    let mut model = ModelProto::decode(Bounded { bytes, pos: 0 })?;
    printable(&mut model);
    Ok(model)
}

/// `s` with its control characters (newlines, escapes) written as escapes, so a name from a
/// file cannot break a one-line message or a listing.
fn clean(s: &mut String) {
    if s.chars().any(char::is_control) {
        *s = s.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect();
    }
}

fn clean_opt(s: &mut Option<String>) {
    if let Some(s) = s {
        clean(s);
    }
}

fn clean_tensor(t: &mut TensorProto) {
    clean_opt(&mut t.name);
    for e in &mut t.external_data {
        clean_opt(&mut e.key);
        clean_opt(&mut e.value);
    }
}

/// Every string of `model` that a message or a listing may show, cleaned.
fn printable(model: &mut ModelProto) {
    clean_opt(&mut model.producer_name);
    clean_opt(&mut model.producer_version);
    for e in &mut model.metadata_props {
        clean_opt(&mut e.key);
        clean_opt(&mut e.value);
    }
    for o in &mut model.opset_import {
        clean_opt(&mut o.domain);
    }
    let Some(g) = model.graph.as_mut() else { return };
    for n in &mut g.node {
        clean_opt(&mut n.name);
        clean_opt(&mut n.op_type);
        clean_opt(&mut n.domain);
        n.input.iter_mut().chain(n.output.iter_mut()).for_each(clean);
        for a in &mut n.attribute {
            clean_opt(&mut a.name);
            clean_opt(&mut a.s);
            if let Some(t) = a.t.as_mut() {
                clean_tensor(t);
            }
        }
    }
    g.initializer.iter_mut().for_each(clean_tensor);
    for v in g.input.iter_mut().chain(g.output.iter_mut()).chain(g.value_info.iter_mut()) {
        clean_opt(&mut v.name);
        if let Some(dims) = v.r#type.as_mut().and_then(|t| t.tensor_type.as_mut()).and_then(|t| t.shape.as_mut()) {
            dims.dim.iter_mut().for_each(|d| clean_opt(&mut d.dim_param));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(bytes: &[u8]) -> Result<(u64, usize), String> {
        let mut r = Bounded { bytes, pos: 0 };
        r.read_varint().map(|v| (v, r.pos)).map_err(|e| e.to_string())
    }

    #[test]
    fn varints_are_read_as_protobuf_encodes_them_and_never_past_ten_bytes() {
        assert_eq!(varint(&[0x96, 0x01, 0xff]), Ok((150, 2)));
        assert_eq!(varint(&[0x7f]), Ok((127, 1)));
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(varint(&max), Ok((u64::MAX, 10)));
        assert!(varint(&[0xff; 10]).is_err(), "ten continuation bytes");
        assert!(varint(&[0xff; 64]).is_err());
        assert!(varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]).is_err(), "more than 64 bits");
        assert!(varint(&[0x80, 0x80]).is_err(), "cut inside");
        assert!(varint(&[]).is_err());
    }
}
