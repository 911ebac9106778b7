//! The typed configuration tree. Every key a YAML file may hold is a field
//! here; unknown keys are rejected (`deny_unknown_fields`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub use crate::data::*;

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
    /// A Hugging Face model folder (config.json, *.safetensors, tokenizer files).
    pub path: Option<PathBuf>,
    /// A config.json alone: the model is initialised at random.
    pub config: Option<PathBuf>,
    /// Compute dtype: f32 | bf16.
    #[serde(default)]
    pub dtype: Dtype,
    /// Tokenizer folder or tokenizer.json (defaults to the model folder).
    pub tokenizer: Option<PathBuf>,
}

/// Learning-rate schedule shape.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    Constant,
    #[default]
    Linear,
    Cosine,
}

/// Learning-rate schedule: warmup, then decay to `min_lr_ratio * learning_rate`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    #[serde(default)]
    pub kind: ScheduleKind,
    /// Warmup as a share of all steps (ignored when warmup_steps is set).
    #[serde(default)]
    pub warmup_ratio: f64,
    pub warmup_steps: Option<u64>,
    /// Floor of the decay, as a share of the peak learning rate.
    #[serde(default)]
    pub min_lr_ratio: f64,
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
    /// DPO: strength of the KL penalty towards the reference model.
    #[serde(default = "default_dpo_beta")]
    pub dpo_beta: f64,
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
            dpo_beta: default_dpo_beta(),
        }
    }
}

/// AdamW settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Only `adamw` for now.
    #[serde(default = "default_opt")]
    pub kind: String,
    /// Optimizer-state precision: 32 | 8.
    #[serde(default = "default_bits")]
    pub bits: u32,
    #[serde(default)]
    pub weight_decay: f64,
    #[serde(default = "default_betas")]
    pub betas: [f64; 2],
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// Units with fewer parameters keep 32-bit state under `bits: 8`.
    #[serde(default = "default_min_8bit")]
    pub min_8bit_size: u64,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            kind: default_opt(),
            bits: default_bits(),
            weight_decay: 0.0,
            betas: default_betas(),
            eps: default_eps(),
            min_8bit_size: default_min_8bit(),
        }
    }
}

/// Sharded checkpoints and resume.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    /// Default: `output/<run_name>`.
    pub output_dir: Option<PathBuf>,
    pub every_steps: Option<u64>,
    #[serde(default)]
    pub at_epoch_end: bool,
    pub keep_last: Option<u32>,
    /// auto | never | <path of a checkpoint folder>.
    pub resume: Option<String>,
}

/// Evaluation on the validation split.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    pub every_steps: Option<u64>,
    pub max_batches: Option<u64>,
}

/// Hugging Face export of the final weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ExportConfig {
    /// bf16 (default) | f32 | compute.
    pub dtype: Option<String>,
    /// Largest safetensors shard, e.g. "5GB" (default) or a byte count.
    pub max_shard_size: Option<String>,
}

/// When to push to the Hub.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum PushWhen {
    #[default]
    OnFinish,
    Never,
}

/// Hugging Face Hub repository for the final weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// `name` or `namespace/name`.
    pub repo_id: String,
    /// Prefixed to a repo_id that has no namespace yet.
    pub namespace: Option<String>,
    /// Whether a repository this run creates is private (default true; an
    /// existing repository keeps its visibility).
    #[serde(default = "yes")]
    pub private: bool,
    pub revision: Option<String>,
    pub commit_message: Option<String>,
    #[serde(default)]
    pub push: PushWhen,
}

/// Console and metrics.jsonl cadence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    #[serde(default = "default_log_every")]
    pub every_steps: u64,
    /// Peak FLOP/s of one device for MFU (default: detected for known GPUs).
    pub peak_flops_per_device: Option<f64>,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            every_steps: default_log_every(),
            peak_flops_per_device: None,
        }
    }
}

/// Communication backend.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum CommKind {
    #[default]
    Auto,
    Nccl,
    Cpu,
}

/// Compute device of the ranks.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    #[default]
    Auto,
    Cpu,
    Cuda,
}

/// Supervision settings of `launch`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LauncherConfig {
    /// Restart the whole group this many times after a failure.
    #[serde(default)]
    pub max_restarts: u32,
    /// Seconds between SIGTERM and SIGKILL when the group is stopped.
    #[serde(default = "default_grace")]
    pub grace_period_s: f64,
}

impl Default for LauncherConfig {
    fn default() -> Self {
        Self {
            max_restarts: 0,
            grace_period_s: default_grace(),
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
fn default_opt() -> String {
    "adamw".into()
}
fn default_bits() -> u32 {
    32
}
fn default_betas() -> [f64; 2] {
    [0.9, 0.999]
}
fn default_eps() -> f64 {
    1e-8
}
fn default_min_8bit() -> u64 {
    4096
}
fn default_dpo_beta() -> f64 {
    0.1
}
fn default_log_every() -> u64 {
    10
}
fn default_grace() -> f64 {
    10.0
}
fn default_comm_timeout() -> f64 {
    600.0
}
