//! Constants computed at load: the shape arithmetic exporters write around a node whose
//! attributes are tensors (F.pad's pads, built with ConstantOfShape, Reshape, Slice and
//! Transpose of small integer tensors). The batch, where a folded shape holds it, is a
//! symbolic value that may be moved but never computed with.
//!
//! Owns: folding constant tensors. Must not touch: graph nodes, protobuf.

use super::tensor::{Tensor, Values};

/// The most values a folded constant may hold.
const MOST: usize = 1 << 24;

/// The values of `t` at the flat indices `idx`, as a tensor of shape `shape`.
fn pick(t: &Tensor, idx: &[usize], shape: Vec<usize>) -> Tensor {
    let values = match &t.values {
        Values::Float(v) => Values::Float(idx.iter().map(|&i| v[i]).collect()),
        Values::Int(v) => Values::Int(idx.iter().map(|&i| v[i]).collect()),
    };
    Tensor { shape, values }
}

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Every flat index of a tensor of `strides`, for the index lists `per_axis` (one per axis).
fn gather(per_axis: &[Vec<usize>], strides: &[usize]) -> Vec<usize> {
    let mut out = vec![0usize];
    for (list, &s) in per_axis.iter().zip(strides) {
        out = out.iter().flat_map(|&base| list.iter().map(move |&i| base + i * s)).collect();
    }
    out
}

/// ONNX's Transpose of a constant by `perm` (reversed axes when `None`).
pub fn transpose(t: &Tensor, perm: Option<&[i64]>) -> Result<Tensor, String> {
    let rank = t.shape.len();
    let perm: Vec<usize> = match perm {
        None => (0..rank).rev().collect(),
        Some(p) => p
            .iter()
            .map(|&a| usize::try_from(a).ok().filter(|&a| a < rank).ok_or(format!("perm {p:?} for rank {rank}")))
            .collect::<Result<_, _>>()?,
    };
    let mut sorted = perm.clone();
    sorted.sort_unstable();
    if sorted != (0..rank).collect::<Vec<_>>() {
        return Err(format!("perm {perm:?} is not a permutation of {rank} axes"));
    }
    let s = strides(&t.shape);
    let per_axis: Vec<Vec<usize>> = perm.iter().map(|&a| (0..t.shape[a]).collect()).collect();
    let axis_strides: Vec<usize> = perm.iter().map(|&a| s[a]).collect();
    Ok(pick(t, &gather(&per_axis, &axis_strides), perm.iter().map(|&a| t.shape[a]).collect()))
}

/// ONNX's Slice of a constant: `starts`, `ends`, `axes` (all when `None`) and `steps` (1s when `None`).
pub fn slice(t: &Tensor, starts: &[i64], ends: &[i64], axes: Option<&[i64]>, steps: Option<&[i64]>) -> Result<Tensor, String> {
    let rank = t.shape.len() as i64;
    let axes: Vec<i64> = axes.map_or_else(|| (0..starts.len() as i64).collect(), |a| a.to_vec());
    let steps: Vec<i64> = steps.map_or_else(|| vec![1; starts.len()], |s| s.to_vec());
    if ends.len() != starts.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err("Slice's starts, ends, axes and steps differ in length".into());
    }
    let mut per_axis: Vec<Vec<usize>> = t.shape.iter().map(|&d| (0..d).collect()).collect();
    for j in 0..starts.len() {
        let a = if axes[j] < 0 { axes[j] + rank } else { axes[j] };
        if !(0..rank).contains(&a) || steps[j] == 0 {
            return Err(format!("Slice along axis {} with step {} of a rank-{rank} constant", axes[j], steps[j]));
        }
        let dim = t.shape[a as usize] as i64;
        let norm = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
        let (step, mut list) = (steps[j], Vec::new());
        if step > 0 {
            let (mut i, end) = (norm(starts[j]).clamp(0, dim), norm(ends[j]).clamp(0, dim));
            while i < end {
                list.push(i as usize);
                i += step;
            }
        } else {
            let (mut i, end) = (norm(starts[j]).clamp(0, dim - 1), norm(ends[j]).clamp(-1, dim - 1));
            while i > end {
                list.push(i as usize);
                i += step;
            }
        }
        per_axis[a as usize] = list;
    }
    let shape = per_axis.iter().map(|l| l.len()).collect();
    Ok(pick(t, &gather(&per_axis, &strides(&t.shape)), shape))
}

