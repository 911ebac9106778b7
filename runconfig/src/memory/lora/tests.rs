//! LoRA and QLoRA plans against numbers worked out by hand: the frozen base
//! in the compute dtype or in NF4, the adapters' state, the gradient of a
//! unit's adapters only, and what the adapters add to a block's activations.

use super::super::testing::bytes;
use super::super::{breakdown, Setup};
use super::*;
use crate::model::LoraShape;
use crate::schema::Dtype;

/// configs/models/tiny-llama.json: hidden 64, intermediate 176, 2 layers,
/// 4 heads of 16, 2 kv heads (q 64, kv 32), vocab 256, untied.
fn tiny(lora: Option<LoraShape>) -> ModelShape {
    let text = include_str!("../../../../configs/models/tiny-llama.json");
    ModelShape {
        lora,
        ..ModelShape::from_json(text).unwrap()
    }
}

/// r 8 on all seven projections.
fn all_seven(nf4: bool) -> Option<LoraShape> {
    Some(LoraShape {
        r: 8,
        targets: 0x7f,
        saved: 0,
        nf4,
    })
}

/// The planner tests' setup with 32-bit AdamW.
fn setup(world_size: u64, dtype: Dtype) -> Setup {
    super::super::testing::setup(world_size, 32, dtype)
}

/// A block's adapters at r 8: A [8, in] and B [out, 8] for q (64 -> 64),
/// k and v (64 -> 32), o (64 -> 64), gate and up (64 -> 176), down (176 -> 64).
const BLOCK_ADAPTERS: u64 =
    8 * ((64 + 64) + 2 * (64 + 32) + (64 + 64) + 2 * (64 + 176) + (176 + 64));

#[test]
fn nf4_holds_half_a_byte_per_weight_and_double_quantised_scales() {
    // 4096 x 4096: 262144 blocks of 64, each 32 bytes of codes and a
    // one-byte absmax code; 1024 f32 scales of 256 codes, the f32 mean.
    assert_eq!(nf4_bytes(4096 * 4096), 33 * 262_144 + 4 * 1024 + 4);
    // A partial last block is held whole: 100 elements are 2 blocks.
    assert_eq!(nf4_bytes(100), 2 * 33 + 4 + 4);
    assert_eq!(nf4_bytes(128), nf4_bytes(100));
}

#[test]
fn lora_trains_the_adapters_and_holds_the_base_frozen() {
    let items = breakdown(&tiny(all_seven(false)), &setup(1, Dtype::Bf16));
    // Each block's adapters, padded to 256: the trained shards.
    let trained = 2 * BLOCK_ADAPTERS.div_ceil(256) * 256 + 2 * 256;
    assert_eq!(bytes(&items, "master_weights"), 4 * trained);
    assert_eq!(bytes(&items, "optimizer_state"), 8 * trained);
    // The base (embedding 16384, blocks 46208, head 16448) in bf16.
    let frozen = 16384 + 2 * 46208_u64.div_ceil(256) * 256 + 16384 + 256;
    assert_eq!(bytes(&items, "frozen_weights"), 2 * frozen);
    // A unit's gradient is its adapters', not its base's.
    let block = BLOCK_ADAPTERS.div_ceil(256) * 256;
    assert_eq!(bytes(&items, "unit_gradient"), 2 * block * 2 + block * 6);
}

#[test]
fn qlora_holds_the_blocks_projections_in_nf4() {
    let items = breakdown(&tiny(all_seven(true)), &setup(1, Dtype::Bf16));
    // Blocks of 64: q and o 64 each, k and v 32, gate, up and down 176.
    let blocks = 2 * 64 + 2 * 32 + 3 * 176;
    // 33 bytes a block, and each matrix's nested scale and offset.
    let nf4 = 33 * blocks + 7 * (4 + 4);
    // The blocks' two norms (padded to 256), the embedding and the head in bf16.
    let plain = 2 * 256 + 16384 + 16640;
    assert_eq!(bytes(&items, "frozen_weights"), 2 * nf4 + 2 * plain);
    // The largest unit running: a block, its gathered bytes, its matrices
    // dequantised, its adapters, and the f32 values and product of its
    // largest matrix (176 x 64) while dequantised.
    let gathered = 2 * 256 + 33 * blocks;
    let adapters = 2 * BLOCK_ADAPTERS.div_ceil(256) * 256;
    let block = gathered + 2 * 46080 + adapters + 8 * 176 * 64;
    assert_eq!(bytes(&items, "gather_buffers"), block);
    // At two ranks each holds half of each unit's blocks, every nested scale.
    let two = breakdown(&tiny(all_seven(true)), &setup(2, Dtype::Bf16));
    let plain2 = 2 * 256 + 8192 + 8448;
    let nf4_2 = 33 * blocks / 2 + 7 * (4 + 4);
    assert_eq!(bytes(&two, "frozen_weights"), 2 * nf4_2 + 2 * plain2);
}

#[test]
fn adapters_add_their_intermediates_and_with_dropout_their_inputs() {
    let s = setup(1, Dtype::Bf16);
    let tokens = 16;
    let full = bytes(&breakdown(&tiny(None), &s), "block_recompute");
    let lora = bytes(&breakdown(&tiny(all_seven(false)), &s), "block_recompute");
    // Seven r-wide intermediates per token in bf16.
    assert_eq!(lora - full, tokens * 7 * 8 * 2);
    let dropout = Setup {
        lora_dropout: true,
        ..s
    };
    let dropped = bytes(
        &breakdown(&tiny(all_seven(false)), &dropout),
        "block_recompute",
    );
    // The dropped copy of each adapter's input (q, k, v, gate, up: 64;
    // o: 64; down: 176) in bf16 and its one-byte mask.
    assert_eq!(dropped - lora, tokens * (6 * 64 + 176) * 3);
    // A kept block holds them too; a frozen embedding keeps nothing.
    let kept = |s: &Setup| {
        let items = breakdown(
            &tiny(all_seven(false)),
            &Setup {
                recomputed: 0,
                ..*s
            },
        );
        (
            bytes(&items, "kept_activations"),
            bytes(&items, "kept_parameters"),
        )
    };
    let (with, _) = kept(&dropout);
    let (without, _) = kept(&s);
    assert_eq!(with - without, 2 * tokens * (6 * 64 + 176) * 3);
    let two = Setup { world_size: 2, ..s };
    let block2 = 46208_u64.div_ceil(512) * 512 + BLOCK_ADAPTERS.div_ceil(512) * 512;
    assert_eq!(kept(&two).1, 2 * block2 * 2, "two blocks, no embedding");
}

#[test]
fn qlora_at_one_rank_keeps_the_dequantised_weights_of_kept_blocks() {
    let s = Setup {
        recomputed: 0,
        ..setup(1, Dtype::Bf16)
    };
    let items = breakdown(&tiny(all_seven(true)), &s);
    let projections = 64 * 64 + 2 * 32 * 64 + 64 * 64 + 3 * 176 * 64;
    assert_eq!(bytes(&items, "kept_parameters"), 2 * projections * 2);
    let lora = breakdown(&tiny(all_seven(false)), &s);
    assert_eq!(bytes(&lora, "kept_parameters"), 0, "the rank's own shards");
}
