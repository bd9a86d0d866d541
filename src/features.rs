//! Naming the target feature: by name (any case) or by index, with suggestions when unknown.
//!
//! Owns: name and index lookup. Must not touch: models, backends, the probe.

#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error("unknown feature '{given}'; closest: {suggestions} (see `gan-bias features`)")]
    Unknown { given: String, suggestions: String },
    #[error("feature index {index} out of range: the classifier has {count} features (0..{})", count - 1)]
    OutOfRange { index: usize, count: usize },
    #[error("{flag}")]
    InList {
        flag: String,
        #[source]
        source: Box<FeatureError>,
    },
    #[error("{flag} names {name} twice")]
    Twice { flag: String, name: String },
    #[error("{flag} names no feature")]
    Empty { flag: String },
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

/// The indices of a comma-separated list given with `flag` (named in errors), in its order:
/// each entry resolved as [`resolve`] does, blank entries skipped, none named twice, at least
/// one.
pub fn resolve_list(given: &[String], names: &[String], flag: &str) -> Result<Vec<usize>, FeatureError> {
    let mut out: Vec<usize> = Vec::with_capacity(given.len());
    for g in given.iter().filter(|g| !g.trim().is_empty()) {
        let i = resolve(g, names).map_err(|e| FeatureError::InList { flag: flag.to_string(), source: Box::new(e) })?;
        if out.contains(&i) {
            return Err(FeatureError::Twice { flag: flag.to_string(), name: names[i].clone() });
        }
        out.push(i);
    }
    if out.is_empty() {
        return Err(FeatureError::Empty { flag: flag.to_string() });
    }
    Ok(out)
}

/// [`resolve_list`] of the list given with `flag`, or every feature where none is given.
pub fn resolve_list_or_all(given: Option<&[String]>, names: &[String], flag: &str) -> Result<Vec<usize>, FeatureError> {
    given.map_or_else(|| Ok((0..names.len()).collect()), |list| resolve_list(list, names, flag))
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
    fn a_list_resolves_in_order_each_once_skipping_blanks() {
        let list = |s: &str| s.split(',').map(str::to_string).collect::<Vec<_>>();
        assert_eq!(resolve_list(&list("Male, ,20x,Bald"), &names(), "--x").unwrap_err().to_string(), "--x");
        assert_eq!(resolve_list(&list("Male,,bald,0"), &names(), "--x").unwrap(), [20, 4, 0]);
        assert_eq!(resolve_list(&list("Male,20"), &names(), "--x").unwrap_err().to_string(), "--x names Male twice");
        assert_eq!(resolve_list(&list(" ,"), &names(), "--x").unwrap_err().to_string(), "--x names no feature");
        let e = resolve_list(&list("Male,Baldy"), &names(), "--features").unwrap_err();
        let cause = std::error::Error::source(&e).expect("the unknown name is the cause").to_string();
        assert!(e.to_string() == "--features" && cause.starts_with("unknown feature 'Baldy'; closest: Bald"), "{e}: {cause}");
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
