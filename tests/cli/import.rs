//! `gan-bias import`, and checkpoints given straight to `probe`.

use super::*;

#[test]
fn import_refuses_hostile_checkpoints_and_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.safetensors");
    let canary = dir.path().join("executed");
    for name in ["posix_system_zip.pth", "posix_system_legacy.pth"] {
        let input = fixture(&format!("hostile/{name}"));
        let args: Vec<String> = vec!["import".into(), input.display().to_string(), "-o".into(), out.display().to_string()];
        fails(&args, &["posix.system"]);
        assert!(!out.exists(), "{name}: an output file was left behind");
        // The probe refuses the same file as weights.
        let args: Vec<String> = ["probe", "--feature", "Male", "--backend", "cpu", "--classifier"]
            .iter()
            .map(|s| s.to_string())
            .chain([input.display().to_string(), "--generator".into(), fixture("tiny_coursera_gen.safetensors").display().to_string()])
            .collect();
        fails(&args, &["posix.system"]);
    }
    assert!(!canary.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "no temporary file left behind");
}

#[test]
fn import_writes_arch_and_features_and_the_result_probes_like_the_pth() {
    let dir = tempfile::tempdir().unwrap();
    let cls_st = dir.path().join("cls.safetensors");
    let cls_pth = shared("coursera_celeba40_classifier.pth");
    succeeds(&["import".into(), cls_pth.display().to_string(), "-o".into(), cls_st.display().to_string()]);
    let bytes = std::fs::read(&cls_st).unwrap();
    let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta = meta.metadata().clone().unwrap();
    assert_eq!(meta["gan_bias.arch"], "classifier");
    assert!(meta["gan_bias.features"].starts_with("5oClockShadow,ArchedEyebrows,"));
    let listed = succeeds(&["import".into(), cls_pth.display().to_string(), "--list".into()]);
    assert!(listed.contains("classifier.3.0.weight  F32  [40, 256, 4, 4]"), "{listed}");
    // The converted file and the .pth give the same probe.
    let run = |cls: &Path| {
        let args: Vec<String> = ["probe", "--feature", "Male", "--backend", "cpu", "--images", "2", "--steps", "2", "--generator"]
            .iter()
            .map(|s| s.to_string())
            .chain([fixture("tiny_coursera_gen.safetensors").display().to_string(), "--classifier".into(), cls.display().to_string()])
            .collect();
        let out = succeeds(&args);
        out.lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(run(&cls_st), run(&cls_pth));
}

#[test]
fn notebook_style_checkpoint_with_several_state_dicts_loads_its_generator() {
    // {"gen", "gen_opt", "disc", "disc_opt"}, as the notebook's pretrained_celeba.pth is laid out.
    let run = |generator: &Path| {
        let args: Vec<String> = ["probe", "--feature", "Male", "--backend", "cpu", "--images", "2", "--steps", "2", "--classifier"]
            .iter()
            .map(|s| s.to_string())
            .chain([fixture("tiny_classifier.safetensors").display().to_string(), "--generator".into(), generator.display().to_string()])
            .collect();
        succeeds(&args).lines().filter(|l| !l.starts_with('#')).map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(run(&fixture("notebook_style_gen.pth")), run(&fixture("tiny_coursera_gen.safetensors")));
    let args: Vec<String> = vec!["import".into(), fixture("notebook_style_gen.pth").display().to_string(), "--list".into()];
    fails(&args, &["--key"]);
    let args: Vec<String> =
        vec!["import".into(), fixture("notebook_style_gen.pth").display().to_string(), "--list".into(), "--key".into(), "gen".into()];
    assert!(succeeds(&args).contains("gen.4.0.weight"));
}
