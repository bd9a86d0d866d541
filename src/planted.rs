//! The planted truth of a synthetic world (`weights/demo-world.json`), and how well a probe
//! recovered it: the measured correlation row of the target against the planted one.
//!
//! The bundled demo weights were trained on a world whose label correlations were planted
//! through a few latent factors; this module reads that record and grades a probe against it.
//! The statistics of the grading (Pearson) are [`crate::stats`]'s; it must not touch the
//! probe, the backend or the command line.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::stats::pearson;

#[derive(Debug, thiserror::Error)]
pub enum PlantedError {
    #[error("cannot read {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a world description")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: planted_correlation is {rows} rows of {cols:?} values, expected {n} x {n} for its {n} features")]
    Shape { path: String, rows: usize, cols: Vec<usize>, n: usize },
    #[error("{path} describes features {theirs}, but the classifier outputs {ours}")]
    Features { path: String, theirs: String, ours: String },
}

/// One latent factor and the features it loads on.
#[derive(Debug, Clone, Deserialize)]
pub struct Factor {
    pub name: String,
    pub loadings: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PlantedWorld {
    pub features: Vec<String>,
    pub factors: Vec<Factor>,
    /// The label correlation matrix measured on the training set, `features x features`.
    pub planted_correlation: Vec<Vec<f64>>,
}

/// How a probe's measured correlation row compares with the planted row (other features only).
#[derive(Debug, Clone, PartialEq)]
pub struct Recovery {
    /// Pearson correlation of the measured and planted rows over the other features.
    pub pearson: f64,
    /// Features whose planted correlation is at least [`SIGN_THRESHOLD`] in magnitude, and
    /// those of them whose measured sign differs.
    pub sign_checked: usize,
    pub sign_wrong: Vec<String>,
    /// The planted top 5 by magnitude (only entries of at least [`TOP_FLOOR`]: a factor with
    /// fewer partners leaves sampling noise in its top 5), and those missing from the probe's
    /// top 10 (by covariance, as it reports them).
    pub planted_top: Vec<String>,
    pub missing_from_top: Vec<String>,
}

pub const SIGN_THRESHOLD: f64 = 0.2;
pub const PLANTED_TOP: usize = 5;
pub const TOP_FLOOR: f64 = 0.1;
pub const MEASURED_TOP: usize = 10;

impl PlantedWorld {
    pub fn load(path: &Path) -> Result<PlantedWorld, PlantedError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PlantedError::Read { path: p.clone(), source })?;
        let world: PlantedWorld = serde_json::from_str(&text).map_err(|source| PlantedError::Parse { path: p.clone(), source })?;
        let n = world.features.len();
        let m = &world.planted_correlation;
        if m.len() != n || m.iter().any(|r| r.len() != n) {
            let cols = m.iter().map(Vec::len).collect();
            return Err(PlantedError::Shape { path: p, rows: m.len(), cols, n });
        }
        Ok(world)
    }

    /// Checks that the world describes exactly the classifier's features, in order.
    pub fn check_features(&self, names: &[String], path: &Path) -> Result<(), PlantedError> {
        if self.features != names {
            return Err(PlantedError::Features { path: path.display().to_string(), theirs: summary(&self.features), ours: summary(names) });
        }
        Ok(())
    }

    /// Whether any factor loads on feature `i`.
    pub fn carries_factor(&self, i: usize) -> bool {
        self.factors.iter().any(|f| f.loadings.get(&self.features[i]).is_some_and(|&l| l != 0.0))
    }

    /// Grades the measured correlation row of `target` (`row[i]` = measured correlation of
    /// feature `i` with the target) against the planted row; `measured_top` is the probe's
    /// reported top list (largest covariance with the target first).
    pub fn recovery(&self, target: usize, row: &[f64], measured_top: &[usize]) -> Recovery {
        let n = self.features.len();
        let others: Vec<usize> = (0..n).filter(|&i| i != target).collect();
        let planted = &self.planted_correlation[target];
        let xs: Vec<f64> = others.iter().map(|&i| row[i]).collect();
        let ys: Vec<f64> = others.iter().map(|&i| planted[i]).collect();
        let strong: Vec<usize> = others.iter().copied().filter(|&i| planted[i].abs() >= SIGN_THRESHOLD).collect();
        let sign_wrong = strong.iter().filter(|&&i| row[i].signum() != planted[i].signum()).map(|&i| self.features[i].clone()).collect();
        let by_magnitude = |v: &dyn Fn(usize) -> f64| {
            let mut o = others.clone();
            o.sort_by(|&a, &b| v(b).abs().total_cmp(&v(a).abs()));
            o
        };
        let planted_top: Vec<usize> =
            by_magnitude(&|i| planted[i]).into_iter().take(PLANTED_TOP).filter(|&i| planted[i].abs() >= TOP_FLOOR).collect();
        let measured_top = &measured_top[..measured_top.len().min(MEASURED_TOP)];
        Recovery {
            pearson: pearson(&xs, &ys),
            sign_checked: strong.len(),
            sign_wrong,
            planted_top: planted_top.iter().map(|&i| self.features[i].clone()).collect(),
            missing_from_top: planted_top.iter().filter(|i| !measured_top.contains(i)).map(|&i| self.features[i].clone()).collect(),
        }
    }
}

impl Recovery {
    /// The bar: Pearson at least 0.8, every strong sign right, the planted top 5 in
    /// the measured top 10.
    pub fn passes(&self) -> bool {
        self.pearson >= 0.8 && self.sign_wrong.is_empty() && self.missing_from_top.is_empty()
    }
}

fn summary(names: &[String]) -> String {
    match names.len() {
        0..=3 => format!("[{}]", names.join(", ")),
        n => format!("[{}, ... {} in all]", names[..3].join(", "), n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> PlantedWorld {
        let features: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        PlantedWorld {
            features,
            factors: vec![Factor { name: "f".into(), loadings: [("a".to_string(), 0.9), ("b".to_string(), -0.5)].into() }],
            planted_correlation: vec![
                vec![1.0, -0.5, 0.1, 0.0],
                vec![-0.5, 1.0, 0.0, 0.0],
                vec![0.1, 0.0, 1.0, 0.0],
                vec![0.0, 0.0, 0.0, 1.0],
            ],
        }
    }

    #[test]
    fn grades_signs_and_tops() {
        let w = world();
        assert!(w.carries_factor(0) && w.carries_factor(1) && !w.carries_factor(2));
        let good = w.recovery(0, &[1.0, -0.9, 0.3, 0.05], &[1, 2, 3]);
        assert_eq!((good.sign_checked, good.sign_wrong.len()), (1, 0));
        assert!(good.pearson > 0.9, "{good:?}");
        let bad = w.recovery(0, &[1.0, 0.4, -0.3, 0.0], &[2]);
        assert_eq!(bad.missing_from_top, vec!["b".to_string()]);
        assert!(good.missing_from_top.is_empty());
        assert_eq!(bad.sign_wrong, vec!["b".to_string()]);
        assert!(bad.pearson < 0.0);
    }
}
