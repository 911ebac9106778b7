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
use crate::model::{is_nf4_weight, unit_params, ModelShape, UnitKind};

/// Elements per NF4 block: one absmax each (bitsandbytes' QLoRA default).
pub const NF4_BLOCK: u64 = 64;
/// NF4 absmax codes per block of the second quantisation (bitsandbytes'
/// `compress_statistics`): one f32 scale each.
pub const NF4_NESTED_BLOCK: u64 = 256;
/// Bytes per NF4 block in a shard: 32 of codes (the last block of a
/// matrix padded to whole) and the one-byte code of its absmax.
const NF4_BLOCK_BYTES: u64 = NF4_BLOCK / 2 + 1;

/// Bytes of a matrix of `n` elements in NF4 as one rank holds it alone:
/// its blocks' codes and absmax codes, an f32 scale per
/// [`NF4_NESTED_BLOCK`] absmax codes and the f32 mean subtracted from the
/// absmax before they were quantised.
pub fn nf4_bytes(n: u64) -> u64 {
    let blocks = n.div_ceil(NF4_BLOCK);
    NF4_BLOCK_BYTES * blocks + nested_bytes(blocks)
}

/// The nested scales and offset of a matrix of `blocks` NF4 blocks.
fn nested_bytes(blocks: u64) -> u64 {
    4 * blocks.div_ceil(NF4_NESTED_BLOCK) + 4
}

/// The frozen parameters of each kind of unit, as a rank holds them.
pub(super) struct Frozen {
    /// Elements held in the compute dtype (all of them in a unit without
    /// NF4 matrices).
    pub plain: PerUnit,
    /// Elements of the matrices held in NF4 (none without `lora.base: nf4`).
    pub quantised: PerUnit,
    /// NF4 blocks of those matrices.
    pub blocks: PerUnit,
    /// Bytes of their nested scales and offsets, which every rank holds.
    pub nested: PerUnit,
    /// Elements of the largest NF4 matrix.
    pub largest_matrix: u64,
}

impl Frozen {
    /// The frozen parameters of `shape` (none without LoRA).
    pub(super) fn of(shape: &ModelShape) -> Frozen {
        let nf4 = shape.lora.is_some_and(|l| l.nf4);
        let frozen = |name: &str| shape.lora.is_some_and(|l| !l.trains(name));
        // Per unit: compute-dtype elements, NF4 elements, blocks, nested
        // bytes, largest matrix.
        let count = |kind: UnitKind| {
            let params = unit_params(shape, kind);
            let held = params.iter().filter(|(name, _)| frozen(name));
            held.fold([0; 5], |[plain, q, b, nested, max], (name, dims)| {
                let n: u64 = dims.iter().product();
                let blocks = n.div_ceil(NF4_BLOCK);
                match nf4 && is_nf4_weight(name, dims.len()) {
                    true => [
                        plain,
                        q + n,
                        b + blocks,
                        nested + nested_bytes(blocks),
                        max.max(n),
                    ],
                    false => [plain + n, q, b, nested, max],
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
            blocks: per(2),
            nested: per(3),
            largest_matrix: per(4).largest(),
        }
    }

    /// Elements of every frozen parameter.
    pub(super) fn all(&self) -> PerUnit {
        self.plain.zip(&self.quantised, |p, q| p + q)
    }

    /// Per kind of unit, one rank's shard of its frozen parameters as the
    /// all-gather carries it: the compute-dtype parameters padded to 256 x
    /// W, then with NF4 matrices `ceil(blocks / W)` blocks.
    fn shard_bytes(&self, s: &Setup) -> PerUnit {
        let (w, c) = (s.world_size, s.compute_bytes());
        let plain = |p: u64, b: u64| match (p, b) {
            (0, 0) => 0,
            _ => c * shard_len(p, w),
        };
        let nf4 = self.blocks.map(|b| NF4_BLOCK_BYTES * b.div_ceil(w));
        self.plain.zip(&self.blocks, plain).zip(&nf4, |p, q| p + q)
    }

    /// The bytes of this rank's shards and of every NF4 matrix's nested
    /// scales.
    pub(super) fn held_bytes(&self, s: &Setup) -> u64 {
        self.shard_bytes(s).total() + self.nested.total()
    }
}

/// Per kind of unit, the bytes of a unit running (`in_use`: gathered, with
/// NF4 also dequantised, and the f32 dequantisation of its largest matrix in
/// flight) and the bytes a kept graph holds of it (`kept`: its gathered
/// parameters; at one rank only the dequantised NF4 matrices, the rest being
/// the rank's own shards). The frozen and the trained part are gathered
/// each on its own.
pub(super) struct UnitBytes {
    pub in_use: PerUnit,
    pub kept: PerUnit,
}

impl UnitBytes {
    pub(super) fn of(trained: &PerUnit, frozen: &Frozen, s: &Setup) -> UnitBytes {
        let (w, c) = (s.world_size, s.compute_bytes());
        let part = |p: u64| if p == 0 { 0 } else { c * padded(p, w) };
        // A unit with NF4 matrices gathers every rank's byte shard; the
        // others their compute-dtype shards.
        let nf4 = frozen
            .blocks
            .zip(&frozen.shard_bytes(s), |b, shard| match b {
                0 => 0,
                _ => w * shard,
            });
        let plain = frozen.blocks.zip(&frozen.all(), |b, f| match b {
            0 => part(f),
            _ => 0,
        });
        let dequantised = frozen.quantised.map(|q| c * q);
        let held = trained
            .map(part)
            .zip(&nf4.zip(&plain, |q, p| q + p), |t, f| t + f)
            .zip(&dequantised, |g, d| g + d);
        // Dequantising a matrix holds its values and their product in f32.
        let in_flight = frozen.quantised.map(|q| match q {
            0 => 0,
            _ => 8 * frozen.largest_matrix,
        });
        UnitBytes {
            in_use: held.zip(&in_flight, |h, f| h + f),
            kept: match w {
                1 => dequantised,
                _ => held,
            },
        }
    }
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
