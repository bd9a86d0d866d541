//! A safe subset of the pickle machine, enough for `torch.save` state dicts.
//!
//! It implements the binary opcodes of protocols 2 to 5 that plain data and
//! `torch.save` emit, resolves globals through an allowlist ([`resolve_global`]) and
//! applies only the few torch rebuild functions as data transformations. Every read is
//! checked against the bytes left, the mark stack and container nesting are bounded by
//! [`MAX_DEPTH`] and the memo by [`super::machine::MAX_MEMO`], so no input can panic, overflow, hang or
//! allocate more than a small multiple of its own size.
//!
//! Owns: the opcode interpreter. Must not touch: files, globals beyond the allowed list.

use super::ImportError;
use super::globals::resolve_global;
use super::machine::Machine;
use super::value::{Container, Global, Heap, MAX_DEPTH, StorageRef, Value, apply, storage_ref};
use std::collections::HashMap;
use std::rc::Rc;

/// The result of one pickle: its value, the heap its lists and dicts live in, and
/// every storage its persistent ids named (in order of appearance).
#[derive(Debug)]
pub(crate) struct Pickled {
    pub root: Value,
    pub heap: Heap,
    pub storages: Vec<Rc<StorageRef>>,
}

/// Unpickles the pickle starting at `data[start]`; returns it and the offset after STOP.
pub(crate) fn unpickle(data: &[u8], start: usize) -> Result<(Pickled, usize), ImportError> {
    let mut m = Machine {
        data,
        pos: start,
        op_pos: start,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        heap: Heap::default(),
        storages: Vec::new(),
    };
    let root = m.run()?;
    let pickled = Pickled { root, heap: m.heap, storages: m.storages };
    Ok((pickled, m.pos))
}

