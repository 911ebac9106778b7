//! The frozen parameters of a LoRA run: the base model, which is never
//! updated, so it has no fp32 master, no gradient accumulator and no
//! optimizer state. Each unit's frozen parameters are laid end to end,
//! padded and split over the ranks like the trained ones (`layout.rs`), and
//! this rank holds its shard of each in the compute dtype, on the device,
//! for the all-gather that runs the unit. Without LoRA it holds nothing.

use super::layout::Layout;
use super::units::Units;
use crate::model::{read_unit_range, ParamSource};
use anyhow::Result;
use tch::Tensor;

/// This rank's compute-dtype shard of each unit's frozen parameters.
pub struct FrozenStore {
    /// Per unit: its shard, or `None` when the unit has no frozen parameter.
    shards: Vec<Option<Tensor>>,
}

impl FrozenStore {
    /// The frozen shards of `units` that `rank` of `world` owns, read from
    /// `source` (only the owned ranges).
    pub fn new(
        units: &Units,
        (rank, world): (usize, usize),
        source: &dyn ParamSource,
    ) -> Result<FrozenStore> {
        let layouts = units.frozen_layouts(rank, world);
        let shards = layouts
            .iter()
            .enumerate()
            .map(|(u, layout)| shard(units, u, layout, source))
            .collect::<Result<_>>()?;
        Ok(FrozenStore { shards })
    }

    /// Unit `u`'s shard (it has frozen parameters).
    pub fn shard(&self, u: usize) -> Tensor {
        let shard = self.shards[u].as_ref();
        shard
            .expect("a unit with frozen parameters")
            .shallow_clone()
    }

    /// Bytes held: the shards, in the compute dtype.
    pub fn state_bytes(&self) -> u64 {
        let bytes = |t: &Tensor| (t.numel() * t.kind().elt_size_in_bytes()) as u64;
        self.shards.iter().flatten().map(bytes).sum()
    }
}

/// Unit `u`'s frozen shard laid out by `layout`, or `None` without frozen
/// parameters.
fn shard(
    units: &Units,
    u: usize,
    layout: &Layout,
    source: &dyn ParamSource,
) -> Result<Option<Tensor>> {
    let spec = units.frozen(u);
    if spec.params.is_empty() {
        return Ok(None);
    }
    let (start, len) = (layout.shard_start() as i64, layout.shard_len as i64);
    let values = read_unit_range(source, spec, start, len)?;
    Ok(Some(
        values.to_kind(units.dtype()).to_device(units.device()),
    ))
}
