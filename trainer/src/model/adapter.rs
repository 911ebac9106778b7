//! PEFT's LoRA adapters as parameter sources: `adapter_model.safetensors`
//! (each adapter under `base_model.model.` + its name in the model), and
//! a base checkpoint joined with adapters, so that a model with `lora`
//! reads its base weights from one source and its adapters (with a run
//! from an adapter, its saved modules too) from another.

use std::path::Path;

use anyhow::{Context, Result};
use tch::Tensor;

use super::source::ParamSource;
use super::units::ParamSpec;
use super::weights::SafetensorsWeights;
pub use runconfig::model::is_adapter;
use runconfig::model::{read_json, LlamaConfig, Lora};

pub use runconfig::adapter::{ADAPTER_CONFIG, ADAPTER_FILE, PEFT_PREFIX};

/// A PEFT adapter folder: its settings and weights.
pub struct PeftAdapter {
    pub lora: Lora,
    /// `modules_to_save` as written.
    pub modules_to_save: Vec<String>,
    weights: SafetensorsWeights,
}

impl PeftAdapter {
    /// Opens `dir` (adapter_config.json + adapter_model.safetensors) for a
    /// model of `layers` blocks.
    pub fn open(dir: &Path, layers: usize) -> Result<Self> {
        let config = dir.join(ADAPTER_CONFIG);
        let text = std::fs::read_to_string(&config)
            .with_context(|| format!("cannot read {}", config.display()))?;
        let json =
            read_json(&text).with_context(|| format!("{}: not valid JSON", config.display()))?;
        let (lora, modules_to_save) =
            Lora::from_adapter_config(&json, layers, &config.display().to_string())?;
        let weights = SafetensorsWeights::open(dir.join(ADAPTER_FILE))?;
        Ok(PeftAdapter {
            lora,
            modules_to_save,
            weights,
        })
    }

    /// Whether the adapter file holds the model's parameter `name` (an
    /// adapter, or the weight of a module in `modules_to_save`).
    pub fn holds(&self, name: &str) -> bool {
        self.weights
            .shape(&format!("{PEFT_PREFIX}{name}"))
            .is_some()
    }

    /// `cfg` with these adapters.
    pub fn apply(&self, cfg: &LlamaConfig) -> LlamaConfig {
        LlamaConfig {
            lora: Some(self.lora.clone()),
            ..cfg.clone()
        }
    }
}

impl ParamSource for PeftAdapter {
    fn read_range(&self, param: &ParamSpec, start: i64, len: i64) -> Result<Tensor> {
        let stored = ParamSpec {
            name: format!("{PEFT_PREFIX}{}", param.name),
            ..param.clone()
        };
        self.weights.read_range(&stored, start, len)
    }
}

/// The base model's weights from `base`, the adapters from `adapters`.
pub struct WithAdapters<'a> {
    pub base: &'a dyn ParamSource,
    pub adapters: &'a dyn ParamSource,
}

impl ParamSource for WithAdapters<'_> {
    fn read_range(&self, param: &ParamSpec, start: i64, len: i64) -> Result<Tensor> {
        match is_adapter(&param.name) {
            true => self.adapters.read_range(param, start, len),
            false => self.base.read_range(param, start, len),
        }
    }
}

/// [`WithAdapters`] owning its sources: what a run trains from.
pub struct Adapted {
    pub base: Box<dyn ParamSource>,
    pub adapters: Box<dyn ParamSource>,
}

impl ParamSource for Adapted {
    fn read_range(&self, param: &ParamSpec, start: i64, len: i64) -> Result<Tensor> {
        let joined = WithAdapters {
            base: self.base.as_ref(),
            adapters: self.adapters.as_ref(),
        };
        joined.read_range(param, start, len)
    }
}

/// What a run from a PEFT adapter trains from: the base model's weights
/// from `base`; the adapters, and the weights of `modules_to_save` that the
/// adapter file holds (PEFT saves them beside the adapters), from `adapter`.
pub struct FromAdapter {
    pub base: Box<dyn ParamSource>,
    pub adapter: PeftAdapter,
}

impl ParamSource for FromAdapter {
    fn read_range(&self, param: &ParamSpec, start: i64, len: i64) -> Result<Tensor> {
        let name = &param.name;
        let saved = self.adapter.lora.shape.trains(name) && self.adapter.holds(name);
        match is_adapter(name) || saved {
            true => self.adapter.read_range(param, start, len),
            false => self.base.read_range(param, start, len),
        }
    }
}
