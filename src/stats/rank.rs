//! The top-k ranking of a covariance row: the features that move most with the target.
//!
//! Owns only the order (by magnitude, ties in index order); the values are the caller's, as
//! measured.

use super::FeatureMatrix;

/// One row of the top table.
#[derive(Debug, Clone, PartialEq)]
pub struct TopEntry {
    pub rank: usize,
    pub index: usize,
    pub name: String,
    pub covariance: f32,
}

/// The `top` features with the largest `|cov[target, i]|`, `i != target`, largest first, with
/// their signed covariance. (The notebook takes `topk(top + 1)[1:]`, assuming the target ranks
/// first; excluding it explicitly gives the same list whenever that holds.) Ties keep index order.
///
/// # Panics
/// When `target` is out of range.
pub fn top_in_row(cov: &FeatureMatrix<f32>, target: usize, top: usize) -> Vec<TopEntry> {
    top_of(cov.row(target), cov.names(), target, top)
}

/// [`top_in_row`] of one row, `row[i]` the covariance of feature `i` with the target.
pub(super) fn top_of(row: &[f32], names: &[String], target: usize, top: usize) -> Vec<TopEntry> {
    let mut order: Vec<usize> = (0..row.len()).filter(|&i| i != target).collect();
    order.sort_by(|&a, &b| row[b].abs().total_cmp(&row[a].abs()));
    order
        .into_iter()
        .take(top)
        .enumerate()
        .map(|(rank, index)| TopEntry { rank: rank + 1, index, name: names[index].clone(), covariance: row[index] })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::top_covarying;

    #[test]
    fn ranks_by_magnitude_excluding_target() {
        let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        // Row 1: target's own variance is not the largest, yet it is excluded.
        let cov = [
            1.0, 2.0, 0.0, 0.0, //
            2.0, 1.0, -5.0, 4.0, //
            0.0, -5.0, 9.0, 0.0, //
            0.0, 4.0, 0.0, 9.0,
        ];
        let top = top_covarying(&cov, &names, 1, 3);
        let got: Vec<(usize, f32)> = top.iter().map(|t| (t.index, t.covariance)).collect();
        assert_eq!(got, vec![(2, -5.0), (3, 4.0), (0, 2.0)]);
        assert_eq!(top[0].rank, 1);
        assert_eq!(top[0].name, "c");
        // The typed form ranks the same.
        let m = FeatureMatrix::new(names.clone(), cov.to_vec()).unwrap();
        assert_eq!(top_in_row(&m, 1, 3), top);
        assert_eq!(top_in_row(&m, 1, 10).len(), 3, "at most the other features");
    }

    #[test]
    fn ties_keep_index_order() {
        let names: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let mut cov = vec![0.0f32; 16];
        cov[4..8].copy_from_slice(&[-3.0, 7.0, 3.0, -3.0]);
        let m = FeatureMatrix::new(names, cov).unwrap();
        let got: Vec<usize> = top_in_row(&m, 1, 3).iter().map(|t| t.index).collect();
        assert_eq!(got, vec![0, 2, 3]);
    }
}
