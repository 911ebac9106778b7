//! A unit's frozen base with its projection matrices in NF4 (QLoRA,
//! `lora.base: nf4`), sharded over the ranks.
//!
//! Each matrix is quantised alone, as bitsandbytes' `quantize_4bit(w,
//! blocksize=64, quant_type="nf4", compress_statistics=True)` quantises it:
//! blocks of [`BLOCK`] elements from its first one (the last one partial),
//! two codes a byte, an f32 absmax per block, double quantised over the
//! matrix (its mean as the offset, one u8 code per block, an f32 scale per
//! 256 blocks). It is quantised from its values in the compute dtype, as
//! transformers loads the weights in `dtype` before quantising them.
//!
//! The blocks of the unit's matrices are laid end to end, each matrix's
//! last block padded to 32 bytes, and split over the ranks, `ceil(B / W)`
//! blocks each; the unit's other frozen parameters (norms, biases) are laid
//! out in the compute dtype as `layout.rs` lays them. A rank's shard is one
//! byte vector, so one all-gather carries the unit:
//!
//! ```text
//! [plain shard (compute dtype) | codes, 32 bytes a block | absmax codes, 1 byte a block]
//! ```
//!
//! The gathered `[W, S]` bytes are cut back into the three parts and each
//! matrix is dequantised into the compute dtype (`code * absmax` in f32,
//! then rounded, as bitsandbytes' `dequantize_4bit`). Every rank holds the
//! nested scales and offsets of the whole unit (4 bytes per 256 blocks and
//! per matrix).
//!
//! Loading, each rank reads and quantises the blocks it owns only; the
//! ranks then all-gather their f32 absmax, since the nested offset is the
//! mean over a whole matrix.

use super::layout::Layout;
use crate::comm::Comm;
use crate::model::{read_unit_range, ParamSource, ParamSpec, UnitSpec};
use crate::quant::{nested, nf4, Absmax};
use anyhow::{ensure, Result};
use tch::{Device, Kind, Tensor};

/// Elements per NF4 block (bitsandbytes' `Linear4bit` default).
pub const BLOCK: usize = 64;

/// Bytes of one block's codes.
const BLOCK_BYTES: usize = BLOCK / 2;

/// Elements quantised at once while loading (whole blocks): bounds the
/// f32 and index copies of a large matrix.
const CHUNK: usize = BLOCK << 16;

/// One matrix among its unit's NF4 blocks.
struct Matrix {
    param: ParamSpec,
    /// Its first block in the unit.
    first: usize,
    blocks: usize,
    /// Its nested absmax's f32 scales and offset (`[1]`), on the device.
    scales: Tensor,
    offset: Tensor,
}

/// This rank's shard of a unit's frozen parameters, with the matrices in NF4.
pub struct Nf4Shard {
    /// Per frozen parameter of the unit, in order: whether it is in NF4.
    mask: Vec<bool>,
    /// The frozen parameters held in the compute dtype, and their layout.
    plain: UnitSpec,
    plain_layout: Layout,
    matrices: Vec<Matrix>,
    /// Blocks per rank.
    rank_blocks: usize,
    /// This rank's bytes: plain shard, codes, absmax codes.
    bytes: Tensor,
    /// The NF4 values of each byte and the nested absmax's map, on the device.
    tables: (Tensor, Tensor),
    kind: Kind,
}

/// Whether `unit`'s frozen parameters have a matrix to hold in NF4.
pub fn has_nf4(frozen: &UnitSpec) -> bool {
    frozen.params.iter().any(in_nf4)
}

fn in_nf4(p: &ParamSpec) -> bool {
    runconfig::model::is_nf4_weight(&p.name, p.shape.len())
}

