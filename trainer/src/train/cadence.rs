//! When a run evaluates and saves, and how it ends: evaluation every
//! `eval.every_steps` (and after the first and the last step), checkpoints
//! every `checkpoint.every_steps`, at epoch ends, at the end and on a stop
//! request (each followed by rank 0's charts); whether a stop request
//! (Ctrl-C) ends the run after this step; then the charts, and the sanity
//! table of a sanity run or the final export.

use super::{Finish, StepReport, Trainer};
use crate::ckpt::{self, RunState};
use crate::eval::EvalPass;
use crate::export::Summary;
use crate::metrics::host_memory;
use anyhow::{anyhow, bail, Result};
use runconfig::Config;
use serde_json::json;
use tch::{Kind, Tensor};

/// Whether to evaluate after `done` of `total` steps.
fn eval_due(config: &Config, done: u64, total: u64) -> bool {
    let every = config.eval.every_steps;
    every.is_some_and(|e| done.is_multiple_of(e) || done == total || done == 1)
}

/// Whether to save a checkpoint after `done` of `total` steps (a stop
/// request saves as well).
fn checkpoint_due(config: &Config, done: u64, total: u64, per_epoch: u64) -> bool {
    let saving = config.checkpoint.every_steps;
    let epoch_end = config.checkpoint.at_epoch_end && done.is_multiple_of(per_epoch);
    // The end of a full run is always saved: `finished` points at it.
    let last = done == total && (saving.is_some() || config.train.sanity_steps.is_none());
    epoch_end || last || saving.is_some_and(|every| done.is_multiple_of(every))
}

impl Trainer<'_> {
    /// Evaluates on the validation set when due (and when there is one);
    /// rank 0 records the result.
    pub fn evaluate_if_due(&mut self, done: u64) -> Result<()> {
        if !eval_due(self.config, done, self.total) || self.validation.is_empty() {
            return Ok(());
        }
        let mut m = self.objective.evaluate(&mut EvalPass {
            engine: self.engine,
            set: self.validation,
            pad_id: self.steps.pad_id(),
            micro: self.plan.micro_batch_size as usize,
            max_samples: self.config.eval.max_samples,
        })?;
        m.insert("step".into(), json!(done));
        let loss = m["eval_loss"].as_f64().unwrap_or(f64::NAN);
        self.seen.eval_losses.push(loss);
        self.record(&m)?;
        self.last_eval = m;
        Ok(())
    }

    /// Whether the run stops after step `r`: a rank was asked to before
    /// the step's reduce (`r.stop_requested`), or since, during the update,
    /// the log line or the evaluation. The second question is one more
    /// scalar all-reduce, so that every rank agrees and a Ctrl-C stops after
    /// the step under way rather than one step later.
    pub fn stop_after(&mut self, r: &StepReport) -> Result<bool> {
        if r.stop_requested {
            return Ok(true);
        }
        let asked = f64::from(u8::from(crate::stop::requested()));
        if self.plan.world_size == 1 {
            return Ok(asked > 0.0);
        }
        let mut t = Tensor::full([1], asked, (Kind::Double, self.engine.device()));
        self.engine.all_reduce_sum(&mut t)?;
        Ok(t.double_value(&[0]) > 0.0)
    }

    /// Saves a checkpoint after step `r` when due or when the run stops.
    pub fn checkpoint_if_due(&mut self, r: &StepReport, stop: bool) -> Result<()> {
        let per_epoch = self.steps.per_epoch;
        if checkpoint_due(self.config, r.step, self.total, per_epoch) || stop {
            let state = RunState {
                fingerprint: self.fingerprint.clone(),
                config_yaml: &self.config_yaml,
                epoch: self.epoch,
                total_tokens: self.total_tokens,
                keep_last: self.config.checkpoint.keep_last,
                model_config: self.model_config.clone(),
            };
            ckpt::save(self.engine, &self.root, &state)?;
            self.redraw_charts();
        }
        Ok(())
    }

    /// Rank 0 redraws `<output_dir>/plots/` (other ranks have no metrics).
    fn redraw_charts(&self) {
        if let Some(m) = &self.metrics {
            m.redraw_charts(&self.config.run_name);
        }
    }

    /// Ends a run whose steps all ran: the charts, then the sanity table or
    /// the export.
    pub fn finish(mut self) -> Result<Finish> {
        if self.engine.rank() == 0 {
            println!("{}", self.end_line());
        }
        self.redraw_charts();
        match self.config.train.sanity_steps {
            Some(_) => self.sanity_table(),
            None => self.export_final(),
        }
    }

    /// Prints the green/red table (rank 0); a red one fails the run.
    fn sanity_table(&mut self) -> Result<Finish> {
        if self.gpu.is_none() {
            self.seen.peak_memory_bytes = host_memory().1;
        }
        let floors = crate::sanity::Floors {
            max_grad_norm: self.config.train.max_grad_norm,
            min_tokens_per_s: self.config.train.sanity.min_tokens_per_s.or_else(|| {
                let world = self.plan.world_size as f64;
                self.mfu.as_ref().map(|m| m.tokens_per_s_at(0.01) * world)
            }),
        };
        let (text, green) = crate::sanity::table(&self.seen, &floors);
        if self.engine.rank() == 0 {
            println!("{text}");
        }
        if !green {
            bail!("the sanity check is red (see the table above)");
        }
        Ok(Finish::Completed)
    }

    /// The last step's `rewards/*` and the last evaluation's `eval_rewards/*`.
    fn final_rewards(&self) -> Vec<(String, f64)> {
        let step = self.last_values.iter().map(|(k, v)| (k.to_string(), *v));
        let eval = self
            .last_eval
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)));
        step.chain(eval)
            .filter(|(k, _)| k.starts_with("rewards/") || k.starts_with("eval_rewards/"))
            .collect()
    }

    /// Writes `final/` from finite weights and marks the run finished.
    fn export_final(&mut self) -> Result<Finish> {
        let summary = Summary {
            step: self.total,
            train_loss: self.last_loss,
            eval_loss: self.last_eval.get("eval_loss").and_then(|v| v.as_f64()),
            rewards: self.final_rewards(),
            total_tokens: self.total_tokens,
            world_size: self.plan.world_size as usize,
        };
        self.engine.check_finite().map_err(|e| {
            let kept = ckpt::last_good(&self.root);
            anyhow!("{e}: final/ was not written; the last good checkpoint is {kept}")
        })?;
        crate::finish::export(self.engine, self.config, self.plan, &summary)?;
        Ok(Finish::Completed)
    }
}
