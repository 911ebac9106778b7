//! The typed configuration tree. Every key a YAML file may hold is a field
//! here or in the modules it re-exports; unknown keys are rejected
//! (`deny_unknown_fields`).

use crate::repo_id;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::data::*;
pub use crate::dpo::{DpoLossType, DEFAULT_SIMPO_GAMMA};
pub use crate::hub::*;
pub use crate::lora::*;
pub use crate::optimizer::*;
pub use crate::schedule::*;
pub use crate::sections::*;
pub use crate::template::*;
pub use crate::train::*;
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
    /// Optional: train LoRA adapters on a frozen base instead of every weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraConfig>,
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
    #[serde(default = "crate::defaults::yes")]
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

impl Config {
    /// Every section's rules, in the order of the YAML reference: values
    /// that parse but would panic, train nothing, poison the weights or
    /// fail only after training (a Hub repository the Hub refuses) are
    /// refused when the config is loaded, so `launch check` finds them and
    /// `launch` starts nothing.
    pub(crate) fn validate(&self) -> Result<(), String> {
        self.data.check()?;
        self.train.check(self.data.objective)?;
        self.optimizer.check()?;
        self.checkpoint.check()?;
        self.eval.check()?;
        self.train.sanity.check()?;
        self.logging.check()?;
        self.launcher.check()?;
        self.model.check()?;
        self.lora.as_ref().map_or(Ok(()), LoraConfig::check)?;
        self.check_merge()?;
        self.hub.as_ref().map_or(Ok(()), HubConfig::check)
    }
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
    /// A PEFT LoRA adapter folder (adapter_config.json,
    /// adapter_model.safetensors), or a Hub repo id like `path`: the run
    /// continues training these adapters on the base model, with the
    /// adapter's settings (see [`crate::adapter`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<PathBuf>,
    /// Branch, tag or commit of a Hub id in `adapter` (default `main`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter_revision: Option<String>,
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

    /// `adapter` when it is a Hub repo id.
    pub fn hub_adapter(&self) -> Option<&str> {
        self.adapter.as_deref().and_then(crate::repo_id::hub_id)
    }

    /// `revision`, or `main`.
    pub fn revision(&self) -> &str {
        self.revision.as_deref().unwrap_or("main")
    }

    /// `adapter_revision`, or `main`.
    pub fn adapter_revision(&self) -> &str {
        self.adapter_revision.as_deref().unwrap_or("main")
    }

    /// The model keys' rules: revisions the Hub could name.
    pub(crate) fn check(&self) -> Result<(), String> {
        let revisions = [
            ("revision", &self.revision),
            ("adapter_revision", &self.adapter_revision),
        ];
        for (key, rev) in revisions {
            if let Some((rev, Some(why))) =
                rev.as_deref().map(|r| (r, repo_id::revision_problem(r)))
            {
                return Err(format!(
                    "`model.{key}`: {rev:?} is not a branch, tag or commit: {why}"
                ));
            }
        }
        Ok(())
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

fn default_comm_timeout() -> f64 {
    600.0
}
