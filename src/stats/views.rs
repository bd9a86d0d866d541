//! Typed views of what a probe measured: [`Changes`] (the recorded changes of every logit)
//! and [`FeatureMatrix`] (an F x F matrix with its feature names).
//!
//! Owns the layouts and their index arithmetic, checked once when a view is made. Knows
//! nothing of how the numbers were measured or drawn.

use super::{StatsError, product};

/// A direction of the probe's walk through noise space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Up the target's gradient (index 0 of the layout).
    Up = 0,
    /// Down the target's gradient (index 1).
    Down = 1,
}

impl Direction {
    /// Both directions, in the layout's order.
    pub const ALL: [Direction; 2] = [Direction::Up, Direction::Down];

    /// Its index in the layout.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The probe's recorded changes of every logit from its starting value (the notebook's
/// `classification_changes`): layout `(2, steps, images, features)`, row-major,
/// direction-major (0 up, 1 down). A row is one image at one step of one direction.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Changes<'a> {
    steps: usize,
    images: usize,
    features: usize,
    values: &'a [f32],
}

impl<'a> Changes<'a> {
    /// The number of directions, up and down.
    pub const DIRECTIONS: usize = 2;

    /// A view of `values`, which must hold exactly `2 x steps x images x features` values.
    pub fn new(steps: usize, images: usize, features: usize, values: &'a [f32]) -> Result<Self, StatsError> {
        let expected = product(&[Self::DIRECTIONS, steps, images, features]);
        if expected != Some(values.len()) {
            let expected = expected.map_or_else(|| "more than can be addressed".to_string(), |e| e.to_string());
            return Err(StatsError::ChangesShape { steps, images, features, len: values.len(), expected });
        }
        Ok(Changes { steps, images, features, values })
    }

    pub fn directions(&self) -> usize {
        Self::DIRECTIONS
    }

    pub fn steps(&self) -> usize {
        self.steps
    }

    pub fn images(&self) -> usize {
        self.images
    }

    pub fn features(&self) -> usize {
        self.features
    }

    /// All the values, in the layout's order.
    pub fn values(&self) -> &'a [f32] {
        self.values
    }

    /// The number of rows, `2 x steps x images`.
    pub fn rows(&self) -> usize {
        Self::DIRECTIONS * self.steps * self.images
    }

    /// The index of the row of `image` at `step` going `direction`.
    ///
    /// # Panics
    /// When `step` or `image` is out of range.
    pub fn row_index(&self, direction: Direction, step: usize, image: usize) -> usize {
        assert!(step < self.steps && image < self.images, "changes: step {step} image {image} of {} x {}", self.steps, self.images);
        (direction.index() * self.steps + step) * self.images + image
    }

    /// Row `r` (see [`Changes::row_index`]): the change of every feature.
    pub fn row(&self, r: usize) -> &'a [f32] {
        &self.values[r * self.features..(r + 1) * self.features]
    }

    /// The change of `feature` for `image` at `step` going `direction`.
    pub fn get(&self, direction: Direction, step: usize, image: usize, feature: usize) -> f32 {
        assert!(feature < self.features, "changes: feature {feature} of {}", self.features);
        self.values[self.row_index(direction, step, image) * self.features + feature]
    }

    /// The changes of `feature` over every row, in the layout's order, as f64.
    ///
    /// # Panics
    /// When `feature` is out of range.
    pub fn column(&self, feature: usize) -> Vec<f64> {
        assert!(feature < self.features, "changes: feature {feature} of {}", self.features);
        self.values.iter().skip(feature).step_by(self.features.max(1)).map(|&v| v as f64).collect()
    }
}

/// A square F x F matrix over the features, row-major, with the features' names: the probe's
/// covariance as measured (`FeatureMatrix<f32>`) or a statistic of it (`FeatureMatrix<f64>`).
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureMatrix<T = f64> {
    names: Vec<String>,
    values: Vec<T>,
}

impl<T: Copy> FeatureMatrix<T> {
    /// The matrix of `values`, which must hold exactly `names.len()` squared values.
    pub fn new(names: Vec<String>, values: Vec<T>) -> Result<Self, StatsError> {
        let n = names.len();
        let expected = n.checked_mul(n);
        if expected != Some(values.len()) {
            let expected = expected.map_or_else(|| "more than can be addressed".to_string(), |e| e.to_string());
            return Err(StatsError::MatrixShape { names: n, len: values.len(), expected });
        }
        Ok(FeatureMatrix { names, values })
    }

