//! The bundled labelled evaluation set (`weights/demo-eval.{png,txt}`, made by
//! tools/demo_world/eval_set.py) read by `Dataset::from_sheet`, through the bundled classifier
//! on the CPU backend: its AUC per attribute is what weights/README.md says it is.
//!
//! The README's table is parsed here, so the claim printed there is what is tested:
//!   * every attribute the world draws is within [`DRAWN_TOLERANCE`] of its "val AUC" (the
//!     classifier on 4000 other rendered faces). The two sets are independent samples of one
//!     distribution, so they differ by sampling error alone: the Hanley–McNeil standard error
//!     of the difference, from both sets' counts, is 0.0010 to 0.0054 (BrownHair, AUC 0.986 at
//!     a prevalence of 0.18), and the README rounds to 0.0005. 0.02 is 3.7 of the largest
//!     standard error; the largest difference measured is 0.0025 (NoBeard);
//!   * the three attributes the world does not draw (Attractive, PointyNose, StraightHair: the
//!     picture holds nothing of them) are within [`NULL_TOLERANCE`] of 0.5. An AUC of no
//!     information has the standard error sqrt((n + 1) / (12 n1 n0)), 0.0129 to 0.0144 at
//!     their prevalences (0.49, 0.28, 0.42) and n = 2000; 0.06 is 4.2 of the largest;
//!   * every attribute is within [`EVAL_TOLERANCE`] of the README's "eval" column, the same
//!     AUC computed by the script with PyTorch on the same pixels: the README rounds to 3
//!     decimals, and the two forward passes' f32 rounding can swap only a few nearly tied
//!     pairs, each worth 1 / (n1 n0) < 3e-6.
//!
//! Run with `--nocapture` for the AUCs and the time the forward pass takes.

use std::collections::HashMap;
use std::time::Instant;

use gan_bias::backend::cpu::CpuBackend;
use gan_bias::dataset::Dataset;
use gan_bias::load::bundled;
use gan_bias::probe::generate;

use crate::common::classifier;

const DRAWN_TOLERANCE: f64 = 0.02;
const NULL_TOLERANCE: f64 = 0.06;
const EVAL_TOLERANCE: f64 = 0.0005 + 1e-4;

/// The area under the ROC curve of `scores` against `labels`: the Mann–Whitney statistic from
/// mid-ranks, a tied pair counting one half. None without both classes.
pub fn roc_auc(scores: &[f32], labels: &[bool]) -> Option<f64> {
    let n1 = labels.iter().filter(|&&l| l).count();
    let n0 = labels.len() - n1;
    if n1 == 0 || n0 == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += mid * order[i..=j].iter().filter(|&&k| labels[k]).count() as f64;
        i = j + 1;
    }
    Some((rank_sum - (n1 * (n1 + 1)) as f64 / 2.0) / (n1 * n0) as f64)
}

/// One row of the README's AUC table.
struct Claim {
    drawn: bool,
    val: f64,
    eval: f64,
}

/// The table of weights/README.md under "Validation AUC per attribute", by attribute, read
/// by its header's column names.
fn readme_claims() -> HashMap<String, Claim> {
    let path = bundled("README.md").expect("weights/README.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let cells = |line: &str| line.trim().trim_matches('|').split('|').map(|c| c.trim().to_string()).collect::<Vec<_>>();
    let mut lines = text.lines().skip_while(|l| !l.starts_with("## Validation AUC per attribute"));
    let header = cells(lines.find(|l| l.starts_with("| attribute")).expect("the README's AUC table"));
    let col = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no column '{name}' in {header:?}"));
    let (drawn, val, eval) = (col("drawn"), col("val AUC"), col("eval"));
    let mut out = HashMap::new();
    for line in lines.skip(1).take_while(|l| l.starts_with('|')) {
        let c = cells(line);
        let num = |i: usize| c[i].parse::<f64>().unwrap_or_else(|e| panic!("{line}: {e}"));
        out.insert(c[0].clone(), Claim { drawn: c[drawn] == "yes", val: num(val), eval: num(eval) });
    }
    out
}

#[test]
fn rank_auc_counts_ties_as_half() {
    assert_eq!(roc_auc(&[0.1, 0.2, 0.3, 0.4], &[false, false, true, true]), Some(1.0));
    assert_eq!(roc_auc(&[0.4, 0.3, 0.2, 0.1], &[false, false, true, true]), Some(0.0));
    // Every score equal: every pair a tie.
    assert_eq!(roc_auc(&[1.0; 4], &[true, false, true, false]), Some(0.5));
    // Pairs (pos, neg): (0.5, 0.1) 1, (0.5, 0.5) 1/2, (0.9, 0.1) 1, (0.9, 0.5) 1 -> 3.5 / 4.
    assert_eq!(roc_auc(&[0.1, 0.5, 0.5, 0.9], &[false, false, true, true]), Some(0.875));
    assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
}

#[test]
fn the_bundled_evaluation_set_gives_the_aucs_the_readme_states() {
    let (sheet, labels) =
        (bundled("demo-eval.png").expect("weights/demo-eval.png"), bundled("demo-eval.txt").expect("weights/demo-eval.txt"));
    let t0 = Instant::now();
    let d = Dataset::from_sheet(&sheet, &labels).unwrap_or_else(|e| panic!("{e}"));
    let read = t0.elapsed().as_secs_f64();
    assert_eq!(d.len(), 2000);
    let c = classifier(&bundled("demo_classifier.safetensors").unwrap());
    let columns = d.columns_for(&c.features).unwrap();
    let stages = &c.graph;
    let t1 = Instant::now();
    let logits = generate(&mut CpuBackend::fast(), stages, &d.images).unwrap();
    let forward = t1.elapsed().as_secs_f64();
    let f = c.features.len();
    assert_eq!(logits.len(), d.len() * f);
    eprintln!("read {} images in {read:.2} s, classified them in {forward:.2} s", d.len());

    let claims = readme_claims();
    let mut failures = Vec::new();
    for (i, name) in c.features.iter().enumerate() {
        let scores: Vec<f32> = (0..d.len()).map(|n| logits[n * f + i]).collect();
        let truth: Vec<bool> = (0..d.len()).map(|n| d.labels_of(n)[columns[i]]).collect();
        let auc = roc_auc(&scores, &truth).unwrap_or_else(|| panic!("{name} has one class only"));
        let claim = claims.get(name).unwrap_or_else(|| panic!("the README's table has no row {name}"));
        let (want, tol, against) = if claim.drawn { (claim.val, DRAWN_TOLERANCE, "val") } else { (0.5, NULL_TOLERANCE, "0.5") };
        eprintln!("{name:>18}: AUC {auc:.4} (val {:.3}, eval {:.3})", claim.val, claim.eval);
        if (auc - want).abs() > tol {
            failures.push(format!("{name}: AUC {auc:.4} is {:.4} from {against} ({want}), more than {tol}", (auc - want).abs()));
        }
        if (auc - claim.eval).abs() > EVAL_TOLERANCE {
            failures.push(format!("{name}: AUC {auc:.4}, the README's eval column says {}", claim.eval));
        }
    }
    assert_eq!(claims.len(), f, "a README row per feature");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
