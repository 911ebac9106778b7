//! An absurd model config.json is refused by `launch check` and `launch`
//! before anything is allocated or spawned, with the field named and no
//! panic; a deep model is planned at once, whatever its layer count.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// A scratch folder holding configs/models/tiny-llama.json with `changes`
/// applied, and c.yaml training that model on the counting data.
fn doctored(name: &str, changes: Value) -> PathBuf {
    let dir = scratch(name);
    let tiny = repo_root().join("configs/models/tiny-llama.json");
    let mut model: Value = serde_json::from_str(&std::fs::read_to_string(tiny).unwrap()).unwrap();
    for (k, v) in changes.as_object().unwrap() {
        model[k] = v.clone();
    }
    std::fs::write(dir.join("config.json"), model.to_string()).unwrap();
    let data = repo_root().join("data/sanity/counting.jsonl");
    let yaml = format!(
        "run_name: t\nmodel: {{ config: config.json }}\ndata: {{ max_seq_length: 64, datasets: [{{ path: {} }}] }}\ntrain: {{ max_steps: 2 }}\n",
        data.display()
    );
    std::fs::write(dir.join("c.yaml"), yaml).unwrap();
    dir
}

/// `launch check` and `launch 1` both exit 2 with one error line naming
/// `says`, without a panic and without spawning anything.
fn both_refuse(dir: &Path, says: &str) {
    for first in ["check", "1"] {
        let out = launch(dir).args([first, "c.yaml"]).output().unwrap();
        let all = text(&out);
        assert_eq!(out.status.code(), Some(2), "{first}: {all}");
        let errors: Vec<&str> = all.lines().filter(|l| l.contains("error:")).collect();
        assert_eq!(errors.len(), 1, "{first}: one message: {all}");
        assert!(
            errors[0].contains("config.json") && errors[0].contains(says),
            "{first}: {says:?} in {all}"
        );
        assert!(!all.contains("panicked"), "{all}");
        assert!(
            !dir.join("logs").exists(),
            "{first}: nothing spawned: {all}"
        );
    }
}

#[test]
fn heads_that_do_not_divide_the_hidden_size_are_refused_naming_the_field() {
    let dir = doctored(
        "heads7",
        json!({"num_attention_heads": 7, "num_key_value_heads": 7, "head_dim": null}),
    );
    both_refuse(
        &dir,
        "`num_attention_heads` (7) must divide `hidden_size` (64)",
    );
}

#[test]
fn a_vocabulary_of_1e18_is_refused_without_a_panic() {
    let dir = doctored("vocab-float", json!({"vocab_size": 1e18}));
    both_refuse(&dir, "`vocab_size` must be a positive whole number");
    let dir = doctored(
        "vocab-int",
        json!({"vocab_size": 1_000_000_000_000_000_000u64}),
    );
    both_refuse(&dir, "`vocab_size` x `hidden_size` makes a tensor of");
}

#[test]
fn non_positive_numerics_and_short_positions_are_refused_naming_the_field() {
    let dir = doctored("eps", json!({"rms_norm_eps": 0}));
    both_refuse(&dir, "`rms_norm_eps` must be a number above 0");
    let dir = doctored("theta", json!({"rope_theta": -10000.0}));
    both_refuse(&dir, "`rope_theta` must be a number above 0");
    let dir = doctored("positions", json!({"max_position_embeddings": 32}));
    both_refuse(
        &dir,
        "`max_position_embeddings` (32) is below `data.max_seq_length` (64)",
    );
}

#[test]
fn a_qwen3_sliding_window_or_another_model_type_is_refused_naming_the_field() {
    let qwen3 = json!({"model_type": "qwen3", "head_dim": 16, "use_sliding_window": true});
    let dir = doctored("qwen3-sliding", qwen3);
    both_refuse(
        &dir,
        "field `use_sliding_window` is true; sliding-window attention is not supported",
    );
    let dir = doctored("gpt2", json!({"model_type": "gpt2"}));
    both_refuse(
        &dir,
        r#"field `model_type` is "gpt2"; supported: "llama", "qwen2", "qwen3", "mistral", "olmo2", "gemma3_text""#,
    );
}

#[test]
fn a_field_the_family_does_not_read_is_refused_naming_it() {
    let dir = doctored("experts", json!({"num_experts": 8}));
    both_refuse(
        &dir,
        r#"field `num_experts` is not supported for model_type "llama""#,
    );
    let gemma =
        json!({"model_type": "gemma3_text", "hidden_act": null, "attn_logit_softcapping": 50.0});
    let dir = doctored("gemma-attn-cap", gemma);
    both_refuse(&dir, "field `attn_logit_softcapping` is 50");
    let mistral = json!({"model_type": "mistral", "attention_bias": true});
    let dir = doctored("mistral-bias", mistral);
    both_refuse(
        &dir,
        r#"field `attention_bias` is not supported for model_type "mistral""#,
    );
}

#[test]
fn a_million_layers_are_planned_against_a_device_within_a_second() {
    let dir = doctored("deep", json!({"num_hidden_layers": 1_000_000}));
    let start = std::time::Instant::now();
    let out = launch(&dir)
        .args(["check", "c.yaml", "--device-memory", "80GB"])
        .output()
        .unwrap();
    let took = start.elapsed();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(all.contains("of 1000001 units recomputed"), "{all}");
    assert!(took.as_millis() < 1000, "launch check took {took:?}");
}
