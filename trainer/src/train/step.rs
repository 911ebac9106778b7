//! One training step: every micro-batch of this rank's share of the global
//! batch through the engine under the run's objective, the reported values
//! summed over ranks, then the optimizer step at the scheduled learning rate.

use super::Trainer;
use crate::ckpt::last_good;
use anyhow::{anyhow, bail, Result};
use tch::Tensor;

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

/// What every rank adds up after its micro-batches, then sums over ranks in
/// one all-reduce.
struct Sums {
    /// The objective's values, summed over micro-batches.
    values: Vec<f64>,
    tokens: i64,
    /// Whether a stop was requested (on any rank, once summed).
    stop: bool,
}

impl Sums {
    /// The sums over every rank.
    fn over_ranks(self, engine: &mut crate::zero::Engine) -> Result<Sums> {
        let mut flat = self.values;
        flat.extend([self.tokens as f64, f64::from(u8::from(self.stop))]);
        let mut t = Tensor::from_slice(&flat);
        engine.all_reduce_sum(&mut t)?;
        let mut flat = Vec::<f64>::try_from(t)?;
        let stop = flat.pop().unwrap_or(0.0) > 0.0;
        let tokens = flat.pop().unwrap_or(0.0) as i64;
        Ok(Sums {
            values: flat,
            tokens,
            stop,
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
        self.last_loss = Some(loss);
        let kept = || last_good(&self.root);
        if !loss.is_finite() {
            bail!("the loss became {loss} at step {}: stopping before the update; the last checkpoint ({}) is kept (lower the learning rate?)", step + 1, kept());
        }
        let stats = self
            .engine
            .step(lr, self.config.train.max_grad_norm)
            .map_err(|e| anyhow!("{e} at step {}: stopping; the last checkpoint ({}) is kept (lower the learning rate?)", step + 1, kept()))?;
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
    /// gradients accumulate in the engine; returns this rank's sums.
    fn micro_batches(&mut self, step: u64, norm: i64) -> Result<Sums> {
        let rank = self.engine.rank();
        let mut values: Vec<f64> = Vec::new();
        let mut tokens = 0i64;
        for m in 0..self.plan.grad_accum {
            let batch = self.steps.micro_batch(step, rank, m, self.engine.device());
            tokens += batch.tokens;
            let items = self.steps.micro_items(step, rank, m);
            let objective = self.objective.micro(&items, norm);
            let v = self.engine.micro_step(&batch, objective.as_ref())?;
            values.resize(v.len(), 0.0);
            values.iter_mut().zip(&v).for_each(|(a, b)| *a += b);
        }
        Ok(Sums {
            values,
            tokens,
            stop: crate::stop::requested(),
        })
    }
}
