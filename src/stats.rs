//! Stage 4 of the pipeline: the covariance matrix -> the features that move most with the target.

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
pub fn top_covarying(cov: &[f32], names: &[String], target: usize, top: usize) -> Vec<TopEntry> {
    let f = names.len();
    let row = &cov[target * f..(target + 1) * f];
    let mut order: Vec<usize> = (0..f).filter(|&i| i != target).collect();
    order.sort_by(|&a, &b| row[b].abs().total_cmp(&row[a].abs()));
    order
        .into_iter()
        .take(top)
        .enumerate()
        .map(|(rank, index)| TopEntry { rank: rank + 1, index, name: names[index].clone(), covariance: row[index] })
        .collect()
}

/// The correlation matrix of a covariance matrix (`cov[i, j] / sqrt(cov[i, i] cov[j, j])`).
pub fn correlation(cov: &[f32], f: usize) -> Vec<f32> {
    let sd: Vec<f64> = (0..f).map(|i| (cov[i * f + i] as f64).sqrt()).collect();
    (0..f * f)
        .map(|k| {
            let d = sd[k / f] * sd[k % f];
            if d > 0.0 { (cov[k] as f64 / d) as f32 } else { 0.0 }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
