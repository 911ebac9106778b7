//! Mistral, OLMo 2 and Gemma 3: their defaults as their config classes
//! give them, their layers' attention, and the keys each refuses.

use super::super::super::config::{Activation, RopeConfig};
use super::super::super::family::{BlockNorms, Family, QkNorm};
use super::super::super::units::{unit_params, UnitKind};
use super::parse;

fn rope(theta: f64, linear_factor: f64) -> RopeConfig {
    RopeConfig {
        theta,
        llama3: None,
        linear_factor,
    }
}

#[test]
fn mistral_windows_every_layer_with_its_config_class_default() {
    let c = parse(r#", "model_type": "mistral""#).unwrap();
    assert_eq!(c.family, Family::Mistral);
    assert_eq!(c.attention.window, Some(4096));
    assert_eq!(c.attention.local_layers, [true, true]);
    let c = parse(r#", "model_type": "mistral", "sliding_window": 8"#).unwrap();
    assert_eq!(
        (c.attention.window_of(0), c.attention.window_of(1)),
        (Some(8), Some(8))
    );
    let c = parse(r#", "model_type": "mistral", "sliding_window": null"#).unwrap();
    assert_eq!(c.attention.window_of(1), None);
    assert!(!c.qkv_bias && !c.o_bias);
    let e = parse(r#", "model_type": "mistral", "attention_bias": true"#).unwrap_err();
    assert!(e
        .to_string()
        .contains("field `attention_bias` is not supported for model_type \"mistral\""));
    let e = parse(r#", "model_type": "mistral", "sliding_window": 0"#).unwrap_err();
    assert!(e
        .to_string()
        .contains("`sliding_window` must be a positive integer"));
}

#[test]
fn olmo2_norms_follow_the_branches_and_the_whole_projections() {
    let c = parse(r#", "model_type": "olmo2", "num_key_value_heads": 2"#).unwrap();
    assert_eq!(c.family.block_norms(), BlockNorms::Post);
    assert_eq!((c.rms_norm_eps, c.pad_token_id), (1e-5, Some(1)));
    let names: Vec<(String, Vec<u64>)> = unit_params(&c.shape(), UnitKind::Block(0));
    let norm = |n: &str| {
        names
            .iter()
            .find(|(k, _)| k.ends_with(n))
            .map(|(_, s)| s.clone())
    };
    assert_eq!(norm("self_attn.q_norm.weight"), Some(vec![64]));
    assert_eq!(norm("self_attn.k_norm.weight"), Some(vec![32]));
    assert_eq!(norm("post_feedforward_layernorm.weight"), Some(vec![64]));
    assert_eq!(norm("input_layernorm.weight"), None);
    // null keeps no padding row, as transformers reads it.
    let c = parse(r#", "model_type": "olmo2", "pad_token_id": null"#).unwrap();
    assert_eq!(c.pad_token_id, None);
}

#[test]
fn gemma3_defaults_are_its_config_class_defaults() {
    let c = parse(r#", "model_type": "gemma3_text""#).unwrap();
    assert_eq!(c.family.qk_norm(), QkNorm::PerHead);
    assert_eq!(c.family.block_norms(), BlockNorms::Sandwich);
    assert_eq!((c.head_dim, c.query_pre_attn_scalar), (256, 256.0));
    assert!(c.tie_word_embeddings && c.pad_token_id == Some(0));
    assert_eq!(c.activation, Activation::GeluTanh);
    assert_eq!(c.final_logit_softcapping, None);
    assert_eq!(c.rope, rope(1e6, 1.0));
    assert_eq!(c.attention.local_rope, Some(rope(1e4, 1.0)));
    // Five local layers, then a global one.
    let c = parse(r#", "model_type": "gemma3_text", "num_hidden_layers": 7"#).unwrap();
    let local: Vec<bool> = (0..7).map(|i| c.attention.window_of(i).is_some()).collect();
    assert_eq!(local, [true, true, true, true, true, false, true]);
}

#[test]
fn gemma3_reads_both_spellings_of_its_layers_and_rotations() {
    let new = parse(
        r#", "model_type": "gemma3_text", "sliding_window": 8, "query_pre_attn_scalar": 20,
           "layer_types": ["sliding_attention", "full_attention"],
           "attn_logit_softcapping": null, "final_logit_softcapping": 10.0,
           "rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 8.0, "rope_theta": 1000000.0},
                               "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}"#,
    )
    .unwrap();
    let old = parse(
        r#", "model_type": "gemma3_text", "sliding_window": 8, "query_pre_attn_scalar": 20,
           "sliding_window_pattern": 2, "rope_theta": 1000000.0, "rope_local_base_freq": 10000.0,
           "rope_scaling": {"rope_type": "linear", "factor": 8.0},
           "final_logit_softcapping": 10.0"#,
    )
    .unwrap();
    assert_eq!(new, old);
    assert_eq!(new.rope, rope(1e6, 8.0));
    assert_eq!(new.attention.window_of(0), Some(8));
    assert_eq!(new.attention.window_of(1), None);
    assert_eq!(new.final_logit_softcapping, Some(10.0));
}

#[test]
fn gemma3_refuses_what_it_cannot_compute() {
    let e = |extra: &str| {
        parse(&format!(r#", "model_type": "gemma3_text"{extra}"#))
            .unwrap_err()
            .to_string()
    };
    assert!(e(r#", "use_bidirectional_attention": true"#).contains("`use_bidirectional_attention`"));
    assert!(e(r#", "layer_types": ["full_attention"]"#).contains("one type per layer (2)"));
    assert!(
        e(r#", "layer_types": ["chunked_attention", "full_attention"]"#)
            .contains("\"chunked_attention\"")
    );
    assert!(e(r#", "hidden_activation": "gelu""#).contains("`hidden_activation`"));
    assert!(e(r#", "hidden_act": "silu""#).contains("field `hidden_act` is not supported"));
    assert!(e(r#", "final_logit_softcapping": -1"#).contains("must be a number above 0"));
    assert!(e(r#", "attn_logit_softcapping": 50.0"#).contains("does not apply it"));
}

#[test]
fn keys_no_family_reads_are_refused_by_name() {
    let e = parse(r#", "num_experts": 8"#).unwrap_err().to_string();
    assert!(
        e.starts_with("cfg.json: field `num_experts` is not supported for model_type \"llama\""),
        "{e}"
    );
    // Another family's field, null keys and harmless keys.
    let e = parse(r#", "query_pre_attn_scalar": 20"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`query_pre_attn_scalar`"), "{e}");
    assert!(parse(r#", "quantization_config": null, "torch_dtype": "bfloat16""#).is_ok());
    assert!(parse(
        r#", "model_type": "qwen3", "layer_types": ["full_attention", "sliding_attention"]"#
    )
    .unwrap_err()
    .to_string()
    .contains("sliding windows are switched off"));
    let e = parse(r#", "attention_dropout": 0.1"#)
        .unwrap_err()
        .to_string();
    assert!(e.contains("`attention_dropout` is 0.1"), "{e}");
    let e = parse(r#", "auto_map": {"AutoModelForCausalLM": "modeling.Model"}"#).unwrap_err();
    assert!(e.to_string().contains("`auto_map`"));
}
