//! The DPO loss settings: which preference loss (`train.dpo_loss_type`,
//! open-instruct's names plus TRL's `ipo`) and the keys only some losses
//! read (`train.dpo_label_smoothing`, `train.simpo_gamma`), checked together
//! so that a key the chosen loss would ignore is refused rather than ignored.

use crate::rules::number;
use serde::{Deserialize, Serialize};
use std::fmt;

/// `train.dpo_loss_type`: the preference loss of a DPO run.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DpoLossType {
    /// Sigmoid DPO on the responses' summed log-probs (Rafailov et al.).
    #[default]
    Dpo,
    /// Sigmoid DPO on per-token mean log-probs (open-instruct's `dpo_norm`).
    DpoNorm,
    /// SimPO: reference-free, mean log-probs and a target margin `simpo_gamma`.
    Simpo,
    /// WPO: DPO with each pair weighted by the policy's mean token probability.
    Wpo,
    /// IPO: squared distance of the mean log-ratio margin from `1 / (2 beta)`.
    Ipo,
}

impl DpoLossType {
    /// Every loss type, in the order the docs list them.
    pub const ALL: [DpoLossType; 5] = [Self::Dpo, Self::DpoNorm, Self::Simpo, Self::Wpo, Self::Ipo];

    /// The YAML spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Dpo => "dpo",
            Self::DpoNorm => "dpo_norm",
            Self::Simpo => "simpo",
            Self::Wpo => "wpo",
            Self::Ipo => "ipo",
        }
    }

    /// Whether the loss compares with a reference model (all but simpo).
    pub fn needs_reference(self) -> bool {
        self != Self::Simpo
    }

    /// Whether the loss uses each response's log-probs averaged over its
    /// tokens rather than summed (dpo_norm, simpo and ipo).
    pub fn length_normalised(self) -> bool {
        matches!(self, Self::DpoNorm | Self::Simpo | Self::Ipo)
    }

    /// Whether `train.dpo_label_smoothing` enters the loss (all sigmoid losses).
    pub fn smoothable(self) -> bool {
        self != Self::Ipo
    }
}

impl fmt::Display for DpoLossType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// SimPO's target reward margin when `train.simpo_gamma` is left out (TRL's
/// `CPOConfig.simpo_gamma`).
pub const DEFAULT_SIMPO_GAMMA: f64 = 0.5;

/// The DPO loss keys: values in range, and none that the loss type ignores.
pub(crate) fn check(
    kind: DpoLossType,
    smoothing: f64,
    simpo_gamma: Option<f64>,
) -> Result<(), String> {
    if !(0.0..0.5).contains(&smoothing) {
        return Err(format!(
            "`train.dpo_label_smoothing` must be a number in [0, 0.5) (0: no smoothing; 0.5 would \
             make chosen and rejected alike), got {}",
            number(smoothing)
        ));
    }
    if smoothing != 0.0 && !kind.smoothable() {
        return Err(format!(
            "`train.dpo_label_smoothing` does not apply to `train.dpo_loss_type: {kind}` (its \
             squared loss has no label smoothing): remove it, or choose dpo, dpo_norm, simpo or wpo"
        ));
    }
    match simpo_gamma {
        Some(_) if kind != DpoLossType::Simpo => Err(format!(
            "`train.simpo_gamma` applies only to `train.dpo_loss_type: simpo`, but the loss type \
             is {kind}: remove it, or set train.dpo_loss_type: simpo"
        )),
        Some(g) if !(g.is_finite() && g >= 0.0) => Err(format!(
            "`train.simpo_gamma` must be a non-negative number (the target reward margin), got {}",
            number(g)
        )),
        _ => Ok(()),
    }
}
