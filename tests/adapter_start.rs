//! A run from a PEFT adapter (`model.adapter`): one that peft saved loads
//! and trains on from its own weights (its first loss is the one
//! transformers + peft compute, and at learning rate 0 the export holds its
//! bytes); an adapter made for another base model, a `lora.r` that
//! disagrees and a folder without weights are refused in one line before
//! anything starts; a Hub id works like a folder.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// A tiny base and a peft adapter for it in `home/NAME` (see
/// [`PEFT_ADAPTER`]), with the loss peft computes on its rows.
fn made(home: &TempDir, name: &str, intermediate: u32) -> f64 {
    let data = repo_root().join("data/sanity-chat");
    let out = Command::new(python_with("peft"))
        .args(["-c", PEFT_ADAPTER])
        .arg(home.join(name))
        .arg(data)
        .arg(intermediate.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let loss = stdout.lines().find_map(|l| l.strip_prefix("LOSS "));
    loss.expect("the script prints LOSS")
        .trim()
        .parse()
        .unwrap()
}

/// `c.yaml` in `home`: SFT on the made rows in their order, one step of the
/// whole batch at learning rate 0, from `made/base` with `adapter`.
fn config(home: &TempDir, adapter: &str) -> String {
    let made = home.join("made");
    let yaml = format!(
        "run_name: from-adapter\n\
         model: {{ path: {}, adapter: {adapter}, dtype: f32 }}\n\
         data: {{ objective: sft, max_seq_length: 32, shuffle: false, datasets: [{{ path: {} }}] }}\n\
         train: {{ max_steps: 1, micro_batch_size: 4, effective_batch_size: 4, learning_rate: 0.0, threads: 1 }}\n\
         logging: {{ every_steps: 1 }}\ncomm: cpu\ncheckpoint: {{ output_dir: {} }}\n",
        made.join("base").display(),
        made.join("data.jsonl").display(),
        home.join("out").display()
    );
    std::fs::write(home.join("c.yaml"), yaml).unwrap();
    "c.yaml".into()
}

/// The run in `out` began at peft's loss and exported the adapter it was
/// given, byte for byte (learning rate 0).
fn assert_started_from_the_adapter(out: &Path, adapter: &Path, peft_loss: f64) {
    let first = losses(&out.join("metrics.jsonl"))[&1];
    assert!(
        (first - peft_loss).abs() <= 1e-5 * peft_loss,
        "step-1 loss {first}, peft's {peft_loss}"
    );
    let name = "adapter_model.safetensors";
    let exported = tensor_bytes(&out.join("final").join(name));
    assert!(exported.contains_key("base_model.model.lm_head.weight"));
    assert!(
        exported == tensor_bytes(&adapter.join(name)),
        "the exported adapter differs from the one the run started from"
    );
}

#[test]
fn an_adapter_saved_by_peft_trains_on_from_its_own_weights() {
    let home = TempDir::new("adapter-peft");
    let loss = made(&home, "made", 128);
    let adapter = home.join("made/adapter");
    let cfg = config(&home, &adapter.display().to_string());
    let out = launch_clean(&["1", &cfg], &[], &home.0);
    assert!(out.status.success(), "{}", text(&out));
    assert_started_from_the_adapter(&home.join("out"), &adapter, loss);
    let written = std::fs::read_to_string(home.join("out/final/adapter_config.json")).unwrap();
    let written: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(written["r"], 4);
    assert_eq!(written["modules_to_save"], serde_json::json!(["lm_head"]));
    // With a learning rate, the same start trains the adapters on.
    let sets = [
        "--set",
        "train.learning_rate=0.01",
        "--set",
        "train.max_steps=4",
        "--set",
        "checkpoint.output_dir=trained",
    ];
    let args: Vec<&str> = ["1", cfg.as_str()].into_iter().chain(sets).collect();
    let out = launch_clean(&args, &[], &home.0);
    assert!(out.status.success(), "{}", text(&out));
    let steps = losses(&home.join("trained/metrics.jsonl"));
    assert!((steps[&1] - loss).abs() <= 1e-5 * loss, "{steps:?}");
    assert!(steps[&4] < steps[&1], "{steps:?}");
}

#[test]
fn an_adapter_for_another_base_or_with_another_r_is_refused_before_anything_trains() {
    let home = TempDir::new("adapter-refused");
    made(&home, "made", 128);
    made(&home, "other", 96);
    let cfg = config(&home, &home.join("made/adapter").display().to_string());
    let other = format!("model.adapter={}", home.join("other/adapter").display());
    refused_before_start(
        &home.0,
        &[&cfg, "--set", &other],
        &[],
        "of shape [4, 96], where this model's is [4, 128]: an adapter made for another base model",
    );
    let disagree = format!(
        "`lora.r` is 8 but the adapter at {} has r 4",
        home.join("made/adapter").display()
    );
    refused_before_start(&home.0, &[&cfg, "--set", "lora.r=8"], &[], &disagree);
    let empty = home.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::copy(
        home.join("made/adapter/adapter_config.json"),
        empty.join("adapter_config.json"),
    )
    .unwrap();
    let set = format!("model.adapter={}", empty.display());
    refused_before_start(
        &home.0,
        &[&cfg, "--set", &set],
        &[],
        "has no adapter_model.safetensors",
    );
    assert!(!home.join("out").exists(), "nothing may be written");
}

#[test]
fn an_adapter_by_hub_id_is_fetched_and_trains_like_a_folder() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("adapter-hub");
    let loss = made(&home, "made", 128);
    let adapter = home.join("made/adapter");
    let upload = Command::new(repo_root().join("scripts/hub-python-upload"))
        .arg("acme/tiny-lora")
        .arg(&adapter)
        .env("HF_ENDPOINT", &hub.url)
        .env("HF_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(upload.status.success(), "{}", text(&upload));
    let cfg = config(&home, "acme/tiny-lora");
    let hf = home.join("hf");
    let env = [
        ("HF_ENDPOINT", hub.url.as_str()),
        ("HF_HOME", hf.to_str().unwrap()),
    ];
    let check = launch_clean(&["check", &cfg, "-n", "1"], &env, &home.0);
    assert!(check.status.success(), "{}", text(&check));
    assert!(
        text(&check).contains("`model.adapter`: acme/tiny-lora@main"),
        "{}",
        text(&check)
    );
    // The settings of an adapter fetched by id are the run's, as a folder's.
    let set = ["--set", "lora.r=8"];
    let args: Vec<&str> = [cfg.as_str()].into_iter().chain(set).collect();
    refused_before_start(&home.0, &args, &env, "`lora.r` is 8 but the adapter at");
    let set = ["--set", "model.adapter_revision=nobranch"];
    let args: Vec<&str> = [cfg.as_str()].into_iter().chain(set).collect();
    let part = "acme/tiny-lora has no revision \"nobranch\" (`model.adapter_revision`";
    refused_before_start(&home.0, &args, &env, part);
    let out = launch_clean(&["1", &cfg], &env, &home.0);
    assert!(out.status.success(), "{}", text(&out));
    let cache = hf.join("hub/models--acme--tiny-lora");
    let commit = std::fs::read_to_string(cache.join("refs/main")).unwrap();
    let snapshot = cache.join("snapshots").join(commit.trim());
    assert!(
        std::fs::read_link(snapshot.join("adapter_model.safetensors"))
            .unwrap()
            .starts_with("../../blobs")
    );
    assert_started_from_the_adapter(&home.join("out"), &adapter, loss);
}
