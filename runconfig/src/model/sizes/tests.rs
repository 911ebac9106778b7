//! Absurd model configs are refused naming the field.

use super::*;
use serde_json::json;

/// configs/models/tiny-llama.json with `changes` applied.
fn tiny_with(changes: Value) -> Result<ModelShape, String> {
    let mut v: Value =
        serde_json::from_str(include_str!("../../../../configs/models/tiny-llama.json")).unwrap();
    for (k, x) in changes.as_object().unwrap() {
        v[k] = x.clone();
    }
    ModelShape::from_json(&v.to_string())
}

fn refused(changes: Value, says: &str) {
    let e = tiny_with(changes.clone()).unwrap_err();
    assert!(e.contains(says), "{changes}: {e}");
}

#[test]
fn heads_that_do_not_divide_are_refused_naming_the_field() {
    let no_dim = json!({"head_dim": null, "num_key_value_heads": null});
    assert!(tiny_with(no_dim).is_ok());
    let seven = json!({"head_dim": null, "num_key_value_heads": null, "num_attention_heads": 7});
    refused(
        seven,
        "`num_attention_heads` (7) must divide `hidden_size` (64)",
    );
    // An explicit head_dim makes any head count fine.
    let explicit = json!({"num_attention_heads": 7, "num_key_value_heads": 7, "head_dim": 8});
    assert!(tiny_with(explicit).is_ok());
    refused(
        json!({"num_key_value_heads": 3}),
        "`num_key_value_heads` (3) must divide `num_attention_heads` (4)",
    );
    refused(
        json!({"head_dim": 0}),
        "`head_dim` must be a positive whole number, found 0",
    );
}

#[test]
fn zero_sizes_and_non_positive_numerics_are_refused_naming_the_field() {
    for key in [
        "num_hidden_layers",
        "vocab_size",
        "hidden_size",
        "intermediate_size",
    ] {
        refused(
            json!({key: 0}),
            &format!("`{key}` must be a positive whole number"),
        );
    }
    refused(
        json!({"rms_norm_eps": 0.0}),
        "`rms_norm_eps` must be a number above 0",
    );
    refused(
        json!({"rope_theta": -1.0}),
        "`rope_theta` must be a number above 0",
    );
    let nested = json!({"rope_parameters": {"rope_type": "default", "rope_theta": 0}});
    refused(
        nested,
        "`rope_parameters.rope_theta` must be a number above 0",
    );
}

#[test]
fn sizes_that_overflow_a_tensor_or_the_model_are_refused_naming_the_field() {
    refused(
        json!({"vocab_size": 1e18}),
        "`vocab_size` must be a positive whole number",
    );
    let big = 1_000_000_000_000_000_000u64;
    refused(
        json!({"vocab_size": big}),
        "`vocab_size` x `hidden_size` makes a tensor of 64000000000000000000 parameters",
    );
    refused(
        json!({"intermediate_size": u64::MAX}),
        "`intermediate_size` x `hidden_size`",
    );
    refused(
        json!({"num_hidden_layers": u64::MAX}),
        "field `num_hidden_layers` (18446744073709551615) makes a model of",
    );
    refused(
        json!({"num_hidden_layers": 1u64 << 40}),
        "more than the 70368744177664 the planner allows",
    );
}
