//! The engine's state as checkpoints and exports see it: per unit, the
//! real (unpadded) flat range this rank owns with its fp32 master weights
//! and optimizer state pieces; loading such ranges, written by any world
//! size, back into the shards; and a unit's full weights gathered from
//! every rank. The ranges themselves are the sharded state's
//! ([`super::sharded::ShardedState`]); the engine adds the layouts of the
//! writing world and the gathers.

use super::engine::Engine;
use super::sharded::{ReadStored, UnitState};
use anyhow::Result;
use tch::{Kind, Tensor};

impl Engine {
    /// This rank's state to save, unit by unit.
    pub fn saved_state(&self) -> Vec<UnitState> {
        self.state.saved()
    }

    /// Whether rank `rank` of a world of `world` owned part of this rank's
    /// ranges (its checkpoint file is then needed to resume).
    pub fn overlaps(&self, rank: usize, world: usize) -> bool {
        self.state.overlaps(&self.units.layouts(rank, world))
    }

    /// The flat range `[start, end)` of every unit that rank `rank` of a
    /// world of `world` owns: what its checkpoint file records.
    pub fn owned_ranges(&self, rank: usize, world: usize) -> Vec<(usize, usize)> {
        self.units
            .layouts(rank, world)
            .iter()
            .map(|l| l.owned())
            .collect()
    }

    /// Copies the overlap of what rank `rank` of a world of `world` saved
    /// into this rank's shards (master weights and optimizer state), reading
    /// it through `read`.
    pub fn load_ranges(&mut self, rank: usize, world: usize, read: &ReadStored) -> Result<()> {
        self.state.load(&self.units.layouts(rank, world), read)
    }

    /// After [`Engine::load_ranges`] filled every range: refreshes the
    /// compute copies, clears the gradients, and continues after step `step`.
    pub fn resume_at(&mut self, step: u64) {
        self.state.resume_at(step)
    }

    /// Number of units (the gather granularity).
    pub fn units(&self) -> usize {
        self.units.count()
    }

    /// Every parameter's name and shape, unit by unit, in the model's order.
    pub fn parameters(&self) -> Vec<(String, Vec<i64>)> {
        crate::model::shapes(self.units.specs())
    }

    /// The trained parameters (name, shape), unit by unit: all of them, or
    /// in a LoRA run the adapters and `modules_to_save`.
    pub fn trained_parameters(&self) -> Vec<(String, Vec<i64>)> {
        let units = (0..self.units.count()).map(|u| self.units.trainable(u).clone());
        crate::model::shapes(&units.collect::<Vec<_>>())
    }

    /// Unit `u`'s trained parameters, fp32 master weights gathered from
    /// every rank (every rank calls it).
    pub fn gather_trained(&mut self, u: usize) -> Result<Vec<(String, Tensor)>> {
        let master = self.state.master_on_device(u);
        let full = self.collectives.comm().all_gather(&master)?;
        self.units.trainable(u).named(&full)
    }

    /// Unit `u`'s fp32 master weights gathered from every rank, as named
    /// full tensors (every rank calls it); in a LoRA run, with its frozen
    /// weights (in fp32 from the compute dtype, dequantised from NF4).
    pub fn gather_unit(&mut self, u: usize) -> Result<Vec<(String, Tensor)>> {
        let trained = self.gather_trained(u)?;
        if !self.units.frozen_base() {
            return Ok(trained);
        }
        let frozen = match self.units.frozen(u).params.is_empty() {
            true => Vec::new(),
            false => {
                let shard = self.frozen.shard(u);
                let full = self.collectives.comm().all_gather(&shard)?;
                let frozen = self.frozen.unpack(&self.units, u, &full)?;
                frozen.iter().map(|t| t.to_kind(Kind::Float)).collect()
            }
        };
        let trained = trained.into_iter().map(|(_, t)| t).collect();
        let params = self.units.merge(u, frozen, trained);
        let names = self.units.spec(u).params.iter().map(|p| p.name.clone());
        Ok(names.zip(params).collect())
    }
}
