//! The `optimizer:` section: AdamW's settings, the precision of its state
//! and where it lives; its defaults and its rules.

use crate::rules::{floats, non_negative, positive_f32, share};
use crate::values::OptimizerKind;
use serde::{Deserialize, Serialize};

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

impl OptimizerConfig {
    /// The optimizer keys' rules.
    pub(crate) fn check(&self) -> Result<(), String> {
        if !self.betas.iter().all(|b| share(*b) && *b < 1.0) {
            return Err(format!(
                "`optimizer.betas` must be two numbers in [0, 1), e.g. [0.9, 0.999], got {:?}",
                self.betas
            ));
        }
        let eps = "a positive number that fits in f32 (e.g. 1e-8; 0 divides by zero)";
        floats(&[
            ("optimizer.eps", Some(self.eps), positive_f32, eps),
            (
                "optimizer.weight_decay",
                Some(self.weight_decay),
                non_negative,
                "a non-negative number",
            ),
        ])
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
