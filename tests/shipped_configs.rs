//! Every YAML file in configs/ passes `launch check`: the runnable ones as
//! they are; the 8B recipes with the 8B shape and the sanity chat data in
//! place of their weights and datasets (which a test cannot download), so
//! every other key is checked as shipped, and their plans fit 80 GB devices
//! at 1, 2 and 8 ranks.

mod common;
use common::*;

/// Configs that run on any machine, checked as they are.
const AS_IS: [&str; 5] = [
    "sanity.yaml",
    "sanity-dpo.yaml",
    "tiny-pretrain.yaml",
    "sanity-pipeline.yaml",
    "sanity-families.yaml",
];

/// The 8B configs and the sanity data of their objective.
const EIGHT_B: [(&str, &str); 4] = [
    ("llama31-8b-sft.yaml", "sft.jsonl"),
    ("llama31-8b-dpo.yaml", "dpo.jsonl"),
    ("tulu3-8b-sft.yaml", "sft.jsonl"),
    ("tulu3-8b-dpo.yaml", "dpo.jsonl"),
];

/// Pipelines of 8B stages, each stage covered by [`EIGHT_B`].
const PIPELINES_OF_8B: [&str; 1] = ["llama31-8b-pipeline.yaml"];

/// The output of `launch check --device-memory 80GB configs/<config>`,
/// which must succeed.
fn check(config: &str, sets: &[String]) -> String {
    let dir = scratch(&format!("shipped-{}", config.trim_end_matches(".yaml")));
    let mut c = launch(&dir);
    c.arg("check")
        .arg(repo_root().join("configs").join(config))
        .args(["--device-memory", "80GB"]);
    for s in sets {
        c.arg("--set").arg(s);
    }
    let out = c.output().unwrap();
    let all = text(&out);
    assert!(out.status.success(), "launch check configs/{config}: {all}");
    assert!(all.contains(": ok"), "configs/{config}: {all}");
    all
}

#[test]
fn the_runnable_configs_pass_launch_check_as_shipped() {
    for config in AS_IS {
        let _ = check(config, &[]);
    }
}

#[test]
fn the_8b_recipes_pass_launch_check_and_fit_80gb_devices() {
    let r = repo_root();
    for (config, data) in EIGHT_B {
        let sets = [
            "model.path=null".to_string(),
            format!(
                "model.config={}",
                r.join("configs/models/llama31-8b-shape.json").display()
            ),
            format!("model.tokenizer={}", r.join("data/sanity-chat").display()),
            format!(
                "data.datasets=[{{path: {}}}]",
                r.join("data/sanity-chat").join(data).display()
            ),
        ];
        let all = check(config, &sets);
        for world in [1, 2, 8] {
            let line = format!("memory at world size {world}: ");
            let plan = all.lines().find(|l| l.contains(&line));
            assert!(
                plan.is_some_and(|l| l.contains("fits in 80.00 GB")),
                "configs/{config} at {world} devices: {all}"
            );
        }
    }
}

#[test]
fn every_shipped_config_is_covered() {
    let mut listed: Vec<&str> = AS_IS.to_vec();
    listed.extend(EIGHT_B.iter().map(|(c, _)| *c));
    listed.extend(PIPELINES_OF_8B);
    for entry in std::fs::read_dir(repo_root().join("configs")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".yaml") {
            assert!(
                listed.contains(&name.as_str()),
                "configs/{name} is not checked by this test"
            );
        }
    }
}
