//! One training step: every micro-batch of this rank's share of the global
//! batch through the engine under the run's objective, then one all-reduce
//! and one read back to the host ([`Engine::reduce_step`]) carrying the
//! reported values, the tokens, the stop request, and the engine's
//! [`StepTerms`]; then the optimizer step at the scheduled learning rate.
//! Nothing else in a step waits for the device.

use super::Trainer;
use crate::ckpt::last_good;
use crate::zero::{Engine, StepTerms};
use anyhow::{anyhow, bail, Result};
use tch::{Kind, Tensor};

/// What one step did, the same on every rank.
#[derive(Debug, Clone, PartialEq)]
pub struct StepReport {
    /// Optimizer steps done after this one (the step's 1-based number).
    pub step: u64,
    /// The step's loss (per target token, or per pair for DPO).
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// The learning rate of the update.
    pub lr: f64,
    /// Real tokens in the global batch.
    pub tokens: i64,
    /// The objective's reported values by name (`train_loss`, DPO's rewards).
    pub objective: Vec<(&'static str, f64)>,
    /// Bytes this rank's engine collectives moved during the step.
    pub comm_bytes: u64,
    /// Seconds this rank's compute waited on communication during the step.
    pub comm_wait_s: f64,
    /// Whether any rank was asked to stop (SIGTERM/SIGINT).
    pub stop_requested: bool,
}

/// What a rank adds up over its micro-batches.
struct Local {
    /// The objective's values, summed over micro-batches, f64 on the device.
    values: Tensor,
    tokens: i64,
    /// Whether a stop was requested on this rank.
    stop: bool,
}

/// The step's sums over every rank, on the host.
struct Sums {
    /// The objective's values.
    values: Vec<f64>,
    tokens: i64,
    /// Whether a stop was requested on any rank.
    stop: bool,
    /// What the optimizer step takes.
    terms: StepTerms,
}

impl Local {
    /// The sums over every rank, with the engine's step terms: one
    /// all-reduce, one read back.
    fn over_ranks(self, engine: &mut Engine) -> Result<Sums> {
        let dev = self.values.device();
        let scalar = |x: f64| Tensor::full([1], x, (Kind::Double, dev));
        let (tokens, stop) = (
            scalar(self.tokens as f64),
            scalar(f64::from(u8::from(self.stop))),
        );
        let carried = Tensor::cat(&[self.values, tokens, stop], 0);
        let (mut values, terms) = engine.reduce_step(carried)?;
        // What was carried after the values, from the end.
        let stop = values.pop().expect("the stop flag") > 0.0;
        let tokens = values.pop().expect("the token count") as i64;
        Ok(Sums {
            values,
            tokens,
            stop,
            terms,
        })
    }
}

impl Trainer<'_> {
    /// Trains step `step` (0-based) and reports it. Fails, applying no
    /// update, when the loss or the gradient norm is not finite.
    pub fn step(&mut self, step: u64) -> Result<StepReport> {
        let norm = self.steps.normaliser(step, self.config.train.reduce_loss);
        let comm_before = self.engine.comm_bytes();
        // What an evaluation or checkpoint waited before this step is not its own.
        let _ = self.engine.take_comm_wait();
        let sums = self.micro_batches(step, norm)?.over_ranks(self.engine)?;
        let lr = self.schedule.lr(step);
        let loss = sums.values[0] / norm.max(1) as f64;
        // The first step of this process: no update of its own came before.
        let hint = cause(self.last_loss.is_none(), lr);
        self.last_loss = Some(loss);
        let kept = || last_good(&self.root);
        if !loss.is_finite() {
            bail!("the loss became {loss} at step {}: stopping before the update; the last checkpoint ({}) is kept ({hint})", step + 1, kept());
        }
        let stats = self
            .engine
            .apply_step(sums.terms, lr, self.config.train.max_grad_norm)
            .map_err(|e| {
                anyhow!(
                    "{e} at step {}: stopping; the last checkpoint ({}) is kept ({hint})",
                    step + 1,
                    kept()
                )
            })?;
        self.last_values = self.objective.report(&sums.values, norm);
        Ok(StepReport {
            step: step + 1,
            loss,
            grad_norm: stats.grad_norm,
            lr,
            tokens: sums.tokens,
            objective: self.last_values.clone(),
            comm_bytes: self.engine.comm_bytes() - comm_before,
            comm_wait_s: self.engine.take_comm_wait().as_secs_f64(),
            stop_requested: sums.stop,
        })
    }

    /// Forward and backward of this rank's micro-batches of `step`: the
    /// gradients accumulate in the engine; returns this rank's sums, the
    /// objective's values still on the device.
    fn micro_batches(&mut self, step: u64, norm: i64) -> Result<Local> {
        let rank = self.engine.rank();
        let mut values: Option<Tensor> = None;
        let mut tokens = 0i64;
        for m in 0..self.plan.grad_accum {
            let (items, batch) = self.steps.micro_batch(step, rank, m, self.engine.device());
            tokens += batch.tokens;
            let objective = self.objective.micro(&items, norm);
            let v = self.engine.micro_step(&batch, objective.as_ref())?;
            // From zeros, as the sums always started.
            values = Some(values.unwrap_or_else(|| v.zeros_like()) + v);
        }
        Ok(Local {
            values: values.expect("at least one micro-batch"),
            tokens,
            stop: crate::stop::requested(),
        })
    }
}

/// Where a loss or gradient that is not finite points: before this run's
/// first update, or with a learning rate of 0, the updates cannot be the
/// cause; the model's weights or config are.
fn cause(first: bool, lr: f64) -> &'static str {
    match first || lr == 0.0 {
        true => "at the first step of this run or with a learning rate of 0, so not from the learning rate: check the model's weights for NaN or Inf and config.json's rms_norm_eps, rope_theta and initializer_range",
        false => "lower the learning rate?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zero::testing::tiny_engine;

    #[test]
    fn one_reduce_carries_the_values_tokens_stop_and_gradient_norm() {
        let mut engine = tiny_engine(32, 1 << 40);
        // A gradient of 1 on every element of block 0's shard (10496).
        engine.fill_grad(1, 1.0);
        let local = Local {
            values: Tensor::from_slice(&[3.5f64, -1.25]),
            tokens: 7,
            stop: true,
        };
        let sums = local.over_ranks(&mut engine).unwrap();
        assert_eq!(sums.values, [3.5, -1.25]);
        assert_eq!((sums.tokens, sums.stop), (7, true));
        // The shard's norm is computed in f32.
        assert!(
            (sums.terms.sumsq - 10496.0).abs() < 1e-2,
            "{:?}",
            sums.terms
        );
        assert_eq!(sums.terms.nonfinite, 0.0);
        let stats = engine.apply_step(sums.terms, 1e-3, 0.0).unwrap();
        assert_eq!(stats.grad_norm, sums.terms.sumsq.sqrt());
    }
}
