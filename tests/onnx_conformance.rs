//! The ONNX package's PyTorch conformance cases (onnx/backend/test/data/pytorch-converted and
//! pytorch-operator, many at opset 6), copied by tools/onnx/conformance.py into
//! tests/fixtures/onnx/conformance/: every case listed `run` in cases.txt goes through
//! `gan-bias forward` on the CPU backend and on Vulkan (lavapipe where there is no GPU) and
//! matches the case's own expected outputs; the refused models kept (a 1-D convolution, a
//! Softmax, a 3-D MaxPool, two inputs, and variants.txt's old-opset attributes) fail in one line
//! without writing anything.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common::*;
use safetensors::SafeTensors;

/// Every case of the two folders of the onnx package the fixtures were made from.
const CASES: usize = 117;
/// The refused cases of cases.txt whose models are kept for the refusal test.
const REFUSED_KEPT: [&str; 4] = [
    "pytorch-converted/test_Conv1d",
    "pytorch-converted/test_Softmax",
    "pytorch-converted/test_MaxPool3d",
    "pytorch-operator/test_operator_concat2",
];
const RTOL: f32 = 1e-4;
const ATOL: f32 = 1e-5;

fn dir() -> PathBuf {
    fixture("onnx/conformance")
}

/// One line of cases.txt or variants.txt: `<folder>/<case> <run|refused> <ops or the refusal>`.
struct Case {
    name: String,
    run: bool,
    reason: String,
}

impl Case {
    /// The case's folder of fixtures.
    fn dir(&self) -> PathBuf {
        dir().join(self.name.rsplit('/').next().unwrap())
    }
}

fn cases(file: &str) -> Vec<Case> {
    let path = dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .map(|line| {
            let mut parts = line.splitn(3, ' ');
            let (name, verdict, reason) = (parts.next().unwrap(), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            // `large`: runs and matches in tools/onnx/conformance.py, too large to commit.
            assert!(matches!(verdict, "run" | "refused" | "large") && !reason.is_empty(), "{file}: bad line {line:?}");
            Case { name: name.into(), run: verdict == "run", reason: reason.into() }
        })
        .collect()
}

/// A fixture file that must exist.
fn needed(case: &Case, file: &str) -> PathBuf {
    let p = case.dir().join(file);
    assert!(p.is_file(), "{}: {} is missing (tools/onnx/conformance.py writes it)", case.name, p.display());
    p
}

/// Every tensor of a safetensors file as f32: name -> (shape, values).
fn tensors(path: &Path) -> Tensors {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, v)| {
            let values = match v.dtype() {
                safetensors::Dtype::F32 => bytemuck::pod_collect_to_vec::<u8, f32>(v.data()),
                d => panic!("{}: {name} has dtype {d:?}", path.display()),
            };
            (name, (v.shape().to_vec(), values))
        })
        .collect()
}

#[test]
fn cases_list_both_folders_and_every_kept_model_is_there() {
    let all = cases("cases.txt");
    assert_eq!(all.len(), CASES, "cases.txt should list every case of both folders");
    for folder in ["pytorch-converted/", "pytorch-operator/"] {
        assert!(all.iter().any(|c| c.name.starts_with(folder)), "cases.txt lists no case of {folder}");
    }
    // The folders committed are exactly the cases run, the refused models kept and the variants.
    let mut want: BTreeSet<String> = all.iter().filter(|c| c.run).map(|c| c.dir().display().to_string()).collect();
    for name in REFUSED_KEPT {
        let case = all.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name} is not in cases.txt"));
        assert!(!case.run, "{name} should be refused");
        want.insert(case.dir().display().to_string());
    }
    want.extend(cases("variants.txt").iter().map(|c| c.dir().display().to_string()));
    let got: BTreeSet<String> =
        std::fs::read_dir(dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).map(|p| p.display().to_string()).collect();
    assert_eq!(got, want, "the folders of tests/fixtures/onnx/conformance differ from cases.txt and variants.txt");
}

#[test]
fn conformance_cases_forward_as_expected_on_cpu_and_lavapipe() {
    let all = cases("cases.txt");
    let run: Vec<&Case> = all.iter().filter(|c| c.run).collect();
    assert!(!run.is_empty(), "cases.txt lists no case to run");
    let tmp = tempfile::tempdir().unwrap();
    for case in &run {
        let (model, input) = (needed(case, "model.onnx"), needed(case, "input.safetensors"));
        let expected = tensors(&needed(case, "expected.safetensors"));
        for backend in ["cpu", "vulkan"] {
            let out = tmp.path().join(format!("{}.{backend}.safetensors", case.dir().file_name().unwrap().to_string_lossy()));
            succeeds(&strs(&["forward", &p(&model), "--input", &p(&input), "-o", &p(&out), "--backend", backend]));
            let got = tensors(&out);
            let names = |t: &Tensors| t.keys().cloned().collect::<Vec<_>>();
            assert_eq!(names(&got), names(&expected), "{} on {backend}: the outputs' names", case.name);
            for (name, (shape, want)) in &expected {
                let (got_shape, got) = &got[name];
                assert_eq!(got_shape, shape, "{} on {backend}: {name}'s shape", case.name);
                assert_close(&format!("{} on {backend}: {name}", case.name), got, want, RTOL, ATOL);
            }
        }
    }
    let refused = all.iter().filter(|c| !c.run && !c.reason.contains("too large to commit")).count();
    println!("onnx conformance: ran {} cases on cpu and vulkan, all as expected; refused {refused}", run.len());
}

#[test]
fn refused_conformance_models_fail_in_one_line_and_write_nothing() {
    let all = cases("cases.txt");
    let variants = cases("variants.txt");
    assert!(!variants.is_empty() && variants.iter().all(|c| !c.run), "variants.txt lists only refused models");
    let kept: Vec<&Case> = all.iter().filter(|c| REFUSED_KEPT.contains(&c.name.as_str())).chain(&variants).collect();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.safetensors");
    for case in &kept {
        let (model, input) = (needed(case, "model.onnx"), needed(case, "input.safetensors"));
        let line = fails(&strs(&["forward", &p(&model), "--input", &p(&input), "-o", &p(&out), "--backend", "cpu"]), &[]);
        let line = line.replace(&p(&model), "model.onnx");
        assert!(line.starts_with(&case.reason), "{}: refused with\n  {line}\nbut cases.txt says\n  {}", case.name, case.reason);
        assert!(!out.exists(), "{}: a refused model wrote its output", case.name);
    }
    println!("onnx conformance: {} refused models refused in one line", kept.len());
}
