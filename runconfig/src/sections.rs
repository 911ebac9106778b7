//! The sections after `train:`: optimizer, checkpoints, evaluation, export,
//! the Hub, logging, communication, device and the launcher's supervision.

use crate::schema::yes;
use crate::values::{ByteSize, ExportDtype, OptimizerKind, Resume};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// AdamW settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// Only `adamw` for now.
    #[serde(default)]
    pub kind: OptimizerKind,
    /// Optimizer-state precision: 32 | 8.
    #[serde(default = "default_bits")]
    pub bits: u32,
    /// Decoupled weight decay of the matrices (see `decay_norms_and_biases`).
    #[serde(default)]
    pub weight_decay: f64,
    /// Also decay biases and norm weights (transformers' Trainer does not).
    #[serde(default)]
    pub decay_norms_and_biases: bool,
    #[serde(default = "default_betas")]
    pub betas: [f64; 2],
    #[serde(default = "default_eps")]
    pub eps: f64,
    /// Units with fewer parameters keep 32-bit state under `bits: 8`.
    #[serde(default = "default_min_8bit")]
    pub min_8bit_size: u64,
    /// Where the fp32 master weights and the optimizer state live: `none`
    /// (on the device) or `cpu` (host memory, the step on host threads).
    #[serde(default)]
    pub offload: Offload,
}

/// `optimizer.offload`: where master weights and optimizer state live.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Offload {
    /// On the compute device, next to the gradients.
    #[default]
    None,
    /// In host memory (pinned when the device is a GPU); the optimizer step
    /// runs on the host and only the compute-dtype shard goes to the device.
    Cpu,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::AdamW,
            bits: default_bits(),
            weight_decay: 0.0,
            decay_norms_and_biases: false,
            betas: default_betas(),
            eps: default_eps(),
            min_8bit_size: default_min_8bit(),
            offload: Offload::None,
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
    /// auto | never | <path of a checkpoint folder>; see [`Self::resume`].
    pub resume: Option<Resume>,
}

impl CheckpointConfig {
    /// `checkpoint.resume`, `auto` when it is left out.
    pub fn resume(&self) -> Resume {
        self.resume.clone().unwrap_or_default()
    }
}

/// Evaluation on the validation split.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    pub every_steps: Option<u64>,
    /// Validation samples (preference pairs for DPO) evaluated each time,
    /// counted over all ranks: the first `max_samples` of the split, so every
    /// world size evaluates the same ones (default: the whole split).
    pub max_samples: Option<u64>,
    /// The old per-rank batch count; kept only so that a config still
    /// setting it is refused with a hint (see [`crate::checks`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_batches: Option<serde_yaml::Value>,
}

/// Hugging Face export of the final weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ExportConfig {
    /// bf16 (default) | f32 | compute; see [`Self::dtype`].
    pub dtype: Option<ExportDtype>,
    /// Largest safetensors shard, e.g. "5GB" (default) or a byte count.
    pub max_shard_size: Option<ByteSize>,
}

impl ExportConfig {
    /// `export.dtype`, bf16 when it is left out.
    pub fn dtype(&self) -> ExportDtype {
        self.dtype.unwrap_or_default()
    }

    /// `export.max_shard_size` in bytes, 5 GB when it is left out.
    pub fn max_shard_bytes(&self) -> u64 {
        self.max_shard_size
            .as_ref()
            .map_or(5_000_000_000, |s| s.bytes)
    }
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
    /// TensorBoard event files in `<output_dir>/tensorboard/` (rank 0).
    #[serde(default = "crate::schema::yes")]
    pub tensorboard: bool,
    /// How lines are written to the rank log files.
    #[serde(default)]
    pub format: LogFormat,
}

/// `logging.format`: the shape of a line in `rank-<r>.log`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// The line as the rank wrote it, after an RFC 3339 UTC timestamp.
    #[default]
    Text,
    /// One JSON object per line: `time`, `level`, `rank`, `message`.
    Json,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            every_steps: default_log_every(),
            peak_flops_per_device: None,
            tensorboard: true,
            format: LogFormat::default(),
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

fn default_log_every() -> u64 {
    10
}

fn default_grace() -> f64 {
    10.0
}
