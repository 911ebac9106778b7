//! The `lora:` section: train low-rank adapters on a frozen base, as
//! PEFT's LoRA (and QLoRA, with `base: nf4`). Its defaults are
//! open-instruct's `--use_lora`: r 64, alpha 16, dropout 0.1 on all seven
//! projections.

use crate::model::{saved_mask, Lora, LORA_TARGETS};
use serde::{Deserialize, Serialize};

/// LoRA adapters on a frozen base.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoraConfig {
    /// Rank of each adapter (PEFT's `r`).
    #[serde(default = "default_r")]
    pub r: i64,
    /// `lora_alpha`: the update is scaled by alpha / r (alpha / sqrt(r)
    /// with `use_rslora`).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// `lora_dropout`: dropout of each adapter's input while training.
    #[serde(default = "default_dropout")]
    pub dropout: f64,
    /// PEFT's module names (`q_proj`, ..., `down_proj`) or `all-linear`.
    #[serde(default = "default_targets")]
    pub target_modules: Vec<String>,
    /// Scale by alpha / sqrt(r) (rank-stabilised LoRA).
    #[serde(default)]
    pub use_rslora: bool,
    /// How new adapters start: `default` (PEFT's: A kaiming-uniform with
    /// a = sqrt(5), B zeros) or `gaussian` (A normal with std 1/r, B zeros).
    #[serde(default)]
    pub init: LoraInit,
    /// Base modules trained in full beside the adapters: `embed_tokens`,
    /// `lm_head` (for added tokens).
    #[serde(default)]
    pub modules_to_save: Vec<String>,
    /// How the frozen base is held: `compute` (the compute dtype) or `nf4`
    /// (QLoRA: 4-bit NormalFloat with bitsandbytes' layout).
    #[serde(default)]
    pub base: LoraBase,
}

/// `lora.init`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LoraInit {
    #[default]
    Default,
    Gaussian,
}

/// `lora.base`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum LoraBase {
    #[default]
    Compute,
    Nf4,
}

fn default_r() -> i64 {
    64
}

fn default_alpha() -> f64 {
    16.0
}

fn default_dropout() -> f64 {
    0.1
}

fn default_targets() -> Vec<String> {
    LORA_TARGETS.iter().map(|t| t.to_string()).collect()
}

impl Default for LoraConfig {
    fn default() -> Self {
        LoraConfig {
            r: default_r(),
            alpha: default_alpha(),
            dropout: default_dropout(),
            target_modules: default_targets(),
            use_rslora: false,
            init: LoraInit::default(),
            modules_to_save: Vec::new(),
            base: LoraBase::default(),
        }
    }
}

impl LoraConfig {
    /// The adapters as the model computes them, or the refusal naming the key.
    pub fn lora(&self) -> Result<Lora, String> {
        if self.r <= 0 {
            return Err(format!(
                "`lora.r` must be a positive integer, found {}",
                self.r
            ));
        }
        if !(self.alpha > 0.0 && self.alpha.is_finite()) {
            let a = self.alpha;
            return Err(format!("`lora.alpha` must be a number above 0, found {a}"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            let d = self.dropout;
            return Err(format!("`lora.dropout` must be in [0, 1), found {d}"));
        }
        let (r, targets) = (self.r, &self.target_modules);
        let lora = Lora::new(r, self.alpha, self.dropout, self.use_rslora, targets);
        let mut lora = lora.map_err(|e| format!("`lora.target_modules`: {e}"))?;
        lora.shape.saved = saved_mask(&self.modules_to_save)
            .map_err(|e| format!("`lora.modules_to_save`: {e}"))?;
        lora.shape.nf4 = self.base == LoraBase::Nf4;
        Ok(lora)
    }

    /// The section's rules (the compute dtype's are checked with the model).
    pub(crate) fn check(&self) -> Result<(), String> {
        self.lora().map(|_| ())
    }
}

impl crate::Config {
    /// `export.merge` needs adapters to merge (a `lora:` section or
    /// `model.adapter`).
    pub(crate) fn check_merge(&self) -> Result<(), String> {
        // A run from an adapter is a LoRA run once the adapter is read.
        let adapters = self.lora.is_some() || self.model.adapter.is_some();
        match (self.export.merge, adapters) {
            (true, false) => Err("`export.merge` merges LoRA adapters into the base model, \
                 and this run has no `lora:` section nor `model.adapter`; remove export.merge"
                .into()),
            _ => Ok(()),
        }
    }

    /// The run's LoRA adapters (`lora:`) on a model whose head is `tied`
    /// to its embedding, or the refusal naming the key.
    pub fn lora_on(&self, tied: bool) -> Result<Option<Lora>, String> {
        let Some(section) = &self.lora else {
            return Ok(None);
        };
        let lora = section.lora()?;
        if tied && section.modules_to_save.iter().any(|m| m == "lm_head") {
            return Err(
                "`lora.modules_to_save`: the model ties lm_head to embed_tokens \
                 (tie_word_embeddings), so it has no lm_head of its own; name embed_tokens"
                    .into(),
            );
        }
        if lora.shape.nf4 && self.model.dtype == crate::Dtype::F32 {
            return Err(
                "`lora.base: nf4` computes in bf16 from the 4-bit base (QLoRA): set \
                 `model.dtype: bf16`, or `lora.base: compute` to train on an f32 base"
                    .into(),
            );
        }
        Ok(Some(lora))
    }
}
