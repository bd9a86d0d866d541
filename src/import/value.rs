//! Values of the safe unpickler: plain data, the few allowed torch globals, storage
//! references (persistent ids) and tensor descriptions. Nothing here can run code.
//!
//! Lists and dicts live in a [`Heap`] and are referred to by index, so shared and even
//! cyclic references (which a hostile pickle can build) cost nothing and leak nothing.
//!
//! Owns: the pickle values. Must not touch: files.

use super::RawDtype;
use std::rc::Rc;

/// Deepest nesting of tuples, lists, dicts and marks that a pickle may use.
pub(crate) const MAX_DEPTH: usize = 256;

#[derive(Clone, Debug)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i128),
    /// An integer wider than 128 bits; its value is never needed.
    BigInt,
    /// A float or a bytes object: never needed, so only its kind is kept.
    Float,
    Str(Rc<str>),
    Bytes,
    Tuple(Rc<Tuple>),
    List(usize),
    Dict(usize),
    Global(Global),
    Storage(Rc<StorageRef>),
    Tensor(Rc<TensorSpec>),
}

#[derive(Debug)]
pub(crate) struct Tuple {
    pub items: Vec<Value>,
    pub depth: usize,
}

/// The only globals a pickle may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Global {
    RebuildTensor,
    RebuildTensorV2,
    RebuildTensorV3,
    RebuildParameter,
    RebuildParameterWithState,
    OrderedDict,
    Storage(RawDtype),
    UntypedStorage,
    Dtype(RawDtype),
}

/// A storage named by a persistent id.
#[derive(Debug)]
pub(crate) struct StorageRef {
    pub dtype: RawDtype,
    pub key: Rc<str>,
    pub numel: i128,
    /// Legacy view of the root storage: (offset, numel), in elements.
    pub view: Option<(i128, i128)>,
}

/// What `_rebuild_tensor_v2`/`_v3` was given; checked when the tensor is materialized.
#[derive(Debug)]
pub(crate) struct TensorSpec {
    pub storage: Rc<StorageRef>,
    /// The storage's dtype (v2), or the one passed separately (v3, untyped storage).
    pub dtype: RawDtype,
    pub offset: i128,
    pub size: Vec<i128>,
    pub stride: Vec<i128>,
}

/// Why a heap operation failed.
#[derive(Debug)]
pub(crate) enum Fault {
    TooDeep,
    Malformed(String),
}

#[derive(Debug)]
pub(crate) enum Container {
    List(Vec<Value>),
    Dict(Vec<(Value, Value)>),
}

/// Storage for lists and dicts, with the nesting depth of each.
#[derive(Debug, Default)]
pub(crate) struct Heap {
    items: Vec<(Container, usize)>,
}

impl Heap {
    pub fn alloc(&mut self, c: Container, depth: usize) -> usize {
        self.items.push((c, depth));
        self.items.len() - 1
    }

    pub fn get(&self, id: usize) -> Option<&Container> {
        self.items.get(id).map(|(c, _)| c)
    }

    pub fn dict(&self, id: usize) -> &[(Value, Value)] {
        match self.get(id) {
            Some(Container::Dict(d)) => d,
            _ => &[],
        }
    }

    /// Nesting depth of a value (0 for scalars).
    pub fn depth(&self, v: &Value) -> usize {
        match v {
            Value::Tuple(t) => t.depth,
            Value::List(id) | Value::Dict(id) => self.items.get(*id).map_or(0, |(_, d)| *d),
            _ => 0,
        }
    }

    /// Adds `vals` to the list or dict `id` (pairs for a dict), updating its depth.
    pub fn extend(&mut self, id: usize, vals: Vec<Value>) -> Result<(), Fault> {
        let inner = vals.iter().map(|v| self.depth(v)).max().unwrap_or(0);
        let Some((c, depth)) = self.items.get_mut(id) else {
            return Err(Fault::Malformed("dangling container".into()));
        };
        *depth = (*depth).max(inner + 1);
        if *depth > MAX_DEPTH {
            return Err(Fault::TooDeep);
        }
        match c {
            Container::List(l) => l.extend(vals),
            Container::Dict(d) => {
                if !vals.len().is_multiple_of(2) {
                    return Err(Fault::Malformed("odd number of items for a dict".into()));
                }
                let mut it = vals.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.push((k, v));
                }
            }
        }
        Ok(())
    }
}

impl Value {
    /// Short description for error messages (never the value itself: it may be huge).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt => "int",
            Value::Float => "float",
            Value::Str(_) => "str",
            Value::Bytes => "bytes",
            Value::Tuple(_) => "tuple",
            Value::List(_) => "list",
            Value::Dict(_) => "dict",
            Value::Global(_) => "global",
            Value::Storage(_) => "storage",
            Value::Tensor(_) => "tensor",
        }
    }
}

