//! The memory planner: from the configuration and the model's config.json
//! alone, the peak bytes a rank needs on its device and in its host process,
//! item by item, as the ZeRO-3 engine allocates them (see `fit` for
//! the verdict against a device size and the toggles that would fit).
//!
//! Each unit (embedding, each decoder block, final norm + LM head) is padded
//! to `roundup(P, 256 * W)` elements and a rank holds `1 / W` of it.

use crate::model::shard::{shard_len, BLOCK_8BIT, STEP_CHUNK};
use crate::schema::Dtype;
use serde::Serialize;

pub mod deepspeed;
pub mod fit;
mod lora;
mod parts;
mod per_unit;
pub mod render;
mod setup;
pub mod toggles;
mod training;

pub use crate::model::{ModelShape, UnitParams};
pub use lora::{nf4_bytes, NF4_BLOCK, NF4_NESTED_BLOCK};
use lora::{Frozen, UnitBytes};
pub use parts::kept_units;
use parts::{backward_elements, block_elements, step_temporaries};
use per_unit::PerUnit;
pub use setup::Setup;
pub use training::{grouped, Training};

/// Tokens whose logits the loss computes at once: the head and the
/// cross-entropy run over chunks of the micro-batch's tokens.
pub const LOGITS_CHUNK_TOKENS: u64 = 1024;

/// Where an item lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Place {
    Device,
    Host,
}

/// One line of the breakdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// What it is, e.g. `master_weights`.
    pub item: &'static str,
    pub bytes: u64,
    pub place: Place,
}

/// An item on the device.
fn on_device(item: &'static str, bytes: u64) -> Item {
    Item {
        item,
        bytes,
        place: Place::Device,
    }
}

/// Padded length of a unit of `p` parameters at world size `w`.
fn padded(p: u64, w: u64) -> u64 {
    shard_len(p, w) * w
}

/// Optimizer-state bytes of one shard (AdamW's m and v).
fn state_bytes(unit_params: u64, shard: u64, s: &Setup) -> u64 {
    if s.eight_bit(unit_params) {
        2 * shard + 2 * 4 * shard.div_ceil(BLOCK_8BIT as u64)
    } else {
        8 * shard
    }
}

/// Where the master weights and the optimizer state live.
fn state_place(s: &Setup) -> Place {
    if s.offload {
        Place::Host
    } else {
        Place::Device
    }
}

/// The breakdown of one rank's peak for `shape` under `s` (the embedding,
/// `layers` identical blocks and the head: each block figure is computed
/// once and multiplied).
pub fn breakdown(shape: &ModelShape, s: &Setup) -> Vec<Item> {
    let u = shape.trained_params();
    let trained = PerUnit::of(&u, |p| p);
    let frozen = Frozen::of(shape);
    let units = UnitBytes::of(&trained, &frozen, s);
    [
        sharded_items(&u, s).as_slice(),
        &frozen_items(&frozen, s),
        &gathered_items(shape, &units.in_use, &trained, s),
        &activation_items(shape, &units.kept, &trained, s),
        &loss_items(shape, s),
        &step_items(&u, s),
    ]
    .concat()
}

/// With LoRA, the base model's shards (in the compute dtype, or partly in
/// NF4): no master, gradient or optimizer state (none without LoRA).
fn frozen_items(f: &Frozen, s: &Setup) -> Vec<Item> {
    match f.held_bytes(s) {
        0 => vec![],
        bytes => vec![on_device("frozen_weights", bytes)],
    }
}

/// What a rank keeps of every unit between steps: its shards of the
/// weights, the gradients and the optimizer state, and the compute copy.
fn sharded_items(u: &UnitParams, s: &Setup) -> [Item; 4] {
    let w = s.world_size;
    let total = PerUnit::of(u, |p| shard_len(p, w)).total();
    let state = PerUnit::of(u, |p| state_bytes(p, shard_len(p, w), s)).total();
    // In fp32 the master is gathered directly, unless it lives on the host.
    let copy = match (s.dtype, s.offload) {
        (Dtype::Bf16, _) => 2 * total,
        (Dtype::F32, true) => 4 * total,
        (Dtype::F32, false) => 0,
    };
    let place = state_place(s);
    [
        Item {
            item: "master_weights",
            bytes: 4 * total,
            place,
        },
        on_device("gradient_accumulator", 4 * total),
        Item {
            item: "optimizer_state",
            bytes: state,
            place,
        },
        on_device("compute_copy", copy),
    ]
}

