//! The frozen parameters of a LoRA run: the base model, which is never
//! updated, so it has no fp32 master, no gradient accumulator and no
//! optimizer state. Each unit's frozen parameters are laid end to end,
//! padded and split over the ranks like the trained ones (`layout.rs`), and
//! this rank holds its shard of each in the compute dtype, on the device,
//! for the all-gather that runs the unit. With an NF4 base (QLoRA) a unit
//! with projection matrices holds them in NF4 instead, its shard one byte
//! vector (`quantised.rs`). Without LoRA it holds nothing.

use super::quantised::{has_nf4, Nf4Shard};
use super::units::Units;
use crate::comm::Comm;
use crate::model::{read_unit_range, ParamSource};
use anyhow::Result;
use tch::Tensor;

/// One unit's frozen shard.
enum Frozen {
    /// Every frozen parameter in the compute dtype, laid out by `layout.rs`.
    Plain(Tensor),
    /// The projection matrices in NF4, the rest in the compute dtype.
    Nf4(Nf4Shard),
}

/// This rank's shard of each unit's frozen parameters.
pub struct FrozenStore {
    /// Per unit: its shard, or `None` when the unit has no frozen parameter.
    shards: Vec<Option<Frozen>>,
}

impl FrozenStore {
    /// The frozen shards of `units` that `comm`'s rank owns, read from
    /// `source` (only the owned ranges); every rank calls it (an NF4 base
    /// gathers the block scales of its matrices).
    pub fn new(
        units: &Units,
        comm: &mut dyn Comm,
        source: &dyn ParamSource,
    ) -> Result<FrozenStore> {
        let nf4 = units.cfg().lora.as_ref().is_some_and(|l| l.shape.nf4);
        let layouts = units.frozen_layouts(comm.rank(), comm.world_size());
        let mut shards = Vec::with_capacity(layouts.len());
        for (u, layout) in layouts.iter().enumerate() {
            let spec = units.frozen(u);
            shards.push(match spec.params.is_empty() {
                true => None,
                false if nf4 && has_nf4(spec) => {
                    let on = (units.dtype(), units.device());
                    Some(Frozen::Nf4(Nf4Shard::load(spec, comm, source, on)?))
                }
                false => {
                    let (start, len) = (layout.shard_start() as i64, layout.shard_len as i64);
                    let values = read_unit_range(source, spec, start, len)?;
                    let values = values.to_kind(units.dtype()).to_device(units.device());
                    Some(Frozen::Plain(values))
                }
            });
        }
        Ok(FrozenStore { shards })
    }

    /// Unit `u`'s shard as its all-gather carries it (it has frozen
    /// parameters): compute-dtype values, or the bytes of an NF4 shard.
    pub fn shard(&self, u: usize) -> Tensor {
        match self.shards[u].as_ref() {
            Some(Frozen::Plain(t)) => t.shallow_clone(),
            Some(Frozen::Nf4(s)) => s.bytes(),
            None => panic!("unit {u} has no frozen parameters"),
        }
    }

    /// Unit `u`'s frozen parameters, in order and in the compute dtype,
    /// from `full`, every rank's [`FrozenStore::shard`] gathered.
    pub fn unpack(&self, units: &Units, u: usize, full: &Tensor) -> Result<Vec<Tensor>> {
        match self.shards[u].as_ref() {
            Some(Frozen::Nf4(s)) => s.unpack(full),
            _ => units.frozen(u).split_flat(full),
        }
    }

    /// Bytes held: the shards (compute dtype, or NF4 codes, absmax codes
    /// and nested scales).
    pub fn state_bytes(&self) -> u64 {
        let bytes = |f: &Frozen| match f {
            Frozen::Plain(t) => (t.numel() * t.kind().elt_size_in_bytes()) as u64,
            Frozen::Nf4(s) => s.state_bytes(),
        };
        self.shards.iter().flatten().map(bytes).sum()
    }
}
