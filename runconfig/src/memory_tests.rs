//! The planner's arithmetic on a small model, against numbers worked out
//! by hand from the layout rules (pad each unit to 256 * W, shard by W).

use super::*;
use crate::memory_fit::toggles;

/// configs/models/tiny-llama.json: hidden 64, intermediate 176, 2 layers,
/// 4 heads of 16, 2 kv heads, vocab 256, untied, no biases.
fn tiny() -> ModelShape {
    ModelShape::from_json(include_str!("../../configs/models/tiny-llama.json")).unwrap()
}

fn setup(world_size: u64, bits: u32, dtype: Dtype) -> Setup {
    Setup {
        world_size,
        micro_batch: 2,
        seq_len: 8,
        dtype,
        bits,
        min_8bit_size: 4096,
        rows_per_sequence: 1,
        offload: false,
        overlap: false,
    }
}

fn bytes(items: &[Item], name: &str) -> u64 {
    items.iter().find(|i| i.item == name).unwrap().bytes
}

#[test]
fn units_count_every_parameter_once() {
    // embedding 256*64; block: q 64*64, k and v 32*64, o 64*64, mlp 3*64*176, norms 2*64;
    // head: norm 64 + lm_head 256*64.
    assert_eq!(tiny().unit_params(), vec![16384, 46208, 46208, 16448]);
    let llama8b = include_str!("../../configs/models/llama31-8b-shape.json");
    assert_eq!(
        ModelShape::from_json(llama8b).unwrap().num_params(),
        8_030_261_248
    );
}

#[test]
fn model_state_follows_the_padded_shards() {
    // W = 2, quantum 512: 16384 -> 32 quanta, 46208 -> 91, 16448 -> 33;
    // shards 8192, 23296, 23296, 8448 = 63232 elements per rank.
    let items = breakdown(&tiny(), &setup(2, 32, Dtype::Bf16));
    assert_eq!(bytes(&items, "master_weights"), 63232 * 4);
    assert_eq!(bytes(&items, "gradient_accumulator"), 63232 * 4);
    assert_eq!(bytes(&items, "optimizer_state"), 63232 * 8);
    assert_eq!(bytes(&items, "compute_copy"), 63232 * 2);
    // The largest unit gathered in bf16: a block padded to 91 * 512.
    assert_eq!(bytes(&items, "gather_buffers"), 91 * 512 * 2);
    let f32 = breakdown(&tiny(), &setup(2, 32, Dtype::F32));
    assert_eq!(bytes(&f32, "compute_copy"), 0, "f32 gathers the master");
}

#[test]
fn eight_bit_state_keeps_small_units_at_32_bit() {
    // All units >= 4096: 2 B per element + two f32 absmax per 256 block.
    let items = breakdown(&tiny(), &setup(2, 8, Dtype::Bf16));
    let blocks = (8192 + 2 * 23296 + 8448) / 256;
    assert_eq!(bytes(&items, "optimizer_state"), 2 * 63232 + 8 * blocks);
    // min_8bit_size 20000: embedding and head keep 8 B per element.
    let s = Setup {
        min_8bit_size: 20000,
        ..setup(2, 8, Dtype::Bf16)
    };
    let items = breakdown(&tiny(), &s);
    let want = 8 * (8192 + 8448) + 2 * 2 * 23296 + 8 * 2 * (23296 / 256);
    assert_eq!(bytes(&items, "optimizer_state"), want);
}

#[test]
fn logits_are_planned_for_one_chunk_of_tokens() {
    // 2 x 4096 tokens, but the loss holds the logits of 1024 at a time.
    let long = Setup {
        seq_len: 4096,
        ..setup(1, 32, Dtype::Bf16)
    };
    let items = breakdown(&tiny(), &long);
    assert_eq!(bytes(&items, "logits"), 1024 * 256 * (2 + 4 + 4));
    assert_eq!(bytes(&items, "logits_gradient"), 1024 * 256 * (4 + 2));
    assert_eq!(
        bytes(&items, "saved_activations"),
        8192 * 8 + 3 * 8192 * 64 * 2
    );
}

#[test]
fn activations_and_logits_scale_with_the_micro_batch() {
    // 2 x 8 = 16 tokens; inputs of the 2 blocks and the head in bf16, plus the ids.
    let items = breakdown(&tiny(), &setup(1, 32, Dtype::Bf16));
    assert_eq!(bytes(&items, "saved_activations"), 16 * 8 + 3 * 16 * 64 * 2);
    // bf16 logits, their f32 copy, log-softmax; gradient in f32 and bf16.
    assert_eq!(bytes(&items, "logits"), 16 * 256 * (2 + 4 + 4));
    assert_eq!(bytes(&items, "logits_gradient"), 16 * 256 * (4 + 2));
    let one = breakdown(
        &tiny(),
        &Setup {
            micro_batch: 1,
            ..setup(1, 32, Dtype::Bf16)
        },
    );
    assert_eq!(
        2 * bytes(&one, "block_recompute"),
        bytes(&items, "block_recompute")
    );
}

#[test]
fn toggles_name_only_changes_that_fit() {
    let config = crate::from_str("run_name: t\n", "t.yaml", 1, &[])
        .unwrap()
        .config;
    let s = setup(1, 32, Dtype::Bf16);
    // 16 blocks: 8-bit state saves more than its step's temporaries cost.
    let deep = ModelShape {
        layers: 16,
        ..tiny()
    };
    let at = |s: &Setup| total(&breakdown(&deep, s), Place::Device);
    let eight = at(&Setup { bits: 8, ..s });
    // Room for 8-bit state, not for 32-bit.
    let found = toggles(&deep, &s, &config, eight);
    assert!(found[0].starts_with("optimizer.bits=8"), "{found:?}");
    for t in &found {
        assert!(
            !t.contains("micro_batch_size"),
            "micro 1 is already the smallest: {t}"
        );
    }
    // Below what 8-bit state alone needs at one device: more devices.
    let found = toggles(&deep, &s, &config, eight - 1);
    assert!(found.iter().all(|t| !t.starts_with("optimizer.bits=8 (")));
    assert!(found.iter().any(|t| t.contains("devices")), "{found:?}");
}

#[test]
fn overlap_holds_one_more_gathered_unit_and_unit_gradient() {
    let serial = breakdown(&tiny(), &setup(2, 32, Dtype::Bf16));
    let overlap = Setup {
        overlap: true,
        ..setup(2, 32, Dtype::Bf16)
    };
    let overlap = breakdown(&tiny(), &overlap);
    // The largest unit, a block padded to 91 * 512, in bf16.
    let unit = 91 * 512 * 2;
    assert_eq!(
        bytes(&overlap, "gather_buffers"),
        bytes(&serial, "gather_buffers") + unit
    );
    assert_eq!(
        bytes(&overlap, "unit_gradient"),
        bytes(&serial, "unit_gradient") + unit
    );
}
