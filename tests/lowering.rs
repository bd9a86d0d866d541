//! The notebook's three architectures, built as graphs and lowered by the graph engine, give
//! exactly the programs the stage-by-stage lowering gave before the engine existed: every
//! buffer (label, length, the bits of every constant, BatchNorm folded in) and every op, in
//! order. `tests/fixtures/lowered/*.txt` were written by that earlier lowering, from the same
//! weight files and shapes, before it was replaced.

use crate::common::*;
use gan_bias::ops::noise_update::UpdateRule;
use gan_bias::program::lower::{ProbeShape, chain, forward_program, gradient_program, probe_program};
use gan_bias::program::{PHASES, Program};

/// FNV-1a over the values' bits.
fn fnv(data: &[f32]) -> u64 {
    data.iter().flat_map(|v| v.to_bits().to_le_bytes()).fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// Every buffer and every op of `p`, one per line, as the fixtures hold them.
fn dump(p: &Program) -> String {
    let mut s = String::from("buffers:\n");
    for (i, b) in p.buffers.iter().enumerate() {
        match &b.init {
            Some(d) => s += &format!("{i} {:?} len {} constant {:016x}\n", b.label, b.len, fnv(d)),
            None => s += &format!("{i} {:?} len {} variable\n", b.label, b.len),
        }
    }
    for phase in PHASES {
        s += &format!("{phase:?}:\n");
        for op in p.ops(phase) {
            s += &format!("{op:?}\n");
        }
    }
    s
}

fn lowered(generator_file: &std::path::Path, classifier_file: &std::path::Path) -> String {
    let g = generator(generator_file);
    let c = classifier(classifier_file);
    let graph = chain(&g, &c).unwrap();
    let (p, _) = probe_program(&graph, ProbeShape { capacity: 10, images: 5, steps: 3, slots: 2 }, UpdateRule::Notebook).unwrap();
    let mut out = String::from("# probe_program: capacity 10, images 5, steps 3, slots 2, notebook\n") + &dump(&p);
    let (p, _) = gradient_program(&graph, 7, 7, 1, 0.5).unwrap();
    out += "# gradient_program: capacity 7, rows per target 7, slots 1, scale 0.5\n";
    out += &dump(&p);
    let (p, _, _) = forward_program(&g.graph, 3).unwrap();
    out += "# forward_program of the generator: capacity 3\n";
    out += &dump(&p);
    let (p, _, _) = forward_program(&c.graph, 4).unwrap();
    out += "# forward_program of the classifier: capacity 4\n";
    out += &dump(&p);
    out
}

fn check(name: &str, generator_file: &str, classifier_file: &str) {
    let root = gan_bias::load::project_root();
    let want = std::fs::read_to_string(fixture(&format!("lowered/{name}.txt"))).unwrap();
    let got = lowered(&root.join(generator_file), &root.join(classifier_file));
    for (i, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "{name}: line {} differs", i + 1);
    }
    assert_eq!(got.lines().count(), want.lines().count(), "{name}: line counts differ");
}

#[test]
fn coursera_preset_lowers_to_the_earlier_op_list() {
    check("coursera", "tests/fixtures/tiny_coursera_gen.safetensors", "tests/fixtures/tiny_classifier.safetensors");
}

#[test]
fn dcgan_preset_lowers_to_the_earlier_op_list() {
    check("dcgan", "tests/fixtures/tiny_dcgan_gen.safetensors", "tests/fixtures/tiny_classifier.safetensors");
}

#[test]
fn bundled_pair_lowers_to_the_earlier_op_list() {
    check("bundled", "weights/demo_generator.safetensors", "weights/demo_classifier.safetensors");
}

/// Outputs the reverse pass never reads (a nearest resize's, read only by a convolution, whose
/// input-gradient needs no stored activation where the resize applies none) share buffers by
/// liveness in the probe's program; the gradient program, whose callers read every node's
/// output, keeps one each. (`tests/onnx.rs` probes the same models against PyTorch.)
#[test]
fn outputs_the_reverse_pass_never_reads_share_buffers_in_the_probe() {
    let dir = fixture("onnx");
    let g = generator(&dir.join("tiny_wgan_ts.onnx"));
    let names = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(names.path(), "a\nb\nc\nd\ne\n").unwrap();
    let c = gan_bias::load::classifier(Some(&dir.join("tiny_judge_ts.onnx")), None, Some(&g), Some(names.path())).unwrap();
    let graph = chain(&g, &c).unwrap();
    let resizes: Vec<String> = graph
        .nodes
        .iter()
        .filter(|n| matches!(n.op, gan_bias::graph::NodeOp::ResizeNearest { .. }))
        .map(|n| format!("{} output", n.name))
        .collect();
    assert_eq!(resizes.len(), 2, "{}", graph.listing());
    let shape = ProbeShape { capacity: 4, images: 2, steps: 2, slots: 1 };
    let (probe, _) = probe_program(&graph, shape, UpdateRule::Notebook).unwrap();
    let (grad, _) = gradient_program(&graph, 4, 4, 1, 1.0).unwrap();
    let labels = |p: &Program| p.buffers.iter().map(|b| b.label.clone()).collect::<Vec<_>>();
    let (shared, kept) = (labels(&probe), labels(&grad));
    assert!(shared.contains(&"activations 1".to_string()) && !shared.iter().any(|l| resizes.contains(l)), "{shared:?}");
    assert!(resizes.iter().all(|r| kept.contains(r)), "{kept:?}");
    // Those that share are exactly the outputs of nodes that apply no activation and that no
    // product or quotient reads: the resizes and the Linear layer before its BatchNorm.
    let gone: Vec<&String> = kept.iter().filter(|l| l.ends_with(" output") && !shared.contains(l)).collect();
    let identity = |label: &String| {
        let n = graph.nodes.iter().find(|n| format!("{} output", n.name) == *label).unwrap();
        gan_bias::program::rules::output_act(&graph, n) == gan_bias::ops::act::Act::Identity
    };
    assert!(gone.len() == resizes.len() + 1 && gone.iter().all(|l| identity(l)), "{gone:?}");
}
