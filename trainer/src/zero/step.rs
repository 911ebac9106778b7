//! The optimizer step. Its terms (this rank's squared gradient norms and
//! the finite check of the previous update) travel in the loop's one
//! all-reduce of the step ([`Engine::reduce_step`]) and come back named
//! ([`StepTerms`]); [`Engine::apply_step`] then takes the global gradient
//! norm, clips, runs AdamW on every optimizer group of the arenas and
//! refreshes the compute copy. The finite check makes sure that non-finite
//! weights are never trained on nor saved: after an update it costs one
//! pass over the master arena (its minimum and maximum, on the device,
//! without waiting for them) and no collective of its own.
//! [`Engine::check_finite`] reduces it at once, before a checkpoint or the
//! final export.

use super::engine::Engine;
use crate::comm::ReduceOp;
use anyhow::{bail, Context, Result};
use tch::{Device, Kind, Tensor};

/// The outcome of one optimizer step.
pub struct StepStats {
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

/// What the optimizer step needs summed over every rank.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepTerms {
    /// Squared gradient norms, summed (the global norm's square).
    pub sumsq: f64,
    /// The finite check of the previous update: 0, or NaN when it left a
    /// non-finite master weight.
    pub nonfinite: f64,
}

/// `[1]` f64: finite when every element of `t` is (its range, in f64).
fn range(t: &Tensor) -> Tensor {
    let (lo, hi) = t.aminmax(None, false);
    (hi.to_kind(Kind::Double) - lo.to_kind(Kind::Double)).reshape([1])
}

impl Engine {
    /// This rank's `carried` values (f64 `[k]` on the device) and the
    /// engine's step terms ([`Engine::step_terms`]) summed over every rank
    /// in one all-reduce and one read back: the caller's sums, in order,
    /// and the terms [`Engine::apply_step`] takes.
    pub fn reduce_step(&mut self, carried: Tensor) -> Result<(Vec<f64>, StepTerms)> {
        let terms = self.step_terms().to_device(carried.device());
        let mut t = Tensor::cat(&[carried, terms], 0);
        self.all_reduce_sum(&mut t)?;
        let mut flat = Vec::<f64>::try_from(t.to_device(Device::Cpu))?;
        // step_terms' order, from the end.
        let nonfinite = flat.pop().expect("the step terms");
        let sumsq = flat.pop().expect("the step terms");
        Ok((flat, StepTerms { sumsq, nonfinite }))
    }

    /// This rank's [`StepTerms`], f64 `[sumsq, nonfinite]` on the device,
    /// not waited for.
    fn step_terms(&mut self) -> Tensor {
        // Each shard's norm in f32 on its device, then their squares summed in f64.
        let norms: Vec<Tensor> = self.shards.iter().map(|s| s.grad.norm()).collect();
        let sumsq = Tensor::stack(&norms, 0)
            .to_kind(Kind::Double)
            .square()
            .sum(Kind::Double)
            .reshape([1]);
        let last = match self.unchecked.take() {
            Some(probe) => probe,
            None => sumsq.zeros_like(),
        };
        Tensor::cat(&[sumsq, last], 0)
    }

    /// Global grad norm, clipping to `max_norm` (0: none), AdamW at `lr` on
    /// every optimizer group, refresh of the compute copy, zeroed
    /// accumulators (each once per arena: [`super::arena::Arena::step`]),
    /// given the [`StepTerms`] of every rank ([`Engine::reduce_step`]).
    /// Fails, applying nothing, when the gradient norm is not finite or the
    /// previous update left a non-finite master weight on any rank.
    pub fn apply_step(&mut self, terms: StepTerms, lr: f64, max_norm: f64) -> Result<StepStats> {
        let (grad_norm, last) = (terms.sumsq.sqrt(), terms.nonfinite);
        if !last.is_finite() || !grad_norm.is_finite() {
            // Never apply (or later save) non-finite weights.
            let _ = self.arena.grad.zero_();
            match last.is_finite() {
                false => bail!(
                    "the master weights are not finite after the update of step {}",
                    self.steps_done
                ),
                true => bail!("the gradient norm is {grad_norm}: the update was not applied"),
            }
        }
        let clip = if max_norm > 0.0 {
            (max_norm / (grad_norm + 1e-6)).min(1.0)
        } else {
            1.0
        };
        self.steps_done += 1;
        let t = self.steps_done;
        self.arena.step(&self.at, clip, lr, t);
        self.unchecked = Some(self.probe(false));
        Ok(StepStats { grad_norm })
    }

    /// `[1]` f64 on the shards' device: 0 when every master weight of this
    /// rank (and, with `state`, every fp32 optimizer-state element) is
    /// finite, NaN otherwise. Nothing waits for it.
    fn probe(&self, state: bool) -> Tensor {
        let mut ranges = vec![range(&self.arena.master)];
        if state {
            for group in &self.arena.groups {
                let pieces = group.opt.state();
                let fp32 = pieces.iter().filter(|p| p.tensor.kind() == Kind::Float);
                ranges.extend(fp32.map(|p| range(&p.tensor)));
            }
        }
        let probe = Tensor::cat(&ranges, 0).sum(Kind::Double).reshape([1]) * 0.0;
        self.at.on_device(&probe)
    }

    /// Whether the master weights and the fp32 optimizer state are finite on
    /// every rank (one all-reduce; every rank calls it).
    pub fn all_finite(&mut self) -> Result<bool> {
        self.unchecked = None;
        let mut probe = self.probe(true);
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
                self.steps_done
            );
        }
        Ok(())
    }
}
