//! Stage 5 of the pipeline: results as the notebook's table, CSV and JSON (every file goes
//! out through [`crate::output::write_atomic`], re-exported here). [`probe`] holds the
//! probe's typed report and its views.
//!
//! Owns: the layout of every table, CSV and JSON this crate writes. Must not touch: how
//! anything is measured or ranked (that is the probe and [`crate::stats`]).

pub mod audit;
pub mod history;
pub mod html;
pub mod matrix;
pub mod plot_data;
pub mod probe;
pub mod statistics;

pub use crate::output::{WriteError, csv_field, write_atomic};

/// The full matrix as CSV: header `feature,<names>`, then one row per feature.
pub fn matrix_csv(names: &[String], m: &[f32]) -> String {
    let f = names.len();
    let mut s = String::from("feature");
    for n in names {
        s.push(',');
        s.push_str(&csv_field(n));
    }
    s.push('\n');
    for (i, n) in names.iter().enumerate() {
        s.push_str(&csv_field(n));
        for v in &m[i * f..(i + 1) * f] {
            s.push_str(&format!(",{v}"));
        }
        s.push('\n');
    }
    s
}

/// One line grading a probe against the planted world.
pub fn recovery_line(path: &str, target: &str, r: &crate::planted::Recovery, carries_factor: bool) -> String {
    let verdict = if !carries_factor {
        "no planted factor loads on it, so there is nothing to recover".to_string()
    } else if r.passes() {
        "recovered".to_string()
    } else {
        "NOT recovered".to_string()
    };
    let missing = if r.missing_from_top.is_empty() { "all".to_string() } else { format!("missing {}", r.missing_from_top.join(", ")) };
    let signs = if r.sign_wrong.is_empty() { String::new() } else { format!(" (wrong: {})", r.sign_wrong.join(", ")) };
    format!(
        "# planted world {path}: {target}'s correlation row vs the planted one: Pearson {:.3}; signs right for {}/{} with |planted| >= {}{signs}; planted top {} in the measured top {}: {missing}; {verdict}",
        r.pearson,
        r.sign_checked - r.sign_wrong.len(),
        r.sign_checked,
        crate::planted::SIGN_THRESHOLD,
        crate::planted::PLANTED_TOP,
        crate::planted::MEASURED_TOP,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_layouts() {
        let names: Vec<String> = vec!["a".into(), "b,c".into()];
        let m = [1.0, -2.5, -2.5, 4.0];
        assert_eq!(matrix_csv(&names, &m), "feature,a,\"b,c\"\na,1,-2.5\n\"b,c\",-2.5,4\n");
        let top = vec![statistics::TopRow {
            rank: 1,
            feature: "b,c".into(),
            index: 1,
            covariance: -2.5,
            correlation: Some(-0.625),
            slope: None,
            dependency: Some(2.0),
            ci_low: Some(-3.0),
            ci_high: Some(-2.0),
            p: Some(0.001),
            q: Some(0.002),
            significant: true,
        }];
        assert_eq!(
            statistics::top_csv(&top),
            "rank,feature,index,covariance,correlation,slope,dependency,ci_low,ci_high,p,q\n1,\"b,c\",1,-2.5,-0.625,,2,-3,-2,0.001,0.002\n"
        );
    }

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.csv");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left behind");
        let missing = dir.path().join("no/such/dir/out.csv");
        assert!(write_atomic(&missing, b"x").is_err());
    }
}
