//! The state of the safe unpickler and its checked primitive operations: reading
//! bytes, the stack and its marks, the memo, and building containers.
//!
//! Owns: the pickle opcodes' stack machine. Must not touch: globals beyond the allowed list.

use super::ImportError;
use super::globals::resolve_global;
use super::value::{Container, Fault, Heap, MAX_DEPTH, StorageRef, Tuple, Value};
use std::collections::HashMap;
use std::rc::Rc;

/// Most memo entries a pickle may define.
pub(crate) const MAX_MEMO: usize = 1 << 22;

pub(crate) struct Machine<'a> {
    pub data: &'a [u8],
    pub pos: usize,
    pub op_pos: usize,
    pub stack: Vec<Value>,
    pub marks: Vec<usize>,
    pub memo: HashMap<u32, Value>,
    pub heap: Heap,
    pub storages: Vec<Rc<StorageRef>>,
}

impl<'a> Machine<'a> {
    pub fn err(&self, msg: impl Into<String>) -> ImportError {
        ImportError::Pickle { offset: self.op_pos, msg: msg.into() }
    }

    pub fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], ImportError> {
        let left = self.data.len().saturating_sub(self.pos);
        match usize::try_from(n) {
            Ok(n) if n <= left => {
                let s = &self.data[self.pos..self.pos + n];
                self.pos += n;
                Ok(s)
            }
            _ => Err(ImportError::Truncated {
                what: format!("the pickle ends inside {what} (needs {n} bytes, {left} left)"),
                offset: self.op_pos,
            }),
        }
    }

    pub fn arr<const N: usize>(&mut self, what: &str) -> Result<[u8; N], ImportError> {
        let s = self.take(N as u64, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn line(&mut self, what: &str) -> Result<&'a str, ImportError> {
        let rest = &self.data[self.pos.min(self.data.len())..];
        let Some(n) = rest.iter().take(1024).position(|&b| b == b'\n') else {
            return Err(if rest.len() < 1024 {
                ImportError::Truncated { what: format!("the pickle ends inside {what}"), offset: self.op_pos }
            } else {
                self.err(format!("{what} longer than 1024 bytes"))
            });
        };
        self.pos += n + 1;
        std::str::from_utf8(&rest[..n]).map_err(|_| self.err(format!("{what} is not UTF-8")))
    }

    pub fn floor(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    pub fn push(&mut self, v: Value) {
        self.stack.push(v);
    }

    pub fn pop(&mut self) -> Result<Value, ImportError> {
        if self.stack.len() <= self.floor() {
            return Err(self.err("stack underflow"));
        }
        self.stack.pop().ok_or_else(|| self.err("stack underflow"))
    }

    pub fn top(&self) -> Result<&Value, ImportError> {
        if self.stack.len() <= self.floor() {
            return Err(self.err("stack underflow"));
        }
        self.stack.last().ok_or_else(|| self.err("stack underflow"))
    }

    pub fn pop_mark(&mut self) -> Result<Vec<Value>, ImportError> {
        let mark = self.marks.pop().ok_or_else(|| self.err("no MARK on the stack"))?;
        Ok(self.stack.split_off(mark.min(self.stack.len())))
    }

    pub fn fault(&self, f: Fault) -> ImportError {
        match f {
            Fault::TooDeep => ImportError::TooDeep { limit: MAX_DEPTH },
            Fault::Malformed(msg) => self.err(msg),
        }
    }

    pub fn tuple(&self, items: Vec<Value>) -> Result<Value, ImportError> {
        let depth = 1 + items.iter().map(|v| self.heap.depth(v)).max().unwrap_or(0);
        if depth > MAX_DEPTH {
            return Err(ImportError::TooDeep { limit: MAX_DEPTH });
        }
        Ok(Value::Tuple(Rc::new(Tuple { items, depth })))
    }

    pub fn new_container(&mut self, c: Container, items: Vec<Value>) -> Result<Value, ImportError> {
        let is_list = matches!(c, Container::List(_));
        let id = self.heap.alloc(c, 1);
        self.heap.extend(id, items).map_err(|f| self.fault(f))?;
        Ok(if is_list { Value::List(id) } else { Value::Dict(id) })
    }

    /// Adds `items` to the list or dict on top of the stack.
    pub fn add_to_top(&mut self, items: Vec<Value>, want_dict: bool) -> Result<(), ImportError> {
        let id = match (self.top()?, want_dict) {
            (Value::List(id), false) | (Value::Dict(id), true) => *id,
            (other, _) => {
                let want = if want_dict { "dict" } else { "list" };
                return Err(self.err(format!("adding items to a {}, not a {want}", other.kind())));
            }
        };
        self.heap.extend(id, items).map_err(|f| self.fault(f))
    }

    pub fn memo_put(&mut self, idx: u32) -> Result<(), ImportError> {
        let v = self.top()?.clone();
        if self.memo.len() >= MAX_MEMO && !self.memo.contains_key(&idx) {
            return Err(self.err(format!("more than {MAX_MEMO} memo entries")));
        }
        self.memo.insert(idx, v);
        Ok(())
    }

    pub fn memo_get(&mut self, idx: u32) -> Result<(), ImportError> {
        let v = self.memo.get(&idx).cloned();
        let v = v.ok_or_else(|| self.err(format!("memo entry {idx} is not defined")))?;
        self.push(v);
        Ok(())
    }

    pub fn string(&mut self, n: u64, what: &str) -> Result<Value, ImportError> {
        let bytes = self.take(n, what)?;
        let s = std::str::from_utf8(bytes).map_err(|_| self.err("string is not valid UTF-8"))?;
        Ok(Value::Str(s.into()))
    }

    pub fn long(&mut self, n: u64, what: &str) -> Result<Value, ImportError> {
        let b = self.take(n, what)?;
        if b.len() > 16 {
            return Ok(Value::BigInt);
        }
        let neg = b.last().is_some_and(|&x| x & 0x80 != 0);
        let mut le = [if neg { 0xff } else { 0 }; 16];
        le[..b.len()].copy_from_slice(b);
        Ok(Value::Int(i128::from_le_bytes(le)))
    }

    pub fn global(&mut self, module: &str, name: &str) -> Result<(), ImportError> {
        let g = resolve_global(module, name)?;
        self.push(Value::Global(g));
        Ok(())
    }
}
