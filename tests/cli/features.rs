//! `gan-bias features`.

use super::*;

#[test]
fn features_lists_forty_names_with_male_at_20() {
    let out = succeeds(&strs(&["features", "--classifier", &cls_path()]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 40, "{out}");
    for (i, line) in lines.iter().enumerate() {
        let mut parts = line.split_whitespace();
        assert_eq!(parts.next().unwrap().parse::<usize>().unwrap(), i, "{line}");
        assert_eq!(parts.next().unwrap(), CELEBA_FEATURES[i], "{line}");
    }
    assert_eq!(lines[20].split_whitespace().collect::<Vec<_>>(), ["20", "Male"]);
}