    /// The number of features, F.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// All F x F values, row-major.
    pub fn values(&self) -> &[T] {
        &self.values
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[T] {
        let f = self.len();
        &self.values[i * f..(i + 1) * f]
    }

    /// The value at row `i`, column `j`.
    ///
    /// # Panics
    /// When `i` or `j` is out of range.
    pub fn get(&self, i: usize, j: usize) -> T {
        let f = self.len();
        assert!(i < f && j < f, "matrix: ({i}, {j}) of {f} x {f}");
        self.values[i * f + j]
    }

    /// The diagonal, `get(i, i)` for each i.
    pub fn diagonal(&self) -> Vec<T> {
        (0..self.len()).map(|i| self.get(i, i)).collect()
    }

    /// The same names with `f` of each value.
    pub fn map<U>(&self, f: impl FnMut(T) -> U) -> FeatureMatrix<U> {
        FeatureMatrix { names: self.names.clone(), values: self.values.iter().copied().map(f).collect() }
    }

    /// The names and the values, row-major.
    pub fn into_parts(self) -> (Vec<String>, Vec<T>) {
        (self.names, self.values)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("f{i}")).collect()
    }

    #[test]
    fn changes_index_the_probe_layout() {
        // (2, steps 3, images 2, features 4): value = 1000 d + 100 s + 10 i + f.
        let (steps, images, features) = (3, 2, 4);
        let mut v = Vec::new();
        for d in 0..2 {
            for s in 0..steps {
                for i in 0..images {
                    for f in 0..features {
                        v.push((1000 * d + 100 * s + 10 * i + f) as f32);
                    }
                }
            }
        }
        let c = Changes::new(steps, images, features, &v).unwrap();
        assert_eq!((c.directions(), c.steps(), c.images(), c.features(), c.rows()), (2, 3, 2, 4, 12));
        assert_eq!(c.get(Direction::Up, 0, 0, 0), 0.0);
        assert_eq!(c.get(Direction::Up, 2, 1, 3), 213.0);
        assert_eq!(c.get(Direction::Down, 1, 0, 2), 1102.0);
        assert_eq!(c.row(c.row_index(Direction::Down, 2, 1)), &[1210.0, 1211.0, 1212.0, 1213.0]);
        let col = c.column(1);
        assert_eq!(col.len(), 12);
        assert_eq!(col[0], 1.0);
        assert_eq!(col[7], 1011.0, "row 7 is down, step 0, image 1");
        assert_eq!(col[11], 1211.0);
        assert_eq!(Direction::ALL.map(Direction::index), [0, 1]);
    }

    #[test]
    fn changes_refuse_a_wrong_length() {
        let v = vec![0.0; 2 * 3 * 2 * 4];
        let err = Changes::new(3, 2, 5, &v).unwrap_err();
        assert_eq!(err, StatsError::ChangesShape { steps: 3, images: 2, features: 5, len: 48, expected: "60".into() });
        assert!(err.to_string().contains("48") && err.to_string().contains("60"), "{err}");
        assert!(Changes::new(usize::MAX, 2, 2, &v).is_err());
        assert!(Changes::new(0, 0, 0, &[]).is_ok());
    }

    #[test]
    fn feature_matrix_rows_and_entries() {
        let m = FeatureMatrix::new(names(3), (0..9).map(|v| v as f32).collect()).unwrap();
        assert_eq!((m.len(), m.is_empty()), (3, false));
        assert_eq!(m.row(1), &[3.0, 4.0, 5.0]);
        assert_eq!(m.get(2, 0), 6.0);
        assert_eq!(m.diagonal(), vec![0.0, 4.0, 8.0]);
        assert_eq!(m.names()[2], "f2");
        let d = m.map(|v| v as f64 * 2.0);
        assert_eq!(d.get(1, 2), 10.0);
        let (n, v) = d.into_parts();
        assert_eq!((n.len(), v.len()), (3, 9));
    }

    #[test]
    fn feature_matrix_refuses_a_wrong_length() {
        let err = FeatureMatrix::new(names(3), vec![0.0f32; 8]).unwrap_err();
        assert_eq!(err, StatsError::MatrixShape { names: 3, len: 8, expected: "9".into() });
        assert!(err.to_string().contains("3 x 3"), "{err}");
        assert!(FeatureMatrix::<f64>::new(Vec::new(), Vec::new()).unwrap().is_empty());
    }

    #[test]
    #[should_panic(expected = "matrix: (0, 3) of 3 x 3")]
    fn feature_matrix_get_out_of_range_panics() {
        FeatureMatrix::new(names(3), vec![0.0; 9]).unwrap().get(0, 3);
    }
}
