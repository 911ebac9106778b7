//! The typed configuration tree. Every key a YAML file may hold is a field
//! here or in the modules it re-exports; unknown keys are rejected
//! (`deny_unknown_fields`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::data::*;
pub use crate::dpo::{DpoLossType, DEFAULT_SIMPO_GAMMA};
pub use crate::schedule::*;
pub use crate::sections::*;
pub use crate::template::*;
pub use crate::values::*;

/// A whole run: what `launch N config.yaml` reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Name of the run; logs go to `logs/<run_name>/`.
    pub run_name: String,
    #[serde(default)]
    pub model: ModelConfig,
    #[serde(default)]
    pub data: DataConfig,
    #[serde(default)]
    pub train: TrainConfig,
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
    #[serde(default)]
    pub eval: EvalConfig,
    #[serde(default)]
    pub export: ExportConfig,
    /// Optional: where to push the final weights.
    #[serde(default)]
    pub hub: Option<HubConfig>,
    #[serde(default)]
    pub logging: LoggingConfig,
    /// Communication backend: `auto` (nccl with GPUs, else cpu), `nccl` or `cpu`.
    #[serde(default)]
    pub comm: CommKind,
    /// Seconds a collective may wait for the other ranks before the run
    /// fails naming the rank that did not arrive; also how long `launch`
    /// lets a rank's heartbeat stay silent.
    #[serde(default = "default_comm_timeout")]
    pub comm_timeout_s: f64,
    /// Whether collectives overlap compute: the next unit's all-gather and
    /// the last unit's gradient reduce-scatter move while a unit computes
    /// (DeepSpeed's `overlap_comm`). Off, each collective runs in turn.
    #[serde(default = "yes")]
    pub overlap_comm: bool,
    /// Where ranks compute: `auto` (GPU `LOCAL_RANK` when CUDA is usable), `cpu` or `cuda`.
    #[serde(default)]
    pub device: DeviceKind,
    #[serde(default)]
    pub launcher: LauncherConfig,
    /// Dotted-key overrides applied when the world size equals the map key.
    #[serde(default)]
    pub by_world_size: BTreeMap<u32, BTreeMap<String, serde_yaml::Value>>,
}

/// Compute dtype of the forward and backward passes (master weights are fp32).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    F32,
    #[default]
    Bf16,
}

/// Where the model comes from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// A Hugging Face model folder (config.json, *.safetensors, tokenizer
    /// files), or a Hub repo id (`org/name`) that is not a local folder: the
    /// launcher resolves it in the Hugging Face cache, downloading what is
    /// missing, before any rank starts.
    pub path: Option<PathBuf>,
    /// A config.json alone: the model is initialised at random.
    pub config: Option<PathBuf>,
    /// Compute dtype: f32 | bf16.
    #[serde(default)]
    pub dtype: Dtype,
    /// Tokenizer folder or tokenizer.json (defaults to the model folder), or
    /// a Hub repo id like `path`.
    pub tokenizer: Option<PathBuf>,
    /// Branch, tag or commit of the Hub ids in `path` and `tokenizer`
    /// (default `main`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// Where the initial weights come from (see [`ModelConfig::source`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource<'a> {
    /// A Hugging Face model folder (`model.path`).
    Weights(&'a Path),
    /// A config.json alone, initialised at random (`model.config`).
    RandomInit(&'a Path),
}

impl ModelConfig {
    /// `path` when it is a Hub repo id (see [`crate::repo_id::hub_id`]).
    pub fn hub_path(&self) -> Option<&str> {
        self.path.as_deref().and_then(crate::repo_id::hub_id)
    }

    /// `tokenizer` when it is a Hub repo id.
    pub fn hub_tokenizer(&self) -> Option<&str> {
        self.tokenizer.as_deref().and_then(crate::repo_id::hub_id)
    }

    /// `revision`, or `main`.
    pub fn revision(&self) -> &str {
        self.revision.as_deref().unwrap_or("main")
    }

    /// `model.path` or `model.config`; the error says that neither is set.
    pub fn source(&self) -> Result<ModelSource<'_>, String> {
        match (&self.path, &self.config) {
            (Some(dir), _) => Ok(ModelSource::Weights(dir)),
            (None, Some(file)) => Ok(ModelSource::RandomInit(file)),
            (None, None) => Err("set `model.path` (a Hugging Face model folder) or `model.config` (a config.json for random init)".into()),
        }
    }
}

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

fn one() -> u64 {
    1
}
pub(crate) fn yes() -> bool {
    true
}
pub(crate) fn default_seq_len() -> usize {
    2048
}
pub(crate) fn default_seed() -> u64 {
    42
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
fn default_comm_timeout() -> f64 {
    600.0
}
