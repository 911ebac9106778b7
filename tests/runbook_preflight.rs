//! A pipeline is checked whole before its first stage trains: a typo in a
//! later stage, or a later push the token may not make, ends `launch` with
//! exit 2 naming the stage, and nothing has trained; `launch check` on a
//! pipeline prints every stage's memory plan; the shipped 8B run book
//! passes `launch check` against the Hub ids it names.

mod common;

use common::*;
use std::process::Command;

/// The sanity SFT, then DPO from it with `dpo_set` in its `set:`.
fn sanity_pipeline(home: &TempDir, dpo_set: &str) -> String {
    let c = repo_root().join("configs");
    let text = format!(
        "pipeline: pre\noutput_dir: out\nstages:\n  - name: sft\n    config: {}\n    \
         set: {{ train.sanity_steps: null, train.epochs: null, train.max_steps: 4 }}\n  \
         - name: dpo\n    config: {}\n    from: sft\n    set: {{ {dpo_set} }}\n",
        c.join("sanity.yaml").display(),
        c.join("sanity-dpo.yaml").display(),
    );
    std::fs::write(home.join("p.yaml"), text).unwrap();
    "p.yaml".into()
}

/// `launch 1 p.yaml` exits 2 with one error naming the stage and `part`,
/// and the first stage never started.
fn refused_before_sft(home: &TempDir, env: &[(&str, &str)], part: &str) {
    let out = launch_clean(&["1", "p.yaml"], env, &home.0);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    let errors: Vec<&str> = said.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "{said}");
    assert!(errors[0].contains("stage dpo"), "{said}");
    assert!(errors[0].contains(part), "{said}");
    assert!(!home.join("out/sft").exists(), "sft started: {said}");
}

#[test]
fn a_typo_in_a_later_stage_stops_the_pipeline_before_the_first_trains() {
    let home = TempDir::new("pre-typo");
    sanity_pipeline(&home, "train.max_stepz: 3");
    refused_before_sft(&home, &[], "did you mean `train.max_steps`");
}

#[test]
fn a_later_push_the_token_may_not_make_stops_the_pipeline_before_the_first_trains() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("pre-push");
    // `hub.push` sorts before `hub.repo_id`: one overlay takes both.
    sanity_pipeline(
        &home,
        "hub.push: on_finish, hub.repo_id: someone-else/model",
    );
    let env = [("HF_ENDPOINT", hub.url.as_str()), ("HF_TOKEN", READ_TOKEN)];
    refused_before_sft(&home, &env, "may not write to someone-else/model");
}

#[test]
fn launch_check_prints_each_stage_memory_plan_at_every_world_size() {
    let home = TempDir::new("pre-check");
    sanity_pipeline(&home, "train.max_steps: 4");
    let out = launch_clean(
        &["check", "p.yaml", "--device-memory", "80GB"],
        &[],
        &home.0,
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    for stage in ["stage sft", "stage dpo"] {
        let at = said
            .find(stage)
            .unwrap_or_else(|| panic!("no {stage}: {said}"));
        let part = &said[at..];
        for w in [1, 2, 8] {
            let plan = format!("memory at world size {w}:");
            assert!(part.contains(&plan), "{stage}: no {plan}\n{said}");
        }
    }
    assert_eq!(said.matches("fits in 80.00 GB").count(), 6, "{said}");
    // --set applies to every stage, as `launch N` applies it.
    let out = launch_clean(
        &[
            "check",
            "p.yaml",
            "-n",
            "2",
            "--set",
            "train.micro_batch_size=3",
        ],
        &[],
        &home.0,
    );
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("stage sft"), "{said}");
}

const STUB_MODEL: &str = r#"
import json, shutil, sys
import torch
from safetensors.torch import save_file
out, shape, tok = sys.argv[1], sys.argv[2], sys.argv[3]
import os; os.makedirs(out, exist_ok=True)
shutil.copy(shape, f"{out}/config.json")
shutil.copy(f"{tok}/tokenizer.json", f"{out}/tokenizer.json")
shutil.copy(f"{tok}/tokenizer_config.json", f"{out}/tokenizer_config.json")
save_file({"stub": torch.zeros(4)}, f"{out}/model.safetensors")
"#;

#[test]
fn the_shipped_8b_run_book_passes_launch_check_against_its_hub_ids() {
    let hub = LocalHub::start(&[
        "--org",
        "meta-llama=alice",
        "--org",
        "allenai=alice",
        "--org",
        "my-org=alice",
    ]);
    let home = TempDir::new("pre-8b");
    let root = repo_root();
    let model = home.join("stub-model");
    let py = common::python_with("safetensors");
    let out = Command::new(py)
        .args(["-c", STUB_MODEL, model.to_str().unwrap()])
        .arg(root.join("configs/models/llama31-8b-shape.json"))
        .arg(root.join("data/sanity-chat"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let upload = |repo: &str, folder: &std::path::Path, kind: &str| {
        let out = Command::new(root.join("scripts/hub-python-upload"))
            .args([repo, folder.to_str().unwrap(), "--repo-type", kind])
            .env("HF_ENDPOINT", &hub.url)
            .env("HF_TOKEN", TOKEN)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
    };
    upload("meta-llama/Llama-3.1-8B", &model, "model");
    for (repo, rows) in [
        ("allenai/tulu-3-sft-mixture", "sft.jsonl"),
        (
            "allenai/llama-3.1-tulu-3-8b-preference-mixture",
            "dpo.jsonl",
        ),
    ] {
        let folder = home.join(repo);
        std::fs::create_dir_all(folder.join("data")).unwrap();
        std::fs::copy(
            root.join("data/sanity-chat").join(rows),
            folder.join("data/train.jsonl"),
        )
        .unwrap();
        upload(repo, &folder, "dataset");
    }
    let hf = home.join("hf");
    let env = [
        ("HF_ENDPOINT", hub.url.as_str()),
        ("HF_HOME", hf.to_str().unwrap()),
        ("HF_TOKEN", TOKEN),
    ];
    let pipeline = root.join("configs/llama31-8b-pipeline.yaml");
    let args = [
        "check",
        pipeline.to_str().unwrap(),
        "-n",
        "8",
        "--device-memory",
        "80GB",
    ];
    let out = launch_clean(&args, &env, &home.0);
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("stage sft") && said.contains("stage dpo"),
        "{said}"
    );
    assert_eq!(said.matches("memory at world size 8:").count(), 2, "{said}");
    assert!(
        said.contains("may write to my-org/Llama-3.1-8B-DPO"),
        "{said}"
    );
}