/// ONNX's ConstantOfShape: `shape` filled with `value`'s one value (a float 0 when `None`).
pub fn constant_of_shape(shape: &[i64], value: Option<&Tensor>) -> Result<Tensor, String> {
    if shape.iter().any(|&d| d < 0) {
        return Err(format!("ConstantOfShape of shape {shape:?}, which depends on the batch or is negative"));
    }
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let n = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MOST)
        .ok_or(format!("ConstantOfShape of shape {shape:?} is too large"))?;
    let values = match value {
        None => Values::Float(vec![0.0; n]),
        Some(v) if v.len() == 1 => match &v.values {
            Values::Float(x) => Values::Float(vec![x[0]; n]),
            Values::Int(x) => Values::Int(vec![x[0]; n]),
        },
        Some(v) => return Err(format!("ConstantOfShape's value has {} values, not 1", v.len())),
    };
    Ok(Tensor { shape: dims, values })
}

/// ONNX's Reshape of a constant to `target` (0 keeps a dimension, -1 takes the rest).
pub fn reshape(t: &Tensor, target: &[i64]) -> Result<Tensor, String> {
    let len = t.len();
    let mut dims: Vec<usize> = Vec::with_capacity(target.len());
    let mut rest = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            0 => dims.push(*t.shape.get(i).ok_or(format!("Reshape of a constant of shape {:?} to {target:?}", t.shape))?),
            -1 if rest.is_none() => {
                rest = Some(i);
                dims.push(1);
            }
            d if d > 0 => dims.push(d as usize),
            _ => return Err(format!("Reshape of a constant to {target:?}")),
        }
    }
    let known: usize = dims.iter().product();
    if let Some(i) = rest {
        if known == 0 || !len.is_multiple_of(known) {
            return Err(format!("Reshape of a constant of shape {:?} to {target:?}", t.shape));
        }
        dims[i] = len / known;
    }
    if dims.iter().product::<usize>() != len {
        return Err(format!("Reshape of a constant of shape {:?} to {target:?}", t.shape));
    }
    Ok(Tensor { shape: dims, values: t.values.clone() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(shape: &[usize], v: &[i64]) -> Tensor {
        Tensor { shape: shape.to_vec(), values: Values::Int(v.to_vec()) }
    }

    /// F.pad's pads as the TorchScript exporter computes them: (left, right, top, bottom) of
    /// the last two axes, padded to 4 axes, reshaped to (-1, 2), reversed, transposed, flattened.
    #[test]
    fn folds_pytorch_pad_arithmetic() {
        let pads = ints(&[4], &[1, 2, 0, 1]);
        let zeros = constant_of_shape(&[4], Some(&ints(&[1], &[0]))).unwrap();
        let all = ints(&[8], &[pads.ints().unwrap(), zeros.ints().unwrap()].concat());
        let pairs = reshape(&all, &[-1, 2]).unwrap();
        assert_eq!(pairs.shape, [4, 2]);
        let reversed = slice(&pairs, &[-1], &[i64::MIN + 1], Some(&[0]), Some(&[-1])).unwrap();
        assert_eq!(reversed.ints().unwrap(), [0, 0, 0, 0, 0, 1, 1, 2]);
        let t = transpose(&reversed, Some(&[1, 0])).unwrap();
        assert_eq!(reshape(&t, &[-1]).unwrap().ints().unwrap(), [0, 0, 0, 1, 0, 0, 1, 2]);
        assert!(constant_of_shape(&[1 << 40], None).is_err());
        assert!(transpose(&pairs, Some(&[0, 0])).is_err());
    }
}
