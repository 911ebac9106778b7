//! `train.lr_schedule`: the shapes of the learning-rate schedule, as
//! transformers' `get_scheduler` names them, and the checks of their keys.
//! The trainer computes the rates (trainer/src/schedule.rs).

use serde::{Deserialize, Serialize};

/// Learning-rate schedule shape.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// The peak rate throughout, no warmup (`get_constant_schedule`).
    Constant,
    /// Linear warmup from 0, then the peak (`get_constant_schedule_with_warmup`).
    ConstantWithWarmup,
    /// Linear warmup from 0, then linear decay to the floor
    /// (`get_linear_schedule_with_warmup`).
    #[default]
    Linear,
    /// Linear warmup from 0, then half a cosine down to the floor
    /// (`get_cosine_with_min_lr_schedule_with_warmup`).
    Cosine,
    /// Warmup-stable-decay (`get_wsd_schedule`): linear warmup from the
    /// floor, the peak, then a decay over the last steps to the floor.
    Wsd,
}

/// Shape of the decay phase of `wsd` (transformers' `decay_type`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum DecayType {
    #[serde(rename = "linear")]
    Linear,
    #[default]
    #[serde(rename = "cosine")]
    Cosine,
    #[serde(rename = "1-sqrt")]
    OneMinusSqrt,
}

/// Learning-rate schedule: warmup, then the shape of `kind`, down to
/// `min_lr_ratio * learning_rate`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    #[serde(default)]
    pub kind: ScheduleKind,
    /// Warmup as a share of all steps, rounded up (ignored when
    /// warmup_steps is set).
    #[serde(default)]
    pub warmup_ratio: f64,
    pub warmup_steps: Option<u64>,
    /// Floor of the decay, as a share of the peak learning rate (`wsd`:
    /// also where its warmup starts).
    #[serde(default)]
    pub min_lr_ratio: f64,
    /// `wsd`: the decay phase as a share of all steps, rounded up (ignored
    /// when decay_steps is set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay_ratio: Option<f64>,
    /// `wsd`: the decay phase in steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay_steps: Option<u64>,
    /// `wsd`: the shape of the decay: linear, cosine (default) or 1-sqrt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decay_type: Option<DecayType>,
}

impl ScheduleConfig {
    /// Whether a warmup is asked for.
    fn warms_up(&self) -> bool {
        self.warmup_steps.map_or(self.warmup_ratio > 0.0, |n| n > 0)
    }

    /// The keys that only `wsd` reads, refused with any other kind; a
    /// warmup refused with `constant`; a `wsd` without its decay length.
    pub(crate) fn check(&self) -> Result<(), String> {
        let key = "train.lr_schedule";
        if self.kind == ScheduleKind::Constant && self.warms_up() {
            return Err(format!("`{key}`: kind `constant` has no warmup (as transformers' get_constant_schedule); use kind: constant_with_warmup, or remove warmup_ratio/warmup_steps"));
        }
        let wsd_only = [
            ("decay_ratio", self.decay_ratio.is_some()),
            ("decay_steps", self.decay_steps.is_some()),
            ("decay_type", self.decay_type.is_some()),
        ];
        if self.kind != ScheduleKind::Wsd {
            if let Some((k, _)) = wsd_only.iter().find(|(_, set)| *set) {
                return Err(format!(
                    "`{key}.{k}` applies to kind: wsd only; remove it or set kind: wsd"
                ));
            }
            return Ok(());
        }
        match (self.decay_steps, self.decay_ratio) {
            (None, None) => Err(format!("`{key}`: kind wsd needs the length of its decay: set decay_ratio (a share of all steps, e.g. 0.1) or decay_steps")),
            (None, Some(r)) if !(r.is_finite() && (0.0..=1.0).contains(&r)) => {
                Err(format!("`{key}.decay_ratio` must be a share in [0, 1], got {r}"))
            }
            (None, Some(r)) if self.warmup_steps.is_none() && self.warmup_ratio + r > 1.0 => Err(format!(
                "`{key}`: warmup_ratio + decay_ratio = {} is more than all the steps; lower one of them",
                self.warmup_ratio + r
            )),
            _ => Ok(()),
        }
    }
}
