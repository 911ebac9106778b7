//! Bad inputs that only the trainer can see end in one clear message through
//! `launch`: a model config without a required field, a sequence longer than
//! the model allows, a dataset row without tokens, nccl without a GPU.

mod common;
use common::*;
use std::path::Path;

/// Runs the sanity config with `sets` in `dir` and returns launch's output; it must fail.
fn fails(dir: &Path, sets: &[String]) -> String {
    let out = run(dir, sets);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("rank 0 exited with status 1"), "{all}");
    assert!(
        !all.contains("panicked") && !all.contains("RUST_BACKTRACE"),
        "{all}"
    );
    all
}

/// Runs the tiny config with `sets`, which `launch` itself must refuse
/// (exit 2, one error line, no rank started); returns the output.
fn refused(dir: &Path, sets: &[String]) -> String {
    let out = run(dir, sets);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(
        all.contains("launch: error:") && !all.contains("rank 0"),
        "{all}"
    );
    assert!(!all.contains("panicked"), "{all}");
    all
}

/// `launch 1 configs/tiny-pretrain.yaml` with `sets`, writing under `dir`.
fn run(dir: &Path, sets: &[String]) -> std::process::Output {
    let mut cmd = launch(dir);
    cmd.arg("1")
        .arg(repo_root().join("configs/tiny-pretrain.yaml"))
        .current_dir(repo_root());
    for s in sets {
        cmd.arg("--set").arg(s);
    }
    cmd.arg("--set").arg(format!(
        "checkpoint.output_dir={}",
        dir.join("out").display()
    ));
    cmd.output().unwrap()
}

fn model_config(
    dir: &Path,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> String {
    let text = std::fs::read_to_string(repo_root().join("configs/models/tiny-llama.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(json.as_object_mut().unwrap());
    let path = dir.join("config.json");
    std::fs::write(&path, json.to_string()).unwrap();
    format!("model.config={}", path.display())
}

#[test]
fn model_config_without_a_required_field() {
    let dir = scratch("no-field");
    let set = model_config(&dir, |m| {
        m.remove("hidden_size");
    });
    let all = refused(&dir, &[set]);
    assert!(
        all.contains("config.json: missing required field `hidden_size`"),
        "{all}"
    );
}

#[test]
fn sequences_longer_than_the_model_allows() {
    let dir = scratch("too-long");
    let set = model_config(&dir, |m| {
        m.insert("max_position_embeddings".into(), 32.into());
    });
    let all = refused(&dir, &[set]);
    let says = "`max_position_embeddings` (32) is below `data.max_seq_length` (64): the model has no positions for the longer sequences; lower data.max_seq_length";
    assert!(all.contains(says), "{all}");
}

#[test]
fn dataset_row_without_tokens_names_file_and_line() {
    let dir = scratch("bad-row");
    let data = dir.join("rows.jsonl");
    std::fs::write(&data, "{\"input_ids\": [1, 2, 3]}\n{\"text\": \"hello\"}\n").unwrap();
    let all = fails(
        &dir,
        &[format!("data.datasets=[{{path: {}}}]", data.display())],
    );
    assert!(
        all.contains(&format!(
            "{}:2: the row has no `input_ids` list",
            data.display()
        )),
        "{all}"
    );
    std::fs::write(&data, "{\"input_ids\": [1, 2, 3]}\nnot json\n").unwrap();
    let all = fails(
        &dir,
        &[format!("data.datasets=[{{path: {}}}]", data.display())],
    );
    assert!(
        all.contains(&format!("{}:2: not valid JSON", data.display())),
        "{all}"
    );
}

#[test]
fn nccl_without_a_gpu_says_so() {
    if Path::new("/proc/driver/nvidia/version").exists() {
        return; // this machine has a GPU: the message is for machines without one
    }
    let dir = scratch("nccl");
    let all = fails(&dir, &["comm=nccl".to_string()]);
    assert!(all.contains("comm: nccl needs an NVIDIA GPU, and this machine has no NVIDIA driver; use `comm: cpu` (or `auto`)"), "{all}");
}
