use super::*;

fn write(dir: &Path, text: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("p.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("pipeline-{name}-{}", std::process::id()))
}

#[test]
fn links_and_output_dirs_become_sets() {
    let dir = scratch("links");
    let path = write(&dir, "pipeline: t\noutput_dir: /o\nstages:\n  - { name: sft, config: a.yaml }\n  - { name: dpo, config: b.yaml, from: sft, set: { train.learning_rate: 5.0e-7 } }\n");
    assert!(is_pipeline(&path));
    let p = load(&path).unwrap();
    assert_eq!(p.stages[0].config, dir.join("a.yaml"));
    let sft = &p.jobs(0, &[], &Start::Model)[0];
    assert_eq!(sft.sets, vec!["checkpoint.output_dir=/o/sft".to_string()]);
    let dpo = &p.jobs(1, &[], &Start::Model)[0];
    assert!(
        dpo.sets.contains(&"model.path=/o/sft/final".to_string()),
        "{:?}",
        dpo.sets
    );
    assert_eq!(dpo.sets.last().unwrap(), "train.learning_rate=5e-7");
}

#[test]
fn model_paths_in_a_stage_set_follow_the_pipeline_file() {
    let dir = scratch("set-paths");
    let stage = "{ name: a, config: a.yaml, set: { model.config: models/x.json, model.tokenizer: org/tok, model.path: ../w, data.max_seq_length: 64 } }";
    let path = write(
        &dir,
        &format!("pipeline: t\noutput_dir: /o\nstages:\n  - {stage}\n"),
    );
    let sets = &load(&path).unwrap().jobs(0, &[], &Start::Model)[0].sets;
    let config = format!("model.config={}", dir.join("models/x.json").display());
    let parent = dir.parent().unwrap().join("w");
    for want in [
        config,
        format!("model.path={}", parent.display()),
        "model.tokenizer=org/tok".into(),
        "data.max_seq_length=64".into(),
    ] {
        assert!(sets.contains(&want), "{want} in {sets:?}");
    }
}

#[test]
fn each_checkpoint_makes_one_job_per_picked_step() {
    let dir = scratch("each");
    let path = write(&dir, "pipeline: t\noutput_dir: /o\nstages:\n  - { name: sft, config: a.yaml }\n  - { name: d, config: b.yaml, from: sft, each_checkpoint: [2, 6] }\n");
    let p = load(&path).unwrap();
    let ck: Vec<(u64, PathBuf)> = [6, 4, 2]
        .iter()
        .map(|s| (*s, PathBuf::from(format!("/c/{s}"))))
        .collect();
    let jobs = p.jobs(1, &ck, &Start::Model);
    let names: Vec<&str> = jobs.iter().map(|j| j.job.as_str()).collect();
    assert_eq!(names, ["step-000002", "step-000006"]);
    assert_eq!(jobs[0].output_dir, PathBuf::from("/o/d/step-000002"));
    assert_eq!(jobs[0].base_checkpoint, Some(PathBuf::from("/c/2")));
}

#[test]
fn bad_links_are_named() {
    let dir = scratch("bad");
    let cases = [
        (
            "  - { name: a, config: a.yaml, from: b }\n",
            "stages[0] (a).from: \"b\" is not an earlier stage",
        ),
        (
            "  - { name: a, config: a.yaml }\n  - { name: a, config: a.yaml }\n",
            "another stage is already named",
        ),
        (
            "  - { name: a, config: a.yaml, each_checkpoint: true }\n",
            "each_checkpoint needs `from:`",
        ),
        (
            "  - { name: a, config: a.yaml, form: b }\n",
            "did you mean `stages[0].from`",
        ),
    ];
    for (stages, want) in cases {
        let path = write(
            &dir,
            &format!("pipeline: t\noutput_dir: o\nstages:\n{stages}"),
        );
        let e = load(&path).unwrap_err().to_string();
        assert!(e.contains(want), "{e}");
    }
}

#[test]
fn a_stage_from_an_adapter_stage_gets_its_base_and_its_adapter() {
    let dir = scratch("adapter");
    let path = write(&dir, "pipeline: t\noutput_dir: /o\nstages:\n  - { name: sft, config: a.yaml }\n  - { name: dpo, config: b.yaml, from: sft }\n  - { name: d, config: b.yaml, from: sft, each_checkpoint: [2] }\n");
    let p = load(&path).unwrap();
    let base = crate::ModelConfig {
        path: Some("org/base".into()),
        revision: Some("v1".into()),
        ..Default::default()
    };
    let start = Start::Adapter(Box::new(base));
    let dpo = &p.jobs(1, &[], &start)[0];
    for want in [
        "model.path=org/base",
        "model.config=null",
        "model.revision=v1",
        "model.adapter=/o/sft/final",
        "model.tokenizer=/o/sft/final",
    ] {
        assert!(
            dpo.sets.contains(&want.to_string()),
            "{want} in {:?}",
            dpo.sets
        );
    }
    assert_eq!(dpo.model, Some(PathBuf::from("/o/sft/final")));
    let fan = &p.jobs(2, &[(2, PathBuf::from("/c/2"))], &start)[0];
    let export = PathBuf::from("/o/sft/exports/step-000002");
    assert!(fan
        .sets
        .contains(&format!("model.adapter={}", export.display())));
    assert_eq!(fan.model, Some(export));
}

#[test]
fn a_lora_stage_leaves_its_adapter_unless_it_merges() {
    let yaml = "run_name: t\nmodel: { config: c.json }\nlora: { r: 8 }\n";
    let mut config = crate::from_str(yaml, "t.yaml", 1, &[]).unwrap().config;
    assert!(matches!(Start::of(&config), Start::Adapter(m) if m.config == Some("c.json".into())));
    config.export.merge = true;
    assert_eq!(Start::of(&config), Start::Model);
    config.lora = None;
    assert_eq!(Start::of(&config), Start::Model);
}