impl Nf4Shard {
    /// This rank's shard of the `frozen` parameters of a unit, from
    /// `source` (the owned ranges only), in the compute dtype `kind` on
    /// `device`; every rank of `comm` calls it.
    pub fn load(
        frozen: &UnitSpec,
        comm: &mut dyn Comm,
        source: &dyn ParamSource,
        (kind, device): (Kind, Device),
    ) -> Result<Nf4Shard> {
        let (rank, world) = (comm.rank(), comm.world_size());
        let (mask, plain, mut matrices) = split(frozen);
        let plain_layout = Layout::new(&shapes(&plain), rank, world);
        let blocks = matrices.last().map_or(0, |m| m.first + m.blocks);
        let rank_blocks = blocks.div_ceil(world);
        let owned = (rank * rank_blocks, (rank + 1) * rank_blocks);
        let (start, len) = (plain_layout.shard_start(), plain_layout.shard_len);
        let plain_values = read_unit_range(source, &plain, start as i64, len as i64)?;
        let (codes, absmax) = quantise(&matrices, owned, source, kind)?;
        let all = comm.all_gather(&absmax.to_device(device))?;
        let absmax_codes = nest(&mut matrices, owned, &all.to_device(Device::Cpu));
        for m in matrices.iter_mut() {
            m.scales = m.scales.to_device(device);
            m.offset = m.offset.to_device(device);
        }
        let plain_bytes = plain_values.to_kind(kind).view_dtype(Kind::Uint8);
        let bytes = Tensor::cat(&[plain_bytes, codes, absmax_codes], 0);
        Ok(Nf4Shard {
            mask,
            plain,
            plain_layout,
            matrices,
            rank_blocks,
            bytes: bytes.to_device(device),
            tables: (nf4::byte_table(device), nested::map(device)),
            kind,
        })
    }

    /// What the all-gather carries: this rank's bytes.
    pub fn bytes(&self) -> Tensor {
        self.bytes.shallow_clone()
    }

    /// Bytes held: the shard, the nested scales and the offsets.
    pub fn state_bytes(&self) -> u64 {
        let scales = self.matrices.iter().map(|m| 4 * (m.scales.numel() + 1));
        (self.bytes.numel() + scales.sum::<usize>()) as u64
    }

    /// The unit's frozen parameters, in order and in the compute dtype,
    /// from every rank's bytes gathered (`full`, `[W * S]` u8).
    pub fn unpack(&self, full: &Tensor) -> Result<Vec<Tensor>> {
        let (s, world) = (self.bytes.numel() as i64, self.plain_layout.world as i64);
        ensure!(
            full.kind() == Kind::Uint8 && full.size() == [world * s],
            "unit {}'s NF4 base: gathered {:?} {:?}, want Uint8 [{}]",
            self.plain.index,
            full.kind(),
            full.size(),
            world * s
        );
        let rows = full.view([world, s]);
        let part = |at: usize, len: usize| rows.narrow(1, at as i64, len as i64).reshape([-1]);
        let plain_bytes = self.plain_layout.shard_len * self.kind.elt_size_in_bytes();
        let codes_len = self.rank_blocks * BLOCK_BYTES;
        let plain = part(0, plain_bytes).view_dtype(self.kind);
        let codes = part(plain_bytes, codes_len);
        let absmax_codes = part(plain_bytes + codes_len, self.rank_blocks);
        let mut nf4 = self
            .matrices
            .iter()
            .map(|m| self.matrix(m, &codes, &absmax_codes));
        let mut plain = self.plain.split_flat(&plain)?.into_iter();
        let mut next = |quantised: bool| match quantised {
            true => nf4.next().expect("an NF4 matrix"),
            false => plain.next().expect("a plain parameter"),
        };
        Ok(self.mask.iter().map(|&q| next(q)).collect())
    }

    /// Matrix `m` in the compute dtype, from the unit's gathered codes
    /// and absmax codes.
    fn matrix(&self, m: &Matrix, codes: &Tensor, absmax_codes: &Tensor) -> Tensor {
        let (bytes, map) = &self.tables;
        let of_blocks = absmax_codes.narrow(0, m.first as i64, m.blocks as i64);
        let absmax = nested::dequantize_with(&of_blocks, &m.scales, &m.offset, map);
        let at = (m.first * BLOCK_BYTES) as i64;
        let packed = codes.narrow(0, at, (m.blocks * BLOCK_BYTES) as i64);
        let values = nf4::dequantize_blocks(&packed, &absmax, BLOCK as i64, bytes);
        let values = values.narrow(0, 0, m.param.numel());
        values.view(m.param.shape.as_slice()).to_kind(self.kind)
    }
}

