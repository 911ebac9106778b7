//! What the family's rules accept, default and refuse.

use super::super::config::RopeConfig;
use super::super::family::QkNorm;
use super::*;

mod families;

const BASE: &str = r#""hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
    "num_attention_heads": 4, "vocab_size": 100"#;

fn parse(extra: &str) -> Result<LlamaConfig> {
    LlamaConfig::from_json_str(&format!("{{{BASE}{extra}}}"), "cfg.json")
}

#[test]
fn defaults_follow_transformers() {
    let c = parse("").unwrap();
    assert_eq!((c.num_key_value_heads, c.head_dim), (4, 16));
    assert_eq!(
        c.rope,
        RopeConfig {
            theta: 10000.0,
            llama3: None,
            linear_factor: 1.0,
        }
    );
    assert_eq!((c.rms_norm_eps, c.initializer_range), (1e-6, 0.02));
    assert!(!c.tie_word_embeddings && !c.qkv_bias && !c.o_bias);
}

#[test]
fn both_rope_spellings_agree() {
    let new = parse(
        r#", "rope_parameters": {"rope_type": "llama3", "rope_theta": 500000.0, "factor": 8.0,
           "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}"#,
    )
    .unwrap();
    let old = parse(
        r#", "rope_theta": 500000.0, "rope_scaling": {"type": "llama3", "factor": 8.0,
           "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}"#,
    )
    .unwrap();
    assert_eq!(new.rope, old.rope);
    assert_eq!(
        new.rope.llama3.unwrap().original_max_position_embeddings,
        8192
    );
}

#[test]
fn qwen2_has_qkv_bias_only() {
    let c = parse(r#", "model_type": "qwen2""#).unwrap();
    assert!(c.qkv_bias && !c.o_bias);
    let c = parse(r#", "attention_bias": true"#).unwrap();
    assert!(c.qkv_bias && c.o_bias);
}

#[test]
fn qwen3_has_qk_norms_its_own_head_dim_and_biases_only_when_asked() {
    let c = parse(r#", "model_type": "qwen3", "head_dim": 24"#).unwrap();
    assert!(c.family.qk_norm() == QkNorm::PerHead && !c.qkv_bias && !c.o_bias);
    assert_eq!(c.head_dim, 24);
    // Qwen3's config class defaults to 128, not hidden / heads.
    assert_eq!(parse(r#", "model_type": "qwen3""#).unwrap().head_dim, 128);
    let c = parse(r#", "model_type": "qwen3", "attention_bias": true"#).unwrap();
    assert!(c.qkv_bias && c.o_bias);
    assert_eq!(parse("").unwrap().family.qk_norm(), QkNorm::None);
    let c = parse(r#", "model_type": "qwen2""#).unwrap();
    assert_eq!(c.family.qk_norm(), QkNorm::None);
    let shape = ModelShape::from_json(&format!(r#"{{{BASE}, "model_type": "qwen3"}}"#)).unwrap();
    assert_eq!(shape, parse(r#", "model_type": "qwen3""#).unwrap().shape());
}

#[test]
fn qwen3_sliding_window_is_refused() {
    let e = parse(r#", "model_type": "qwen3", "use_sliding_window": true, "sliding_window": 16"#)
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "cfg.json: field `use_sliding_window` is true; sliding-window attention is not supported"
    );
    assert!(parse(r#", "model_type": "qwen3", "use_sliding_window": false"#).is_ok());
}

#[test]
fn refusals_name_the_field() {
    let e = |extra: &str| parse(extra).unwrap_err().to_string();
    assert!(e(r#", "hidden_act": "gelu""#).contains("`hidden_act`"));
    assert!(e(r#", "mlp_bias": true"#).contains("`mlp_bias`"));
    assert!(e(r#", "rope_scaling": {"rope_type": "yarn", "factor": 4.0}"#).contains("\"yarn\""));
    assert!(e(r#", "num_key_value_heads": 3"#).contains("multiple"));
    assert!(e(r#", "rms_norm_eps": "small""#).contains("field `rms_norm_eps` must be a number"));
    assert!(e(r#", "rms_norm_eps": 0"#).contains("`rms_norm_eps` must be a number above 0"));
    assert!(e(r#", "vocab_size": 1000000000000000000"#).contains("`vocab_size` x `hidden_size`"));
    let e = LlamaConfig::from_json_str(
        r#"{"hidden_size": 8, "num_attention_heads": 2}"#,
        "x/config.json",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "x/config.json: missing required field `intermediate_size`"
    );
}

#[test]
fn another_model_type_is_refused_listing_the_supported_ones() {
    let e = parse(r#", "model_type": "gpt2""#).unwrap_err().to_string();
    assert_eq!(
        e,
        r#"cfg.json: field `model_type` is "gpt2"; supported: "llama", "qwen2", "qwen3", "mistral", "olmo2", "gemma3_text""#
    );
}
