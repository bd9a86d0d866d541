//! Naming the target feature: by name (any case) or by index, with suggestions when unknown.
//!
//! Owns: name and index lookup. Must not touch: models, backends, the probe.

#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error("unknown feature '{given}'; closest: {suggestions} (see `gan-bias features`)")]
    Unknown { given: String, suggestions: String },
    #[error("feature index {index} out of range: the classifier has {count} features (0..{})", count - 1)]
    OutOfRange { index: usize, count: usize },
}

/// The index of `given` in `names`: an exact name ignoring case, then an index.
pub fn resolve(given: &str, names: &[String]) -> Result<usize, FeatureError> {
    let wanted = given.trim();
    if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(wanted)) {
        return Ok(i);
    }
    if let Ok(index) = wanted.parse::<usize>() {
        return if index < names.len() { Ok(index) } else { Err(FeatureError::OutOfRange { index, count: names.len() }) };
    }
    Err(FeatureError::Unknown { given: given.to_string(), suggestions: closest(wanted, names, 3).join(", ") })
}

/// The `k` names closest to `given` (edit distance, ignoring case; names containing it first).
pub fn closest(given: &str, names: &[String], k: usize) -> Vec<String> {
    let g = given.to_lowercase();
    let mut scored: Vec<(usize, &String)> = names
        .iter()
        .map(|n| {
            let l = n.to_lowercase();
            let d = edit_distance(&g, &l);
            (if !g.is_empty() && l.contains(&g) { d.min(1) } else { d }, n)
        })
        .collect();
    scored.sort_by_key(|(d, _)| *d);
    scored.into_iter().take(k).map(|(_, n)| n.clone()).collect()
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + (ca != *cb) as usize).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::presets::CELEBA_FEATURES;

    fn names() -> Vec<String> {
        CELEBA_FEATURES.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn by_name_any_case_and_by_index() {
        assert_eq!(resolve("male", &names()).unwrap(), 20);
        assert_eq!(resolve("WEARINGLIPSTICK", &names()).unwrap(), 36);
        assert_eq!(resolve("20", &names()).unwrap(), 20);
        assert!(matches!(resolve("40", &names()), Err(FeatureError::OutOfRange { .. })));
    }

    #[test]
    fn unknown_names_suggest_close_ones() {
        let err = resolve("Mael", &names()).unwrap_err().to_string();
        assert!(err.contains("Male"), "{err}");
        let err = resolve("lipstick", &names()).unwrap_err().to_string();
        assert!(err.contains("WearingLipstick"), "{err}");
    }
}
