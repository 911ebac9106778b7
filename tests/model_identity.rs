//! The model's config.json is part of a run's identity: a resume after the
//! file was edited in place is refused, naming the changed fields with both
//! values and the ways out.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

/// `launch 1 configs/tiny-pretrain.yaml` for 2 steps (a checkpoint at each),
/// with the model config `model` and the outputs under `dir/out`.
fn run(dir: &Path, model: &Path) -> (Option<i32>, String) {
    let model = format!("model.config={}", model.display());
    let sets = ["train.max_steps=2", "checkpoint.every_steps=1", &model];
    let out = tiny_pretrain(dir, 1, &dir.join("out"), &sets)
        .output()
        .unwrap();
    (out.status.code(), text(&out))
}

/// Sets `key` of the JSON file `path` to `value`, in place.
fn edit(path: &Path, key: &str, value: Value) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v[key] = value;
    std::fs::write(path, v.to_string()).unwrap();
}

#[test]
fn a_resume_after_config_json_changed_in_place_is_refused_naming_the_fields() {
    let dir = scratch("model-identity");
    let model = dir.join("config.json");
    std::fs::copy(repo_root().join("configs/models/tiny-llama.json"), &model).unwrap();
    let (code, all) = run(&dir, &model);
    assert_eq!(code, Some(0), "{all}");

    edit(&model, "rope_theta", 500000.0.into());
    let (code, all) = run(&dir, &model);
    assert_ne!(code, Some(0), "{all}");
    assert!(
        all.contains("config.json changed since the checkpoint"),
        "{all}"
    );
    assert!(all.contains("(rope_theta: 10000.0 -> 500000.0)"), "{all}");
    assert!(all.contains("--set checkpoint.resume=never"), "{all}");
    assert!(!all.contains("panicked"), "{all}");

    // A shape change names the shape, not a tensor's element count.
    edit(&model, "rope_theta", 10000.0.into());
    edit(&model, "intermediate_size", 192.into());
    let (code, all) = run(&dir, &model);
    assert_ne!(code, Some(0), "{all}");
    assert!(
        all.contains(
            "(intermediate_size: 176 -> 192): resuming would train a model of another shape"
        ),
        "{all}"
    );
    assert!(!all.contains("elements"), "{all}");
}
