//! The `train:` section: batch sizes, the length of the run, the
//! optimisation hyper-parameters and how a step's losses are reduced; its
//! defaults and its rules.

use crate::data::Objective;
use crate::defaults::default_seed;
use crate::dpo::{self, DpoLossType, DEFAULT_SIMPO_GAMMA};
use crate::rules::{floats, non_negative, positive, positive_number, share};
use crate::schedule::ScheduleConfig;
use crate::values::ActivationCheckpointing;
use serde::{Deserialize, Serialize};

/// Batch sizes, length of training and the optimisation hyper-parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// Sequences per device per micro-step.
    #[serde(default = "one")]
    pub micro_batch_size: u64,
    /// Sequences per optimizer step over all devices; gradient accumulation
    /// = effective / (micro * world size). Defaults to micro * world size.
    pub effective_batch_size: Option<u64>,
    pub epochs: Option<f64>,
    pub max_steps: Option<u64>,
    #[serde(default = "default_lr")]
    pub learning_rate: f64,
    #[serde(default)]
    pub lr_schedule: ScheduleConfig,
    #[serde(default = "default_clip")]
    pub max_grad_norm: f64,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// CPU threads per rank (default: cores / ranks on this node).
    pub threads: Option<usize>,
    /// Run this many steps and print a green/red sanity table.
    pub sanity_steps: Option<u64>,
    /// What the sanity table demands.
    #[serde(default)]
    pub sanity: SanityConfig,
    /// DPO: strength of the KL penalty towards the reference model.
    #[serde(default = "default_dpo_beta")]
    pub dpo_beta: f64,
    /// DPO: the preference loss (`dpo`, `dpo_norm`, `simpo`, `wpo`, `ipo`).
    #[serde(default)]
    pub dpo_loss_type: DpoLossType,
    /// DPO: conservative-DPO label smoothing of the sigmoid losses, in [0, 0.5).
    #[serde(default)]
    pub dpo_label_smoothing: f64,
    /// SimPO: the target reward margin gamma (default 0.5; simpo only).
    pub simpo_gamma: Option<f64>,
    /// Pretraining and SFT: how token losses become the step's loss.
    #[serde(default)]
    pub reduce_loss: ReduceLoss,
    /// Whether the backward pass recomputes units (`true`), keeps every
    /// unit's forward graph (`false`), or recomputes only as many as the
    /// memory plan needs to fit the device (`auto`, the default).
    #[serde(default)]
    pub activation_checkpointing: ActivationCheckpointing,
}

/// `train.reduce_loss`: how a step's token losses are reduced (pretraining
/// and SFT), as open-instruct's `--reduce_loss`; for a fixed effective batch
/// and micro-batch size both give the same loss at every world size.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReduceLoss {
    /// Sum of token losses over the global batch / its target tokens: every
    /// target token weighs the same.
    #[default]
    Mean,
    /// Sum of token losses over the global batch / its number of
    /// micro-batches (effective_batch_size / micro_batch_size): the
    /// per-micro-batch token-loss sum, averaged over gradient accumulation
    /// and devices, as open-instruct's `sum` with accelerate and DeepSpeed.
    Sum,
}

/// `train.sanity`: the floors of the sanity table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct SanityConfig {
    /// Tokens/s (all ranks) below which the throughput row is red (default:
    /// 1% model FLOPs utilisation where the device's peak is known).
    pub min_tokens_per_s: Option<f64>,
}

impl TrainConfig {
    /// `train.simpo_gamma`, or its default.
    pub fn simpo_gamma(&self) -> f64 {
        self.simpo_gamma.unwrap_or(DEFAULT_SIMPO_GAMMA)
    }

    /// Optimizer steps of the whole run, from `max_steps`, else `epochs` of
    /// `per_epoch` steps each (at least one step); the error says that
    /// neither is set.
    pub fn planned_steps(&self, per_epoch: u64) -> Result<u64, String> {
        match (self.max_steps, self.epochs) {
            (Some(n), _) => Ok(n),
            (None, Some(e)) => Ok(((e * per_epoch as f64).ceil() as u64).max(1)),
            (None, None) => Err(
                "set `train.max_steps` or `train.epochs`: neither is set, so the run has no length"
                    .into(),
            ),
        }
    }

    /// The training keys' rules; `objective` is `data.objective`.
    pub(crate) fn check(&self, objective: Objective) -> Result<(), String> {
        if self.reduce_loss == ReduceLoss::Sum && objective == Objective::Dpo {
            return Err("`train.reduce_loss: sum` applies to pretraining and SFT; the DPO loss is a mean over pairs: remove train.reduce_loss".into());
        }
        let cores = "or left out for cores / ranks";
        positive("train.threads", self.threads.map(|n| n as u64), cores)?;
        let nothing = "a run of 0 steps trains nothing and would write untrained weights to final/";
        positive("train.max_steps", self.max_steps, nothing)?;
        positive("train.sanity_steps", self.sanity_steps, nothing)?;
        let s = &self.lr_schedule;
        s.check()?;
        let in_01 = "a share in [0, 1]";
        floats(&[
            (
                "train.epochs",
                self.epochs,
                positive_number,
                "a positive number",
            ),
            (
                "train.lr_schedule.warmup_ratio",
                Some(s.warmup_ratio),
                share,
                in_01,
            ),
            (
                "train.lr_schedule.min_lr_ratio",
                Some(s.min_lr_ratio),
                share,
                in_01,
            ),
            (
                "train.max_grad_norm",
                Some(self.max_grad_norm),
                non_negative,
                "a non-negative number (0: no clipping)",
            ),
            (
                "train.dpo_beta",
                Some(self.dpo_beta),
                positive_number,
                "a positive number",
            ),
        ])?;
        dpo::check(
            self.dpo_loss_type,
            self.dpo_label_smoothing,
            self.simpo_gamma,
        )
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            micro_batch_size: 1,
            effective_batch_size: None,
            epochs: None,
            max_steps: None,
            learning_rate: default_lr(),
            lr_schedule: ScheduleConfig::default(),
            max_grad_norm: default_clip(),
            seed: default_seed(),
            threads: None,
            sanity_steps: None,
            sanity: SanityConfig::default(),
            dpo_beta: default_dpo_beta(),
            dpo_loss_type: DpoLossType::default(),
            dpo_label_smoothing: 0.0,
            simpo_gamma: None,
            reduce_loss: ReduceLoss::default(),
            activation_checkpointing: ActivationCheckpointing::default(),
        }
    }
}

impl SanityConfig {
    /// The sanity table's rules.
    pub(crate) fn check(&self) -> Result<(), String> {
        floats(&[(
            "train.sanity.min_tokens_per_s",
            self.min_tokens_per_s,
            positive_number,
            "a positive number of tokens per second (or left out)",
        )])
    }
}

fn one() -> u64 {
    1
}
fn default_lr() -> f64 {
    5.0e-5
}
fn default_clip() -> f64 {
    1.0
}
fn default_dpo_beta() -> f64 {
    0.1
}
