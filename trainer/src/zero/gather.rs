//! A unit's parameters as a pass runs it: all-gathered through the
//! collectives, from the trained shards (the sharded state's compute copy)
//! and, in a LoRA run, the frozen ones (`frozen.rs`, dequantised from an
//! NF4 base), joined back in the unit's order.

use super::engine::Engine;
use super::flight::Part;
use anyhow::Result;
use tch::Tensor;

impl Engine {
    /// All-gathers `part` ([`super::flight::Collectives::gather`]).
    fn gather_part(&mut self, part: Part) -> Result<Tensor> {
        let (state, frozen) = (&self.state, &self.frozen);
        let shard = |p: Part| match p {
            Part::Trainable(u) => state.shards()[u].compute.shallow_clone(),
            Part::Frozen(u) => frozen.shard(u),
        };
        self.collectives.gather(&shard, part)
    }

    /// Unit `u`'s gathered parameters, in its order (views of the gathered
    /// buffers).
    pub(super) fn gather_unit_params(&mut self, u: usize) -> Result<Vec<Tensor>> {
        let (mut frozen, mut trained) = (Vec::new(), Vec::new());
        for part in self.units.gathers(u) {
            let flat = self.gather_part(part)?;
            match part {
                Part::Frozen(_) => frozen = self.frozen.unpack(&self.units, u, &flat)?,
                Part::Trainable(_) => trained = self.units.trainable(u).split_flat(&flat)?,
            }
        }
        Ok(self.units.merge(u, frozen, trained))
    }

    /// Unit `u`'s gathered parameters, and the gathered embedding weight
    /// when the unit ties to it.
    pub(super) fn gather_params(&mut self, u: usize) -> Result<(Vec<Tensor>, Option<Tensor>)> {
        let params = self.gather_unit_params(u)?;
        let embed = match self.units.spec(u).uses_embedding {
            true => Some(self.gather_unit_params(0)?.remove(0)),
            false => None,
        };
        Ok((params, embed))
    }
}
