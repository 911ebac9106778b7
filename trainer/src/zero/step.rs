//! The optimizer step. Its terms (this rank's squared gradient norms and
//! the finite check of the previous update) travel in the loop's one
//! all-reduce of the step ([`Engine::reduce_step`]) and come back named
//! ([`StepTerms`]); [`Engine::apply_step`] then has the sharded state take
//! the global gradient norm, clip, run AdamW on every optimizer group of
//! the arenas and refresh the compute copy
//! ([`super::sharded::ShardedState::apply`]). The finite check makes sure
//! that non-finite weights are never trained on nor saved: after an update
//! it costs one pass over the master arena (its minimum and maximum, on
//! the device, without waiting for them) and no collective of its own.
//! [`Engine::check_finite`] reduces it at once, before a checkpoint or the
//! final export.

use super::engine::Engine;
use super::sharded::{StepStats, StepTerms};
use crate::comm::ReduceOp;
use anyhow::{bail, Context, Result};
use tch::{Device, Tensor};

impl Engine {
    /// This rank's `carried` values (f64 `[k]` on the device) and the
    /// sharded state's step terms summed over every rank in one all-reduce
    /// and one read back: the caller's sums, in order, and the terms
    /// [`Engine::apply_step`] takes.
    pub fn reduce_step(&mut self, carried: Tensor) -> Result<(Vec<f64>, StepTerms)> {
        let terms = self.state.step_terms().to_device(carried.device());
        let mut t = Tensor::cat(&[carried, terms], 0);
        self.all_reduce_sum(&mut t)?;
        let mut flat = Vec::<f64>::try_from(t.to_device(Device::Cpu))?;
        // step_terms' order, from the end.
        let nonfinite = flat.pop().expect("the step terms");
        let sumsq = flat.pop().expect("the step terms");
        Ok((flat, StepTerms { sumsq, nonfinite }))
    }

    /// The update, given the [`StepTerms`] of every rank
    /// ([`Engine::reduce_step`]); see [`super::sharded::ShardedState::apply`].
    pub fn apply_step(&mut self, terms: StepTerms, lr: f64, max_norm: f64) -> Result<StepStats> {
        self.adapters.step_taken();
        self.state.apply(terms, lr, max_norm)
    }

    /// Whether the master weights and the fp32 optimizer state are finite on
    /// every rank (one all-reduce; every rank calls it).
    pub fn all_finite(&mut self) -> Result<bool> {
        let mut probe = self.state.finite_probe();
        self.collectives
            .comm()
            .all_reduce(&mut probe, ReduceOp::Sum)
            .context("all-reduce of the finite check")?;
        Ok(probe.double_value(&[0]).is_finite())
    }

    /// Fails when [`Engine::all_finite`] is false, naming the step.
    pub fn check_finite(&mut self) -> Result<()> {
        if !self.all_finite()? {
            bail!(
                "the weights are not finite after step {} (lower the learning rate?)",
                self.state.steps_done()
            );
        }
        Ok(())
    }
}
