//! Turning a `_rebuild_tensor_v2` description into contiguous bytes, with every size,
//! stride and offset checked against the storage it addresses.
//!
//! Owns: storages and strided views to tensors. Must not touch: the pickle machine.

use super::value::TensorSpec;
use super::{ImportError, RawTensor};

/// Most dimensions a tensor may have (PyTorch itself stops at 64 in most kernels).
pub(crate) const MAX_DIMS: usize = 64;

/// How many bytes an import may produce (tensor data, names, inflated storages):
/// a small multiple of the input, so that stride-0 views, shared storages or a
/// compressed archive can never make a few bytes of input allocate gigabytes.
#[derive(Debug)]
pub(crate) struct Budget {
    left: u64,
    limit: u64,
}

impl Budget {
    pub fn for_input(len: usize) -> Self {
        let limit = (64u64 << 20).saturating_add((len as u64).saturating_mul(4));
        Budget { left: limit, limit }
    }

    pub fn take(&mut self, n: u64) -> Result<(), ImportError> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(ImportError::TooLarge { need: (self.limit - self.left).saturating_add(n), limit: self.limit }),
        }
    }
}

/// A vector of `n` bytes' capacity, or an error instead of an abort when that fails.
pub(crate) fn alloc(n: u64) -> Result<Vec<u8>, ImportError> {
    let mut v = Vec::new();
    usize::try_from(n)
        .ok()
        .and_then(|n| v.try_reserve_exact(n).ok())
        .ok_or(ImportError::TooLarge { need: n, limit: n.saturating_sub(1) })?;
    Ok(v)
}

fn dims(tensor: &str, what: &str, v: &[i128]) -> Result<Vec<u64>, ImportError> {
    v.iter()
        .enumerate()
        .map(|(i, &x)| {
            u64::try_from(x)
                .map_err(|_| ImportError::BadTensor { tensor: tensor.to_string(), msg: format!("{what} {x} in dimension {i} is invalid") })
        })
        .collect()
}

/// Copies the elements `spec` addresses in `storage` into a contiguous row-major tensor.
pub(crate) fn materialize(
    name: String,
    spec: &TensorSpec,
    storage: &[u8],
    big_endian: bool,
    budget: &mut Budget,
) -> Result<RawTensor, ImportError> {
    let bad = |msg: String| ImportError::BadTensor { tensor: name.clone(), msg };
    let dtype = spec.dtype;
    let es = dtype.size() as u64;
    if spec.size.len() != spec.stride.len() {
        let (a, b) = (spec.size.len(), spec.stride.len());
        return Err(bad(format!("{a} sizes but {b} strides")));
    }
    if spec.size.len() > MAX_DIMS {
        return Err(bad(format!("{} dimensions (at most {MAX_DIMS})", spec.size.len())));
    }
    let size = dims(&name, "size", &spec.size)?;
    let stride = dims(&name, "stride", &spec.stride)?;
    let offset = u64::try_from(spec.offset).map_err(|_| bad(format!("storage offset {} is invalid", spec.offset)))?;
    let overflow = || bad(format!("shape {size:?} is too large"));
    let numel = size.iter().try_fold(1u64, |a, &d| a.checked_mul(d)).ok_or_else(overflow)?;
    let nbytes = numel.checked_mul(es).ok_or_else(overflow)?;
    budget.take(nbytes.saturating_add(name.len() as u64))?;
    let mut data = alloc(nbytes)?;
    if numel > 0 {
        // Highest element addressed: offset + sum((size - 1) * stride).
        let last = size.iter().zip(&stride).try_fold(offset, |acc, (&d, &s)| (d - 1).checked_mul(s).and_then(|x| acc.checked_add(x)));
        let need = last.and_then(|l| l.checked_add(1)).and_then(|n| n.checked_mul(es));
        let need = need.ok_or_else(|| bad(format!("strides {stride:?} overflow")))?;
        if need > storage.len() as u64 {
            return Err(ImportError::StorageTooSmall { key: spec.storage.key.to_string(), tensor: name, have: storage.len() as u64, need });
        }
        // Every index below is at most `last`, so the arithmetic cannot overflow.
        let (es, offset) = (es as usize, offset as usize);
        let kept: Vec<(usize, usize)> =
            size.iter().zip(&stride).filter(|(d, _)| **d != 1).map(|(&d, &s)| (d as usize, s as usize)).collect();
        gather(storage, offset, &kept, es, &mut data);
    }
    if big_endian && es > 1 {
        data.chunks_exact_mut(es as usize).for_each(<[u8]>::reverse);
    }
    let shape = size.iter().map(|&d| d as usize).collect();
    Ok(RawTensor { name, dtype, shape, data })
}

