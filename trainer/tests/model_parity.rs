//! Parity with Hugging Face transformers on the tiny reference checkpoints of
//! `scripts/make-reference-models`: logits, loss, and five AdamW steps (the
//! messages of bad inputs: model_inputs.rs).

mod common;

use common::parity::{check_forward, check_training};

#[test]
fn forward_parity_gqa() {
    check_forward("gqa");
}

#[test]
fn forward_parity_tied_embeddings_bf16_checkpoint() {
    check_forward("tied");
}

#[test]
fn forward_parity_qwen2_qkv_bias() {
    check_forward("qwen2_bias");
}

#[test]
fn forward_parity_qwen3_qk_norms_own_head_dim() {
    check_forward("qwen3");
}

#[test]
fn forward_parity_qwen3_tied_attention_bias() {
    check_forward("qwen3_tied_bias");
}

#[test]
fn forward_parity_llama3_rope_long_positions_legacy_keys() {
    check_forward("llama3_rope");
}

#[test]
fn forward_parity_llama_attention_bias_sharded_f16() {
    check_forward("llama_bias");
}

#[test]
fn training_parity_gqa() {
    check_training("gqa");
}

#[test]
fn training_parity_tied_embeddings() {
    check_training("tied");
}

#[test]
fn training_parity_qwen2_qkv_bias() {
    check_training("qwen2_bias");
}

#[test]
fn training_parity_qwen3_qk_norms() {
    check_training("qwen3");
}

#[test]
fn training_parity_qwen3_tied_attention_bias() {
    check_training("qwen3_tied_bias");
}

#[test]
fn training_parity_llama3_rope() {
    check_training("llama3_rope");
}

#[test]
fn training_parity_llama_attention_bias() {
    check_training("llama_bias");
}