/// Of a unit's `frozen` parameters: which are in NF4 (per parameter, in
/// order), the others, and the matrices with their place among the blocks
/// (their scales not known yet).
fn split(frozen: &UnitSpec) -> (Vec<bool>, UnitSpec, Vec<Matrix>) {
    let mask: Vec<bool> = frozen.params.iter().map(in_nf4).collect();
    let pick = |want: bool| frozen.params.iter().filter(move |p| in_nf4(p) == want);
    let mut matrices: Vec<Matrix> = Vec::new();
    for p in pick(true) {
        let first = matrices.last().map_or(0, |m| m.first + m.blocks);
        matrices.push(Matrix {
            param: p.clone(),
            first,
            blocks: (p.numel() as usize).div_ceil(BLOCK),
            scales: Tensor::zeros([0], (Kind::Float, Device::Cpu)),
            offset: Tensor::zeros([1], (Kind::Float, Device::Cpu)),
        });
    }
    let plain = UnitSpec {
        params: pick(false).cloned().collect(),
        ..frozen.clone()
    };
    (mask, plain, matrices)
}

/// `spec`'s parameters as (name, shape).
fn shapes(spec: &UnitSpec) -> Vec<(String, Vec<i64>)> {
    let params = spec.params.iter();
    params.map(|p| (p.name.clone(), p.shape.clone())).collect()
}

/// The codes (32 bytes a block) and f32 absmax of the blocks `owned` of
/// the unit's `matrices`, read from `source` in the compute dtype `kind`;
/// blocks past the matrices' are zeros.
fn quantise(
    matrices: &[Matrix],
    owned: (usize, usize),
    source: &dyn ParamSource,
    kind: Kind,
) -> Result<(Tensor, Tensor)> {
    let (mut codes, mut absmax) = (Vec::new(), Vec::new());
    for m in matrices {
        let Some((lo, hi)) = overlap(m, owned) else {
            continue;
        };
        let numel = m.param.numel() as usize;
        let end = (hi * BLOCK).min(numel);
        for at in (lo * BLOCK..end).step_by(CHUNK) {
            let len = CHUNK.min(end - at);
            let values = source.read_range(&m.param, at as i64, len as i64)?;
            let q = nf4::quantize(&values.to_kind(kind), BLOCK as i64, false)?;
            let Absmax::Plain(a) = q.absmax else {
                unreachable!("plain absmax without double quantisation")
            };
            let pad = a.numel() * BLOCK_BYTES - q.packed.numel();
            codes.push(q.packed.constant_pad_nd([0, pad as i64]));
            absmax.push(a);
        }
    }
    let blocks = owned.1 - owned.0;
    Ok((
        padded(codes, blocks * BLOCK_BYTES, Kind::Uint8),
        padded(absmax, blocks, Kind::Float),
    ))
}

/// The nested absmax of each matrix from `all` (every block's f32 absmax,
/// gathered): sets each matrix's scales and offset, and returns the codes
/// of the blocks `owned`, padded as the shard is.
fn nest(matrices: &mut [Matrix], owned: (usize, usize), all: &Tensor) -> Tensor {
    let mut codes = Vec::new();
    for m in matrices.iter_mut() {
        let absmax = all.narrow(0, m.first as i64, m.blocks as i64).copy();
        let q = nested::quantize(&absmax);
        if let Some((lo, hi)) = overlap(m, owned) {
            codes.push(q.codes.narrow(0, lo as i64, (hi - lo) as i64));
        }
        m.scales = q.scales;
        m.offset = Tensor::from_slice(&[q.offset]);
    }
    padded(codes, owned.1 - owned.0, Kind::Uint8)
}

/// The blocks of `m`, counted from its first, within the unit's blocks
/// `owned`, when there are any.
fn overlap(m: &Matrix, (start, end): (usize, usize)) -> Option<(usize, usize)> {
    let (lo, hi) = (start.max(m.first), end.min(m.first + m.blocks));
    (lo < hi).then(|| (lo - m.first, hi - m.first))
}

/// `parts` end to end, zero-padded to `len` elements of `kind` (CPU).
fn padded(mut parts: Vec<Tensor>, len: usize, kind: Kind) -> Tensor {
    let have: usize = parts.iter().map(|t| t.numel()).sum();
    parts.push(Tensor::zeros([(len - have) as i64], (kind, Device::Cpu)));
    Tensor::cat(&parts, 0)
}

#[cfg(test)]
mod tests;
