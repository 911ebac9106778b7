//! Absurd model configs are refused naming the field, and the planner
//! answers at once whatever the number of layers.

use super::*;
use crate::memory::Setup;
use crate::memory_fit::{check_plan_size, fewest_recomputed, toggles};
use crate::schema::Dtype;
use serde_json::json;

/// configs/models/tiny-llama.json with `changes` applied.
fn tiny_with(changes: Value) -> Result<ModelShape, String> {
    let mut v: Value =
        serde_json::from_str(include_str!("../../configs/models/tiny-llama.json")).unwrap();
    for (k, x) in changes.as_object().unwrap() {
        v[k] = x.clone();
    }
    ModelShape::from_json(&v.to_string())
}

fn refused(changes: Value, says: &str) {
    let e = tiny_with(changes.clone()).unwrap_err();
    assert!(e.contains(says), "{changes}: {e}");
}

fn setup(micro_batch: u64, seq_len: u64) -> Setup {
    Setup {
        world_size: 1,
        micro_batch,
        seq_len,
        dtype: Dtype::Bf16,
        bits: 32,
        min_8bit_size: 4096,
        rows_per_sequence: 1,
        offload: false,
        overlap: false,
        recomputed: u64::MAX,
    }
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

#[test]
fn a_plan_that_would_overflow_names_the_sequence_length_and_micro_batch() {
    let shape = tiny_with(json!({})).unwrap();
    assert!(check_plan_size(&shape, &setup(2, 4096)).is_ok());
    let e = check_plan_size(&shape, &setup(u64::MAX, u64::MAX)).unwrap_err();
    assert!(e.contains("`data.max_seq_length` 18446744073709551615 and `train.micro_batch_size` 18446744073709551615"), "{e}");
}

#[test]
fn a_million_layers_plan_within_a_second() {
    let shape =
        tiny_with(json!({"num_hidden_layers": 1_000_000, "hidden_size": 512, "head_dim": 128}))
            .unwrap();
    let config = crate::from_str("run_name: t\n", "t.yaml", 1, &[])
        .unwrap()
        .config;
    let start = std::time::Instant::now();
    let s = setup(2, 4096);
    check_plan_size(&shape, &s).unwrap();
    let k = fewest_recomputed(&shape, &s, 80_000_000_000);
    assert!(k <= shape.layers + 1);
    let fits = toggles(&shape, &s, &config, 80_000_000_000);
    let took = start.elapsed();
    assert!(took.as_millis() < 1000, "{took:?} ({fits:?})");
}

#[test]
fn the_fewest_recomputed_units_are_those_a_linear_search_finds() {
    let shape = tiny_with(json!({"num_hidden_layers": 24})).unwrap();
    let s = Setup {
        world_size: 2,
        ..setup(2, 64)
    };
    let bytes = |recomputed| {
        let items = crate::memory::breakdown(&shape, &Setup { recomputed, ..s });
        crate::memory::total(&items, crate::memory::Place::Device)
    };
    for device in (bytes(25) * 100 / 90 - 10..bytes(0) * 100 / 90 + 10).step_by(997) {
        let room = device * 90 / 100;
        let linear = (0..25).find(|&k| bytes(k) <= room).unwrap_or(25);
        assert_eq!(fewest_recomputed(&shape, &s, device), linear, "{device}");
    }
}
