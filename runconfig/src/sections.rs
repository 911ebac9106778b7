//! The smaller sections after `train:`: checkpoints, evaluation, export,
//! logging, communication, device and the launcher's supervision; their
//! defaults and their rules.

use crate::rules::{floats, positive, positive_number, seconds};
use crate::values::{ByteSize, ExportDtype, Resume};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

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
    /// A LoRA run: write the adapters merged into the base (a full model in
    /// the Hugging Face layout) instead of the PEFT adapter folder.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub merge: bool,
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

/// Console and metrics.jsonl cadence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoggingConfig {
    #[serde(default = "default_log_every")]
    pub every_steps: u64,
    /// Peak FLOP/s of one device for MFU (default: detected for known GPUs).
    pub peak_flops_per_device: Option<f64>,
    /// TensorBoard event files in `<output_dir>/tensorboard/` (rank 0).
    #[serde(default = "crate::defaults::yes")]
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

impl CheckpointConfig {
    /// The checkpoint keys' rules.
    pub(crate) fn check(&self) -> Result<(), String> {
        let keep = "or left out to keep every checkpoint";
        positive("checkpoint.keep_last", self.keep_last, keep)
    }
}

impl EvalConfig {
    /// The evaluation keys' rules; the retired `max_batches` is named with
    /// what replaced it.
    pub(crate) fn check(&self) -> Result<(), String> {
        positive(
            "eval.every_steps",
            self.every_steps,
            "or left out for no evaluation",
        )?;
        if self.max_batches.is_some() {
            return Err("`eval.max_batches` is no longer a key: it counted batches per rank, so the evaluated set grew with the world size; set `eval.max_samples` instead, the number of validation samples (pairs for DPO) over all ranks, e.g. `max_samples: 256` (`max_batches: B` evaluated B x micro_batch_size x world size samples)".into());
        }
        positive(
            "eval.max_samples",
            self.max_samples,
            "or left out for the whole split",
        )
    }
}

impl LoggingConfig {
    /// The logging keys' rules.
    pub(crate) fn check(&self) -> Result<(), String> {
        floats(&[(
            "logging.peak_flops_per_device",
            self.peak_flops_per_device,
            positive_number,
            "a positive number of FLOP/s (or left out)",
        )])
    }
}

impl LauncherConfig {
    /// The launcher keys' rules.
    pub(crate) fn check(&self) -> Result<(), String> {
        floats(&[(
            "launcher.grace_period_s",
            Some(self.grace_period_s),
            seconds,
            "a number of seconds from 0 to 1e9",
        )])
    }
}

fn default_log_every() -> u64 {
    10
}

fn default_grace() -> f64 {
    10.0
}
