//! What a LoRA run (`lora:`) changes in the plan. The base is frozen: each
//! unit's frozen parameters are laid end to end, padded and sharded like
//! the trained ones, and a rank holds its shard without master, gradient or
//! optimizer state, in the compute dtype or, with `lora.base: nf4`
//! (QLoRA), the blocks' projections in NF4 as bitsandbytes stores them
//! (norms, biases, the embedding and the LM head stay in the compute
//! dtype). A unit runs from its frozen part and its trained part, each
//! gathered and padded on its own; with NF4 the gathered 4-bit data is
//! dequantised to the compute dtype. Each adapter adds its `r`-wide
//! intermediate to what a block keeps for its backward pass, and with
//! dropout the dropped copy of its input and the dropout mask.

use super::setup::Setup;
use super::{padded, PerUnit};
use crate::model::shard::shard_len;
use crate::model::{unit_params, ModelShape, UnitKind};

/// Elements per NF4 block: one absmax each (bitsandbytes' QLoRA default).
pub const NF4_BLOCK: u64 = 64;
/// NF4 absmax codes per block of the second quantisation (bitsandbytes'
/// `compress_statistics`): one f32 scale each.
pub const NF4_NESTED_BLOCK: u64 = 256;

/// Bytes of a tensor of `n` elements in NF4 with double-quantised block
/// scales: two elements per byte, a one-byte code of each block's absmax,
/// an f32 scale per [`NF4_NESTED_BLOCK`] codes and the f32 mean subtracted
/// from the absmax before it was quantised.
pub fn nf4_bytes(n: u64) -> u64 {
    let blocks = n.div_ceil(NF4_BLOCK);
    n.div_ceil(2) + blocks + 4 * blocks.div_ceil(NF4_NESTED_BLOCK) + 4
}

/// The frozen parameters of each kind of unit, as a rank holds them.
pub(super) struct Frozen {
    /// Elements held in the compute dtype (all of them without NF4).
    pub plain: PerUnit,
    /// Elements held in NF4 (none without `lora.base: nf4`).
    pub quantised: PerUnit,
    /// Bytes of the elements held in NF4.
    pub nf4: PerUnit,
}

impl Frozen {
    /// The frozen parameters of `shape` (none without LoRA).
    pub(super) fn of(shape: &ModelShape) -> Frozen {
        let nf4 = shape.lora.is_some_and(|l| l.nf4);
        let frozen = |name: &str| shape.lora.is_some_and(|l| !l.trains(name));
        // Per unit: (compute-dtype elements, NF4 elements, NF4 bytes).
        let count = |kind: UnitKind| {
            let params = unit_params(shape, kind);
            let held = params.iter().filter(|(name, _)| frozen(name));
            held.fold([0, 0, 0], |[plain, q, bytes], (_, dims)| {
                let n: u64 = dims.iter().product();
                // The blocks' projections: their only 2-D frozen parameters.
                match nf4 && matches!(kind, UnitKind::Block(_)) && dims.len() == 2 {
                    true => [plain, q + n, bytes + nf4_bytes(n)],
                    false => [plain + n, q, bytes],
                }
            })
        };
        let units = [UnitKind::Embedding, UnitKind::Block(0), UnitKind::Head].map(count);
        let per = |i: usize| PerUnit {
            embed: units[0][i],
            block: units[1][i],
            head: units[2][i],
            layers: shape.layers,
        };
        Frozen {
            plain: per(0),
            quantised: per(1),
            nf4: per(2),
        }
    }

    /// Elements of every frozen parameter.
    pub(super) fn all(&self) -> PerUnit {
        self.plain.zip(&self.quantised, |p, q| p + q)
    }

    /// The bytes of this rank's shards: the compute-dtype parameters in
    /// padded shards, and its share of each unit's NF4 bytes.
    pub(super) fn held_bytes(&self, s: &Setup) -> u64 {
        let w = s.world_size;
        let plain = self.plain.map(|p| if p == 0 { 0 } else { shard_len(p, w) });
        let nf4 = self.nf4.map(|b| b.div_ceil(w));
        s.compute_bytes() * plain.total() + nf4.total()
    }
}

/// Elements per kind of unit of a gathered unit in the compute dtype: its
/// frozen part and its trained part, each padded (each when it has
/// parameters), as the engine gathers them.
pub(super) fn gathered(trained: &PerUnit, frozen: &PerUnit, w: u64) -> PerUnit {
    let part = |p: u64| if p == 0 { 0 } else { padded(p, w) };
    trained.zip(frozen, |t, f| part(t) + part(f))
}

/// Bytes per token that a block's adapters add to what its backward pass
/// keeps: each adapter's `x A^T` (`r` wide, the input of `lora_B`) and,
/// with `lora.dropout` above 0, the dropped copy of its input (the input
/// of `lora_A`) and the dropout mask, one byte per element.
pub(super) fn adapter_bytes(shape: &ModelShape, s: &Setup) -> u64 {
    if shape.lora.is_none() || shape.layers == 0 {
        return 0;
    }
    let c = s.compute_bytes();
    let params = unit_params(shape, UnitKind::Block(0));
    let lora_a = params.iter().filter(|(n, _)| n.ends_with(".lora_A.weight"));
    let per = lora_a.map(|(_, dims)| {
        let (r, input) = (dims[0], dims[1]);
        r * c + s.lora_dropout as u64 * input * (c + 1)
    });
    per.sum()
}

#[cfg(test)]
mod tests;
