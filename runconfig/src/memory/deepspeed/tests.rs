//! DeepSpeed's estimate of the Llama-3.1-8B shape, against the figures its
//! `estimate_zero3_model_states_mem_needs` gives (18.16 GB at one device
//! and 10.13 GB at two with `offload_optimizer: cpu`).

use super::*;

fn llama_8b() -> ModelShape {
    let text = include_str!("../../../../configs/models/llama31-8b-shape.json");
    ModelShape::from_json(text).unwrap()
}

/// 8,030,261,248 parameters; the largest module, the embedding (or the
/// head), 128256 x 4096.
const TOTAL: u64 = 8_030_261_248;
const LARGEST: u64 = 128_256 * 4096;

#[test]
fn the_largest_module_is_the_embedding() {
    let shape = llama_8b();
    assert_eq!(shape.num_params(), TOTAL);
    assert_eq!(largest_module_params(&shape), LARGEST);
}

#[test]
fn offloading_the_optimizer_leaves_the_bf16_shard_and_the_largest_module() {
    let one = estimate(&llama_8b(), 1, true, false);
    assert_eq!(one.device_bytes, 18_161_868_800);
    assert_eq!(one.host_bytes, TOTAL * 16 * 3 / 2);
    let two = estimate(&llama_8b(), 2, true, false);
    assert_eq!(two.device_bytes, 10_131_607_552);
}

#[test]
fn without_offload_a_rank_holds_18_bytes_per_parameter_shard() {
    let eight = estimate(&llama_8b(), 8, false, false);
    assert_eq!(eight.device_bytes, 4 * LARGEST + 18 * TOTAL / 8);
    assert_eq!(eight.host_bytes, 4 * LARGEST * 8 * 3 / 2);
    assert!(!eight.offload_optimizer && !eight.offload_param);
}

#[test]
fn with_both_offloads_the_device_holds_the_largest_module_alone() {
    let both = estimate(&llama_8b(), 1, true, true);
    assert_eq!(both.device_bytes, 4 * LARGEST);
    assert_eq!(both.host_bytes, TOTAL * 18 * 3 / 2);
    // offload_param needs offload_optimizer, as in DeepSpeed's estimate.
    assert!(!estimate(&llama_8b(), 1, false, true).offload_param);
}

#[test]
fn a_biased_projection_counts_its_bias_with_its_weight() {
    let shape = ModelShape {
        vocab: 8,
        qkv_bias: true,
        ..llama_8b()
    };
    // q_proj 4096 x 4096 plus its bias; the MLP's 4096 x 14336 is larger.
    assert_eq!(largest_module_params(&shape), 4096 * 14336);
    let narrow = ModelShape {
        intermediate: 16,
        ..shape
    };
    assert_eq!(largest_module_params(&narrow), 4096 * 4096 + 4096);
}