/// The whole units gathered for the forward and backward passes (`bytes`
/// of each: with NF4, the gathered 4-bit data beside its dequantised
/// weights), and the gradient of one unit's trained parameters before its
/// reduce-scatter.
fn gathered_items(shape: &ModelShape, bytes: &PerUnit, trained: &PerUnit, s: &Setup) -> [Item; 2] {
    let (w, c) = (s.world_size, s.compute_bytes());
    let largest = bytes.largest();
    // The head of a tied model also gathers the embedding.
    let head = bytes.head + shape.tied as u64 * bytes.embed;
    let gathered = largest.max(head);
    let grads = trained.map(|p| if p == 0 { 0 } else { padded(p, w) });
    let grads = grads.largest();
    [
        // With overlap, the next unit's gather and the last unit's gradient
        // reduce-scatter are in flight too.
        on_device("gather_buffers", gathered + s.overlap as u64 * largest),
        on_device(
            "unit_gradient",
            (2 + s.overlap as u64) * grads * c + grads / w * (c + 4),
        ),
    ]
}

/// What the forward pass leaves for the backward pass: each unit's input,
/// and the parameters (`params`: the bytes a kept graph holds of each
/// unit) and graphs of the units it keeps.
fn activation_items(
    shape: &ModelShape,
    params: &PerUnit,
    trained: &PerUnit,
    s: &Setup,
) -> [Item; 4] {
    let c = s.compute_bytes();
    let (tokens, h) = (s.tokens(), shape.hidden);
    let kept = kept_units(params.layers + 1, s);
    // A kept block holds its forward graph; the kept embedding only its ids,
    // and a frozen one (no backward pass) not even its weight.
    let with_embed = (kept.start == 0 && !kept.is_empty()) as u64;
    let kept_blocks = (kept.end - kept.start) - with_embed;
    let kept_embed = with_embed * (trained.embed > 0) as u64;
    let kept_params = kept_embed * params.embed + kept_blocks * params.block;
    // Per token: what a block's forward keeps, and its whole recompute.
    let adapters = lora::adapter_bytes(shape, s);
    let forward = (block_elements(shape) - backward_elements(shape)) * c + adapters;
    let block_recompute = match kept_blocks == shape.layers {
        true => backward_elements(shape) * c,
        false => block_elements(shape) * c + adapters,
    };
    let units_before_head = params.layers + 1;
    [
        on_device(
            "saved_activations",
            tokens * 8 + units_before_head * tokens * h * c,
        ),
        on_device("kept_parameters", kept_params),
        on_device("kept_activations", kept_blocks * tokens * forward),
        on_device("block_recompute", tokens * block_recompute),
    ]
}

/// The loss's logits and their gradient, its per-token figures, and the
/// batch on the host.
fn loss_items(shape: &ModelShape, s: &Setup) -> [Item; 4] {
    let (tokens, c) = (s.tokens(), s.compute_bytes());
    // The loss computes the logits of one chunk of tokens at a time.
    let logits = tokens.min(LOGITS_CHUNK_TOKENS) * shape.vocab;
    // Under bf16 the loss casts the logits to f32 (and back in backward).
    let cast = (s.dtype == Dtype::Bf16) as u64;
    [
        on_device("logits", logits * (c + 4 * cast + 4)),
        on_device("logits_gradient", logits * (4 + c * cast)),
        on_device("loss", tokens * (4 + 8)),
        Item {
            item: "batch",
            bytes: 4 * tokens * 8,
            place: Place::Host,
        },
    ]
}

/// The optimizer step's temporaries and, with offload, the gradient of the
/// piece it updates on the host (at most [`STEP_CHUNK`] elements each).
fn step_items(u: &UnitParams, s: &Setup) -> [Item; 2] {
    let largest_shard = PerUnit::of(u, |p| shard_len(p, s.world_size)).largest();
    [
        Item {
            item: "optimizer_step",
            bytes: step_temporaries(u, s),
            place: state_place(s),
        },
        Item {
            item: "offload_gradient",
            bytes: s.offload as u64 * 4 * largest_shard.min(STEP_CHUNK as u64),
            place: Place::Host,
        },
    ]
}

/// Bytes of the items at `place`.
pub fn total(items: &[Item], place: Place) -> u64 {
    items
        .iter()
        .filter(|i| i.place == place)
        .map(|i| i.bytes)
        .sum()
}

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
