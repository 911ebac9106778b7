//! Every YAML file in configs/ passes `launch check`: the runnable ones as
//! they are; the 8B recipes with the 8B shape and the sanity chat data in
//! place of their weights and datasets (which a test cannot download), so
//! every other key is checked as shipped, and their plans fit 80 GB devices
//! at 1, 2 and 8 ranks; the LoRA and QLoRA recipes fit one 24 GB device.

mod common;
use common::*;

/// Configs that run on any machine, checked as they are.
const AS_IS: [&str; 6] = [
    "sanity.yaml",
    "sanity-lora.yaml",
    "sanity-dpo.yaml",
    "tiny-pretrain.yaml",
    "sanity-pipeline.yaml",
    "sanity-families.yaml",
];

/// The 8B configs and the sanity data of their objective.
const EIGHT_B: [(&str, &str); 6] = [
    ("llama31-8b-sft.yaml", "sft.jsonl"),
    ("llama31-8b-dpo.yaml", "dpo.jsonl"),
    ("llama31-8b-lora.yaml", "sft.jsonl"),
    ("llama31-8b-qlora.yaml", "sft.jsonl"),
    ("tulu3-8b-sft.yaml", "sft.jsonl"),
    ("tulu3-8b-dpo.yaml", "dpo.jsonl"),
];

/// Pipelines of 8B stages, each stage covered by [`EIGHT_B`].
const PIPELINES_OF_8B: [&str; 1] = ["llama31-8b-pipeline.yaml"];

/// The output of `launch check --device-memory 80GB configs/<config>`,
/// which must succeed.
fn check(config: &str, sets: &[String]) -> String {
    check_on(config, &["--device-memory", "80GB"], sets)
}

/// The output of `launch check <args> configs/<config>`, which must succeed.
fn check_on(config: &str, args: &[&str], sets: &[String]) -> String {
    let stem = config.trim_end_matches(".yaml");
    let dir = scratch(&format!(
        "shipped-{stem}-{}",
        args.join("").replace('-', "")
    ));
    let mut c = launch(&dir);
    c.arg("check")
        .arg(repo_root().join("configs").join(config))
        .args(args);
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
    for (config, data) in EIGHT_B {
        let all = check(config, &shape_8b(data));
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

#[test]
fn the_8b_lora_and_qlora_recipes_fit_one_24gb_device() {
    let cases = [
        (
            "llama31-8b-lora.yaml",
            "LoRA adapters",
            "8,030,261,248 frozen in bf16",
        ),
        (
            "llama31-8b-qlora.yaml",
            "QLoRA adapters",
            "(6,979,321,856 in NF4",
        ),
    ];
    for (config, method, frozen) in cases {
        let args = ["-n", "1", "--device-memory", "24GB"];
        let all = check_on(config, &args, &shape_8b("sft.jsonl"));
        let verdict = "memory at world size 1: ";
        let plan = all.lines().find(|l| l.contains(verdict));
        assert!(
            plan.is_some_and(|l| l.contains("fits in 24.00 GB")),
            "configs/{config}: {all}"
        );
        // r 64 on the seven projections of 32 blocks.
        let line = format!("training: {method} (r 64 on q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj), 167,772,160 trainable parameters");
        assert!(all.contains(&line), "configs/{config}: {all}");
        assert!(all.contains(frozen), "configs/{config}: {all}");
    }
}