fn int_arg(v: &Value, what: &str) -> Result<i128, String> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(i128::from(*b)),
        other => Err(format!("{what} is a {}, expected an int", other.kind())),
    }
}

fn int_tuple(v: &Value, what: &str) -> Result<Vec<i128>, String> {
    match v {
        Value::Tuple(t) => t.items.iter().map(|x| int_arg(x, what)).collect(),
        Value::List(_) => Err(format!("{what} is a list, expected a tuple")),
        other => Err(format!("{what} is a {}, expected a tuple", other.kind())),
    }
}

/// Applies an allowed callable (REDUCE / NEWOBJ). Only these few are known.
pub(crate) fn apply(g: Global, args: &[Value], heap: &mut Heap) -> Result<Value, String> {
    match g {
        Global::OrderedDict if args.is_empty() => Ok(Value::Dict(heap.alloc(Container::Dict(Vec::new()), 1))),
        Global::RebuildTensor | Global::RebuildTensorV2 | Global::RebuildTensorV3 => {
            let (min, max) = match g {
                Global::RebuildTensor => (4, 4),
                Global::RebuildTensorV2 => (6, 7),
                _ => (7, 8),
            };
            if args.len() < min || args.len() > max {
                return Err(format!("tensor rebuild given {} arguments", args.len()));
            }
            let Value::Storage(storage) = &args[0] else {
                return Err(format!("tensor rebuilt from a {}, not a storage", args[0].kind()));
            };
            let dtype = match (g, &args.get(6)) {
                (Global::RebuildTensorV3, Some(Value::Global(Global::Dtype(d)))) => *d,
                (Global::RebuildTensorV3, _) => return Err("tensor rebuilt without a dtype".into()),
                _ => storage.dtype,
            };
            let spec = TensorSpec {
                storage: storage.clone(),
                dtype,
                offset: int_arg(&args[1], "storage offset")?,
                size: int_tuple(&args[2], "tensor size")?,
                stride: int_tuple(&args[3], "tensor stride")?,
            };
            Ok(Value::Tensor(Rc::new(spec)))
        }
        Global::RebuildParameter | Global::RebuildParameterWithState => {
            let n = if g == Global::RebuildParameter { 3 } else { 4 };
            match args {
                [t @ Value::Tensor(_), ..] if args.len() == n => Ok(t.clone()),
                _ => Err("parameter rebuilt from something other than a tensor".into()),
            }
        }
        other => Err(format!("cannot call {other:?} here")),
    }
}

/// Turns a persistent id `('storage', type, key, location, numel[, view])` into a storage.
pub(crate) fn storage_ref(pid: &Value) -> Result<Value, String> {
    let Value::Tuple(t) = pid else {
        return Err(format!("persistent id is a {}, expected a tuple", pid.kind()));
    };
    let items = &t.items;
    if !(5..=6).contains(&items.len()) || !matches!(&items[0], Value::Str(s) if &**s == "storage") {
        return Err("persistent id is not ('storage', type, key, location, numel)".into());
    }
    let dtype = match &items[1] {
        Value::Global(Global::Storage(d) | Global::Dtype(d)) => *d,
        Value::Global(Global::UntypedStorage) => RawDtype::U8,
        other => return Err(format!("storage type is a {}", other.kind())),
    };
    let key: Rc<str> = match &items[2] {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string().into(),
        other => return Err(format!("storage key is a {}", other.kind())),
    };
    let numel = int_arg(&items[4], "storage size")?;
    let view = match items.get(5) {
        None | Some(Value::None) => None,
        Some(Value::Tuple(v)) if v.items.len() == 3 => Some((int_arg(&v.items[1], "view offset")?, int_arg(&v.items[2], "view size")?)),
        Some(other) => return Err(format!("storage view metadata is a {}", other.kind())),
    };
    Ok(Value::Storage(Rc::new(StorageRef { dtype, key, numel, view })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depth_is_tracked_through_containers() {
        let mut heap = Heap::default();
        let mut v = Value::List(heap.alloc(Container::List(vec![]), 1));
        for _ in 0..MAX_DEPTH - 1 {
            let id = heap.alloc(Container::List(vec![]), 1);
            heap.extend(id, vec![v]).unwrap();
            v = Value::List(id);
        }
        assert_eq!(heap.depth(&v), MAX_DEPTH);
        let id = heap.alloc(Container::List(vec![]), 1);
        assert!(heap.extend(id, vec![v]).is_err());
    }
}