/// Appends the elements at `offset + sum(i_k * stride_k)` in row-major order of
/// `dims` (pairs of size and stride, none of size 1) to `out`. Bounds are checked.
fn gather(storage: &[u8], offset: usize, dims: &[(usize, usize)], es: usize, out: &mut Vec<u8>) {
    let mut expect = 1;
    let contiguous = dims.iter().rev().all(|&(d, s)| {
        let ok = s == expect;
        expect *= d;
        ok
    });
    if contiguous {
        let n = dims.iter().map(|&(d, _)| d).product::<usize>();
        out.extend_from_slice(&storage[offset * es..(offset + n) * es]);
        return;
    }
    let (outer, (inner, inner_stride)) = match dims.split_last() {
        Some((&last, outer)) => (outer, last),
        None => (dims, (1, 1)),
    };
    let mut idx = vec![0usize; outer.len()];
    loop {
        let base = offset + idx.iter().zip(outer).map(|(&i, &(_, s))| i * s).sum::<usize>();
        if inner_stride == 1 {
            out.extend_from_slice(&storage[base * es..(base + inner) * es]);
        } else {
            for j in 0..inner {
                let e = (base + j * inner_stride) * es;
                out.extend_from_slice(&storage[e..e + es]);
            }
        }
        let mut k = outer.len();
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            idx[k] += 1;
            if idx[k] < outer[k].0 {
                break;
            }
            idx[k] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::RawDtype;
    use crate::import::value::StorageRef;
    use std::rc::Rc;

    fn spec(offset: i128, size: &[i128], stride: &[i128]) -> TensorSpec {
        let storage = Rc::new(StorageRef { dtype: RawDtype::U8, key: "0".into(), numel: 0, view: None });
        TensorSpec { storage, dtype: RawDtype::U8, offset, size: size.to_vec(), stride: stride.to_vec() }
    }

    fn run(s: &TensorSpec, storage: &[u8]) -> Result<RawTensor, ImportError> {
        materialize("t".into(), s, storage, false, &mut Budget::for_input(0))
    }

    #[test]
    fn transposed_view_with_offset() {
        let storage: Vec<u8> = (0..12).collect();
        // arange(12).reshape(3,4).t(): size (4,3), stride (1,4).
        let t = run(&spec(0, &[4, 3], &[1, 4]), &storage).unwrap();
        assert_eq!(t.data, [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
        assert_eq!(t.shape, [4, 3]);
        // x[1:, 1:3]: offset 5, size (2,2), stride (4,1).
        assert_eq!(run(&spec(5, &[2, 2], &[4, 1]), &storage).unwrap().data, [5, 6, 9, 10]);
        // Broadcast (stride 0) and scalars.
        assert_eq!(run(&spec(2, &[2, 3], &[0, 1]), &storage).unwrap().data, [2, 3, 4, 2, 3, 4]);
        assert_eq!(run(&spec(7, &[], &[]), &storage).unwrap().data, [7]);
        assert_eq!(run(&spec(99, &[0, 5], &[5, 1]), &storage).unwrap().data, [0u8; 0]);
        assert_eq!(run(&spec(0, &[1, 3, 1], &[9, 2, 9]), &storage).unwrap().data, [0, 2, 4]);
    }

    #[test]
    fn out_of_bounds_negative_and_overflow() {
        let storage = [0u8; 12];
        let e = run(&spec(0, &[4, 4], &[4, 1]), &storage).unwrap_err();
        assert_eq!(e.to_string(), "storage 0 is 12 bytes but tensor t needs 16");
        assert!(run(&spec(12, &[], &[]), &storage).is_err());
        assert!(run(&spec(0, &[-1], &[1]), &storage).unwrap_err().to_string().contains("size -1"));
        assert!(run(&spec(0, &[2], &[-1]), &storage).is_err());
        assert!(run(&spec(-1, &[1], &[1]), &storage).is_err());
        let big = i128::from(u64::MAX);
        assert!(run(&spec(0, &[big, big], &[1, 1]), &storage).unwrap_err().to_string().contains("too large"));
        assert!(run(&spec(0, &[2, 2], &[big, 1]), &storage).unwrap_err().to_string().contains("overflow"));
        assert!(run(&spec(0, &[1 << 40], &[0]), &storage).is_err()); // budget
        assert!(run(&spec(0, &[2, 2], &[1]), &storage).is_err());
        assert!(run(&spec(0, &[1; 65], &[1; 65]), &storage).is_err());
    }
}
