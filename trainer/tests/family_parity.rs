//! Mistral, OLMo 2 and Gemma 3 against transformers' own classes
//! (MistralForCausalLM with a window shorter than the sequence,
//! Olmo2ForCausalLM, Gemma3ForCausalLM with local and global layers and a
//! final soft cap, and Gemma 3 from the older Hub spelling of its config):
//! logits and loss in f32 and bf16, and five AdamW steps.

mod common;

use common::parity::{check_forward, check_training, load, TOL};
use common::{read_tensors, rel_err, variant};
use tch::Kind;
use trainer::model::testing::forward_with_ctx;
use trainer::model::Ctx;

#[test]
fn forward_parity_mistral_sliding_window() {
    check_forward("mistral_window");
}

#[test]
fn forward_parity_olmo2_post_norms_whole_qk_norms() {
    check_forward("olmo2");
}

#[test]
fn forward_parity_gemma3_local_global_layers_final_softcap() {
    check_forward("gemma3");
}

#[test]
fn forward_parity_gemma3_legacy_config_keys() {
    check_forward("gemma3_legacy");
}

#[test]
fn training_parity_mistral_sliding_window() {
    check_training("mistral_window");
}

#[test]
fn training_parity_olmo2() {
    check_training("olmo2");
}

#[test]
fn training_parity_gemma3() {
    check_training("gemma3");
}

#[test]
fn training_parity_gemma3_legacy() {
    check_training("gemma3_legacy");
}

/// Packed rows under a sliding window: each document attends only within
/// itself and within the window, as if run alone through transformers.
#[test]
fn packed_rows_attend_within_their_document_and_window() {
    let dir = variant("mistral_window");
    let (cfg, named) = load(&dir, Kind::Float);
    let p = read_tensors(&dir.join("packed.safetensors"));
    let ctx = Ctx::packed_from_positions(&cfg, &p["position_ids"], Kind::Float).unwrap();
    let logits = forward_with_ctx(&cfg, &named, &p["input_ids"], &ctx).unwrap();
    let err = rel_err(&logits, &p["logits"]);
    println!("packed mistral_window: logits rel err {err:.2e}");
    assert!(err < TOL, "packed logits rel err {err:e}");
}
