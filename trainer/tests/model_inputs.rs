//! Bad model inputs end in one clear message: a config.json with a missing
//! field or an unsupported activation, a missing tensor, a wrong shape, a
//! folder without weights.

mod common;

use common::{scratch, variant};
use tch::{Device, Kind};
use trainer::model::testing::load_named;
use trainer::model::{validate, LlamaConfig, SafetensorsWeights};

/// A copy of the `gqa` checkpoint whose config.json is edited by `edit`.
fn edited_copy(
    test: &str,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> std::path::PathBuf {
    let src = variant("gqa");
    let dir = scratch(test);
    std::fs::copy(src.join("model.safetensors"), dir.join("model.safetensors")).unwrap();
    let text = std::fs::read_to_string(src.join("config.json")).unwrap();
    let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(json.as_object_mut().unwrap());
    std::fs::write(dir.join("config.json"), json.to_string()).unwrap();
    dir
}

#[test]
fn config_missing_field_names_file_and_field() {
    let dir = edited_copy("missing-field", |m| {
        m.remove("vocab_size");
    });
    let path = dir.join("config.json");
    let err = LlamaConfig::load(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!("{}: missing required field `vocab_size`", path.display())
    );
}

#[test]
fn config_unsupported_activation_is_refused() {
    let dir = edited_copy("gelu", |m| {
        m.insert("hidden_act".into(), "gelu".into());
    });
    let path = dir.join("config.json");
    let err = LlamaConfig::load(&path).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "{}: field `hidden_act` is \"gelu\"; only \"silu\" is supported",
            path.display()
        )
    );
}

#[test]
fn missing_tensor_is_named_with_the_file() {
    let dir = edited_copy("missing-tensor", |m| {
        m.insert("num_hidden_layers".into(), 3.into());
    });
    let cfg = LlamaConfig::load(dir.join("config.json")).unwrap();
    let weights = SafetensorsWeights::open(&dir).unwrap();
    let err = validate(&cfg, &weights).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "tensor model.layers.2.self_attn.q_proj.weight not found in {}",
            dir.join("model.safetensors").display()
        )
    );
    // The same through the sharded index.
    let sharded = variant("llama_bias");
    let mut cfg = LlamaConfig::load(sharded.join("config.json")).unwrap();
    cfg.num_hidden_layers = 3;
    let err = validate(&cfg, &SafetensorsWeights::open(&sharded).unwrap()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "tensor model.layers.2.self_attn.q_proj.weight not found in {}",
            sharded.join("model.safetensors.index.json").display()
        )
    );
}

#[test]
fn wrong_shape_says_expected_and_found() {
    let dir = edited_copy("wrong-shape", |m| {
        m.insert("intermediate_size".into(), 128.into());
    });
    let cfg = LlamaConfig::load(dir.join("config.json")).unwrap();
    let weights = SafetensorsWeights::open(&dir).unwrap();
    let err = load_named(&cfg, &weights, Kind::Float, Device::Cpu).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "tensor model.layers.0.mlp.gate_proj.weight in {}: expected shape [128, 64], found [160, 64]",
            dir.join("model.safetensors").display()
        )
    );
}

#[test]
fn folder_without_weights_is_an_error() {
    let dir = scratch("no-weights");
    let err = SafetensorsWeights::open(&dir).err().unwrap().to_string();
    assert_eq!(
        err,
        format!(
            "no weights in {}: expected model.safetensors or model.safetensors.index.json",
            dir.display()
        )
    );
}