impl Machine<'_> {
    fn run(&mut self) -> Result<Value, ImportError> {
        loop {
            self.op_pos = self.pos;
            let Some(&op) = self.data.get(self.pos) else {
                return Err(ImportError::Truncated { what: "the pickle ends before its STOP opcode".into(), offset: self.pos });
            };
            self.pos += 1;
            match op {
                b'.' => return self.pop(), // STOP
                0x80 => {
                    let [p] = self.arr::<1>("PROTO")?;
                    if p > 5 {
                        return Err(self.err(format!("unknown pickle protocol {p}")));
                    }
                }
                0x95 => {
                    self.arr::<8>("FRAME")?;
                }
                b'(' => {
                    if self.marks.len() >= MAX_DEPTH {
                        return Err(ImportError::TooDeep { limit: MAX_DEPTH });
                    }
                    self.marks.push(self.stack.len());
                }
                b'N' => self.push(Value::None),
                0x88 => self.push(Value::Bool(true)),
                0x89 => self.push(Value::Bool(false)),
                b'J' => {
                    let v = i32::from_le_bytes(self.arr("BININT")?);
                    self.push(Value::Int(v.into()));
                }
                b'K' => {
                    let [v] = self.arr::<1>("BININT1")?;
                    self.push(Value::Int(v.into()));
                }
                b'M' => {
                    let v = u16::from_le_bytes(self.arr("BININT2")?);
                    self.push(Value::Int(v.into()));
                }
                0x8a => {
                    let [n] = self.arr::<1>("LONG1")?;
                    let v = self.long(n.into(), "LONG1")?;
                    self.push(v);
                }
                0x8b => {
                    let n = i32::from_le_bytes(self.arr("LONG4")?);
                    let n = u64::try_from(n).map_err(|_| self.err("negative LONG4 length"))?;
                    let v = self.long(n, "LONG4")?;
                    self.push(v);
                }
                b'G' => {
                    self.arr::<8>("BINFLOAT")?;
                    self.push(Value::Float);
                }
                b'X' | 0x8c | 0x8d => {
                    let (n, what) = match op {
                        b'X' => (u32::from_le_bytes(self.arr("BINUNICODE")?).into(), "BINUNICODE"),
                        0x8c => (self.arr::<1>("SHORT_BINUNICODE")?[0].into(), "SHORT_BINUNICODE"),
                        _ => (u64::from_le_bytes(self.arr("BINUNICODE8")?), "BINUNICODE8"),
                    };
                    let v = self.string(n, what)?;
                    self.push(v);
                }
                b'T' | b'U' => {
                    let n: u64 = if op == b'T' {
                        let n = i32::from_le_bytes(self.arr("BINSTRING")?);
                        u64::try_from(n).map_err(|_| self.err("negative BINSTRING length"))?
                    } else {
                        self.arr::<1>("SHORT_BINSTRING")?[0].into()
                    };
                    // Python 2 `str`: bytes, read as Latin-1 like `encoding="latin1"`.
                    let s: String = self.take(n, "BINSTRING")?.iter().map(|&b| char::from(b)).collect();
                    self.push(Value::Str(s.into()));
                }
                b'B' | b'C' | 0x8e | 0x96 => {
                    let n = match op {
                        b'B' => u32::from_le_bytes(self.arr("BINBYTES")?).into(),
                        b'C' => self.arr::<1>("SHORT_BINBYTES")?[0].into(),
                        _ => u64::from_le_bytes(self.arr("BINBYTES8")?),
                    };
                    self.take(n, "BINBYTES")?;
                    self.push(Value::Bytes);
                }
                b')' => {
                    let t = self.tuple(Vec::new())?;
                    self.push(t);
                }
                b't' => {
                    let items = self.pop_mark()?;
                    let t = self.tuple(items)?;
                    self.push(t);
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    let t = self.tuple(items)?;
                    self.push(t);
                }
                b']' | b'}' | b'l' | b'd' => {
                    let items = if matches!(op, b'l' | b'd') { self.pop_mark()? } else { Vec::new() };
                    let c = if matches!(op, b']' | b'l') { Container::List(Vec::new()) } else { Container::Dict(Vec::new()) };
                    let v = self.new_container(c, items)?;
                    self.push(v);
                }
                b'a' => {
                    let v = self.pop()?;
                    self.add_to_top(vec![v], false)?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    self.add_to_top(items, false)?;
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    self.add_to_top(vec![k, v], true)?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    self.add_to_top(items, true)?;
                }
                b'q' => {
                    let [i] = self.arr::<1>("BINPUT")?;
                    self.memo_put(i.into())?;
                }
                b'r' => {
                    let i = u32::from_le_bytes(self.arr("LONG_BINPUT")?);
                    self.memo_put(i)?;
                }
                0x94 => {
                    let i = u32::try_from(self.memo.len()).map_err(|_| self.err("memo full"))?;
                    self.memo_put(i)?;
                }
                b'h' => {
                    let [i] = self.arr::<1>("BINGET")?;
                    self.memo_get(i.into())?;
                }
                b'j' => {
                    let i = u32::from_le_bytes(self.arr("LONG_BINGET")?);
                    self.memo_get(i)?;
                }
                b'c' => {
                    let module = self.line("GLOBAL module name")?;
                    let name = self.line("GLOBAL name")?;
                    self.global(module, name)?;
                }
                b'i' => {
                    // INST (protocol 0): refused, but name a forbidden class as such.
                    let module = self.line("INST module name")?;
                    let name = self.line("INST class name")?;
                    resolve_global(module, name)?;
                    return Err(ImportError::UnsupportedOpcode { opcode: op, offset: self.op_pos });
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (Value::Str(module), Value::Str(name)) = (module, name) else {
                        return Err(self.err("STACK_GLOBAL needs two strings"));
                    };
                    self.global(&module, &name)?;
                }
                b'R' | 0x81 => {
                    let args = self.pop()?;
                    let f = self.pop()?;
                    let (Value::Global(g), Value::Tuple(args)) = (&f, &args) else {
                        return Err(self.err(format!("cannot call a {} with a {}", f.kind(), args.kind())));
                    };
                    let is_newobj = op == 0x81;
                    if is_newobj && *g != Global::OrderedDict {
                        return Err(self.err(format!("NEWOBJ of {g:?}")));
                    }
                    let v = apply(*g, &args.items, &mut self.heap).map_err(|m| self.err(m))?;
                    self.push(v);
                }
                b'b' => {
                    let state = self.pop()?;
                    match self.top()? {
                        // OrderedDict `_metadata`, tensor/parameter state: not needed.
                        Value::Dict(_) | Value::Tensor(_) => {}
                        other => {
                            let msg = format!("BUILD on a {} with a {}", other.kind(), state.kind());
                            return Err(self.err(msg));
                        }
                    }
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = storage_ref(&pid).map_err(|m| self.err(m))?;
                    if let Value::Storage(s) = &v {
                        self.storages.push(s.clone());
                    }
                    self.push(v);
                }
                b'0' => {
                    if self.stack.len() > self.floor() {
                        self.pop()?;
                    } else {
                        self.pop_mark()?;
                    }
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let v = self.top()?.clone();
                    self.push(v);
                }
                _ => {
                    return Err(ImportError::UnsupportedOpcode { opcode: op, offset: self.op_pos });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: &[u8]) -> Result<(Pickled, usize), ImportError> {
        unpickle(&[&[0x80, 2][..], body].concat(), 0)
    }

    fn ints(p: &Pickled) -> Vec<i128> {
        let Value::Tuple(t) = &p.root else { panic!("{:?}", p.root) };
        t.items.iter().map(|v| if let Value::Int(i) = v { *i } else { -999 }).collect()
    }

    #[test]
    fn integers() {
        let (p, end) = run(b"(\x8a\x01\xff\x8a\x00\x8a\x02\x00\x80J\xfe\xff\xff\xffM\xff\xffK\x07t.").unwrap();
        assert_eq!(ints(&p), [-1, 0, -32768, -2, 65535, 7]);
        assert_eq!(end, 24);
        let long4 = [&b"(\x8b\x11\x00\x00\x00"[..], &[1; 17], b"\x8b\x01\x00\x00\x00\x05t."].concat();
        let (p, _) = run(&long4).unwrap();
        let Value::Tuple(t) = &p.root else { panic!() };
        assert!(matches!(t.items[..], [Value::BigInt, Value::Int(5)]));
        assert!(run(b"\x8b\xff\xff\xff\xff.").is_err());
    }

    #[test]
    fn strings_bytes_floats_and_stack_ops() {
        let (p, _) = run(b"(U\x02\xe9aC\x01xG\x00\x00\x00\x00\x00\x00\x00\x00N200t.").unwrap();
        let Value::Tuple(t) = &p.root else { panic!() };
        let kinds: Vec<&str> = t.items.iter().map(Value::kind).collect();
        assert_eq!(kinds, ["str", "bytes", "float"]);
        assert!(matches!(&t.items[0], Value::Str(s) if &**s == "\u{e9}a"));
        // POP with only a mark above the floor pops the mark.
        let (p, _) = run(b"K\x01(0.").unwrap();
        assert!(matches!(p.root, Value::Int(1)));
        let (p, _) = run(b"K\x01(K\x02K\x031.").unwrap();
        assert!(matches!(p.root, Value::Int(1)));
    }

    #[test]
    fn protocol4_frames_memoize_stack_global_newobj() {
        let body =
            b"\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x0bcollections\x94\x8c\x0bOrderedDict\x94\x93\x94)\x81\x94h\x03K\x01\x8c\x01ks.";
        let (p, _) = run(body).unwrap();
        let Value::Dict(id) = p.root else { panic!("{:?}", p.root) };
        assert_eq!(p.heap.dict(id).len(), 1);
        // BUILD on a dict (OrderedDict `_metadata`) is accepted and ignored.
        assert!(run(b"}}b.").is_ok());
        assert!(run(b"]}b.").is_err());
    }

    #[test]
    fn memo_and_stop_errors() {
        assert!(run(b"K\x01q\x05h\x05\x86.").is_ok());
        assert!(run(b"q\x00.").unwrap_err().to_string().contains("stack underflow"));
        assert!(run(b"j\x00\x00\x00\x01.").unwrap_err().to_string().contains("memo entry 16777216"));
        assert!(run(b".").unwrap_err().to_string().contains("stack underflow"));
        assert!(unpickle(&[0x80, 6, b'N', b'.'], 0).unwrap_err().to_string().contains("protocol 6"));
        assert!(run(b"").unwrap_err().to_string().starts_with("truncated file"));
    }
}
