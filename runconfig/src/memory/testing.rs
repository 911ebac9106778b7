//! Helpers of the planner's tests: a small setup and an item's bytes.

use super::{Item, Setup};
use crate::schema::Dtype;

/// A micro batch of 2 x 8 tokens, every unit recomputed, nothing offloaded.
pub(crate) fn setup(world_size: u64, bits: u32, dtype: Dtype) -> Setup {
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
        recomputed: u64::MAX,
        lora_dropout: false,
    }
}

/// The bytes of item `name` of a plan.
pub(super) fn bytes(items: &[Item], name: &str) -> u64 {
    items.iter().find(|i| i.item == name).unwrap().bytes
}
