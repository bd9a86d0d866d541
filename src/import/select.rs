//! Finding the state dict inside the checkpoint's top-level object.
//!
//! Owns: finding the state dict in a checkpoint. Must not touch: tensors' bytes.

use super::ImportError;
use super::globals::printable;
use super::pickle::Pickled;
use super::tensor::Budget;
use super::value::{Heap, TensorSpec, Value};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

fn has_tensors(heap: &Heap, v: &Value) -> bool {
    match v {
        Value::Dict(id) => heap.dict(*id).iter().any(|(_, v)| matches!(v, Value::Tensor(_))),
        _ => false,
    }
}

fn key_name(k: &Value) -> String {
    match k {
        Value::Str(s) => format!("{:?}", printable(s)),
        Value::Int(i) => i.to_string(),
        other => format!("<{}>", other.kind()),
    }
}

/// A short list of keys for messages: at most 20 of them.
fn list_keys<'a>(keys: impl Iterator<Item = &'a Value>) -> String {
    let mut names: Vec<String> = keys.take(21).map(key_name).collect();
    if names.len() > 20 {
        names[20] = "...".into();
    }
    if names.is_empty() { "none".into() } else { names.join(", ") }
}

/// The tensors of the state dict in `p`, with their names, in file order.
pub(crate) fn state_dict(p: &Pickled, key: Option<&str>, budget: &mut Budget) -> Result<Vec<(String, Rc<TensorSpec>)>, ImportError> {
    let heap = &p.heap;
    let Value::Dict(root) = &p.root else {
        return Err(ImportError::NotADict { found: p.root.kind().into() });
    };
    let top = heap.dict(*root);
    let (label, sd) = if let Some(want) = key {
        let found = top.iter().find(|(k, _)| matches!(k, Value::Str(s) if &**s == want));
        let Some((_, v)) = found else {
            let keys = list_keys(top.iter().map(|(k, _)| k));
            return Err(ImportError::KeyNotFound { key: want.into(), keys });
        };
        let Value::Dict(id) = v else {
            return Err(ImportError::KeyNotADict { key: want.into(), found: v.kind().into() });
        };
        (want.to_string(), *id)
    } else if has_tensors(heap, &p.root) {
        ("<top level>".to_string(), *root)
    } else {
        // Each dict is scanned once, however often a hostile pickle refers to it.
        let mut scanned: HashMap<usize, bool> = HashMap::new();
        let candidates: Vec<&(Value, Value)> = top
            .iter()
            .filter(|(_, v)| match v {
                Value::Dict(id) => *scanned.entry(*id).or_insert_with(|| has_tensors(heap, v)),
                _ => false,
            })
            .collect();
        match candidates.as_slice() {
            [(k, Value::Dict(id))] => (key_name(k), *id),
            [] => {
                return Err(ImportError::NoStateDict { keys: list_keys(top.iter().map(|(k, _)| k)) });
            }
            many => {
                let keys = list_keys(many.iter().map(|(k, _)| k));
                return Err(ImportError::AmbiguousStateDict { keys });
            }
        }
    };
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (k, v) in heap.dict(sd) {
        let Value::Tensor(spec) = v else { continue };
        let Value::Str(name) = k else {
            return Err(ImportError::NonStringKey { found: key_name(k) });
        };
        budget.take(name.len() as u64)?;
        if !seen.insert(name.clone()) {
            return Err(ImportError::DuplicateName { name: printable(name) });
        }
        out.push((name.to_string(), spec.clone()));
    }
    if out.is_empty() {
        return Err(ImportError::NoTensors { key: label });
    }
    Ok(out)
}
