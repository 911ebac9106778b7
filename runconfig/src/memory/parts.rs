//! The per-item arithmetic of the planner that depends on a unit's
//! contents: the optimizer step's temporaries, which units keep their
//! graph, and what one decoder block holds per token.

use super::setup::Setup;
use crate::model::shard::{shard_len, STEP_CHUNK};
use crate::model::{block_norm_names, ModelShape, QkNorm, UnitParams};

/// The 8-bit optimizer step's f32 temporaries for the largest piece it
/// updates at once (the largest 8-bit shard, at most [`STEP_CHUNK`]
/// elements): the dequantised m and v, their
/// updated values, the update, and the requantisation's scaled copies,
/// 8 f32 per element. The 32-bit step updates in place.
pub(super) fn step_temporaries(u: &UnitParams, s: &Setup) -> u64 {
    let w = s.world_size;
    let blocks = (u.layers > 0).then_some(u.block);
    let units = [Some(u.embed), blocks, Some(u.head)].into_iter().flatten();
    let eight = units.filter(|&p| s.eight_bit(p));
    32 * eight
        .map(|p| shard_len(p, w))
        .max()
        .unwrap_or(0)
        .min(STEP_CHUNK as u64)
}

/// The units before the head (`before_head` of them: the embedding and
/// the blocks) that keep their graph: those after the first `s.recomputed`.
pub fn kept_units(before_head: u64, s: &Setup) -> std::ops::Range<u64> {
    s.recomputed.min(before_head)..before_head
}

/// Elements per token of a decoder block's backward beyond its forward's
/// saved tensors: the gradients of the MLP's widest intermediates (all
/// of `block_recompute` when no block is recomputed).
pub(super) fn backward_elements(m: &ModelShape) -> u64 {
    2 * m.intermediate
}

/// Elements per token that autograd keeps while one decoder block is
/// recomputed and differentiated: the block's RMSNorms (f32 copy,
/// normalised, output: two for Llama and OLMo 2, four for Gemma 3), q/k/v
/// and their rotary outputs, the attention output before and after o_proj,
/// the residuals, gate/activation/up/product of the MLP, and the gradient
/// of the widest intermediate; with query and key norms (Qwen3, OLMo 2,
/// Gemma 3), their f32 copy, normalised and output tensors of q and k as
/// well.
pub(super) fn block_elements(m: &ModelShape) -> u64 {
    let (h, i) = (m.hidden, m.intermediate);
    let (q, kv) = (m.heads * m.head_dim, m.kv_heads * m.head_dim);
    let qk_norms = match m.family.qk_norm() {
        QkNorm::None => 0,
        QkNorm::PerHead | QkNorm::Whole => 3 * (q + kv),
    };
    let norms = block_norm_names(m.family.block_norms()).len() as u64;
    norms * 3 * h + 2 * (q + 2 * kv) + 2 * q + 3 * h + 4 * i + 2 * i + qk_norms
}
