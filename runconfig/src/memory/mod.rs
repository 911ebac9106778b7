//! The memory planner: from the configuration and the model's config.json
//! alone, the peak bytes a rank needs on its device and in its host process,
//! item by item, as the ZeRO-3 engine allocates them (see `fit` for
//! the verdict against a device size and the toggles that would fit).
//!
//! Each unit (embedding, each decoder block, final norm + LM head) is padded
//! to `roundup(P, 256 * W)` elements and a rank holds `1 / W` of it.

use crate::model::shard::{shard_len, BLOCK_8BIT};
use crate::schema::Dtype;
use serde::Serialize;

pub mod fit;
mod parts;
mod setup;

pub use crate::model::{ModelShape, UnitParams};
pub use parts::kept_units;
use parts::{backward_elements, block_elements, step_temporaries};
pub use setup::Setup;

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

/// The breakdown of one rank's peak for `shape` under `s` (the embedding,
/// `layers` identical blocks and the head: each block figure is computed
/// once and multiplied).
pub fn breakdown(shape: &ModelShape, s: &Setup) -> Vec<Item> {
    let (w, c) = (s.world_size, s.compute_bytes());
    let u = shape.unit_params();
    let blocks = u.layers;
    let (se, sb, sh) = (
        shard_len(u.embed, w),
        shard_len(u.block, w),
        shard_len(u.head, w),
    );
    let total = se + blocks * sb + sh;
    let state = state_bytes(u.embed, se, s)
        + blocks * state_bytes(u.block, sb, s)
        + state_bytes(u.head, sh, s);
    // In fp32 the master is gathered directly, unless it lives on the host.
    let copy = match (s.dtype, s.offload) {
        (Dtype::Bf16, _) => 2 * total,
        (Dtype::F32, true) => 4 * total,
        (Dtype::F32, false) => 0,
    };
    let state_place = if s.offload {
        Place::Host
    } else {
        Place::Device
    };
    let block_if_any = |x: u64| if blocks > 0 { x } else { 0 };
    let largest_shard = se.max(sh).max(block_if_any(sb));
    let (pe, pb, ph) = (padded(u.embed, w), padded(u.block, w), padded(u.head, w));
    let largest = pe.max(ph).max(block_if_any(pb));
    // The head of a tied model also gathers the embedding.
    let head = ph + shape.tied as u64 * pe;
    let gathered = largest.max(head);
    let (tokens, h) = (s.tokens(), shape.hidden);
    // The loss computes the logits of one chunk of tokens at a time.
    let logits = tokens.min(LOGITS_CHUNK_TOKENS) * shape.vocab;
    // Under bf16 the loss casts the logits to f32 (and back in backward).
    let cast = (s.dtype == Dtype::Bf16) as u64;
    let device = |item, bytes| Item {
        item,
        bytes,
        place: Place::Device,
    };
    let item = |item, bytes, place| Item { item, bytes, place };
    let kept = kept_units(blocks + 1, s);
    // A kept block holds its forward graph; the kept embedding only its ids.
    let kept_embed = (kept.start == 0 && !kept.is_empty()) as u64;
    let kept_blocks = (kept.end - kept.start) - kept_embed;
    // At one rank a gathered unit is the rank's own shard, not a copy.
    let kept_params: u64 = match w {
        1 => 0,
        _ => kept_embed * pe + kept_blocks * pb,
    };
    let block_recompute = match kept_blocks == shape.layers {
        true => backward_elements(shape),
        false => block_elements(shape),
    };
    let units_before_head = blocks + 1;
    vec![
        item("master_weights", 4 * total, state_place),
        device("gradient_accumulator", 4 * total),
        item("optimizer_state", state, state_place),
        device("compute_copy", copy),
        // With overlap, the next unit's gather and the last unit's gradient
        // reduce-scatter are in flight too.
        device(
            "gather_buffers",
            (gathered + s.overlap as u64 * largest) * c,
        ),
        device(
            "unit_gradient",
            (2 + s.overlap as u64) * largest * c + largest / w * (c + 4),
        ),
        device(
            "saved_activations",
            tokens * 8 + units_before_head * tokens * h * c,
        ),
        device("kept_parameters", kept_params * c),
        device(
            "kept_activations",
            kept_blocks * tokens * (block_elements(shape) - backward_elements(shape)) * c,
        ),
        device("block_recompute", tokens * block_recompute * c),
        device("logits", logits * (c + 4 * cast + 4)),
        device("logits_gradient", logits * (4 + c * cast)),
        device("loss", tokens * (4 + 8)),
        item("batch", 4 * tokens * 8, Place::Host),
        item("optimizer_step", step_temporaries(&u, s), state_place),
        // With offload: one unit's gradient on the host during the step.
        item(
            "offload_gradient",
            s.offload as u64 * 4 * largest_shard,
            Place::Host,
        ),
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
mod tests;
