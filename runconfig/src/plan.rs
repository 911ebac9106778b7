//! The batch plan for one world size, and checks on values serde cannot make.

use crate::schema::Config;
use std::fmt;

/// How a global batch is split over devices and micro-steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Number of ranks.
    pub world_size: u32,
    /// Sequences per device per micro-step.
    pub micro_batch_size: u64,
    /// Micro-steps per optimizer step.
    pub grad_accum: u64,
    /// Sequences per optimizer step: micro * world * accum.
    pub effective_batch_size: u64,
}

impl Plan {
    /// Derives gradient accumulation from `train.effective_batch_size`.
    pub fn new(config: &Config, world_size: u32) -> Result<Plan, String> {
        let micro = config.train.micro_batch_size;
        if micro == 0 {
            return Err("`train.micro_batch_size` must be at least 1".into());
        }
        let per_step = micro * world_size as u64;
        let effective = config.train.effective_batch_size.unwrap_or(per_step);
        if effective == 0 || !effective.is_multiple_of(per_step) {
            let lower = (effective / per_step).max(1) * per_step;
            return Err(format!(
                "`train.effective_batch_size` = {effective} is not a multiple of micro_batch_size x world size = {micro} x {world_size} = {per_step}; \
                 use {lower} or {}, or change train.micro_batch_size (by_world_size can set it per world size)",
                lower + per_step
            ));
        }
        Ok(Plan {
            world_size,
            micro_batch_size: micro,
            grad_accum: effective / per_step,
            effective_batch_size: effective,
        })
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "world size {}, micro batch {} per device, gradient accumulation {}, effective batch {}",
            self.world_size, self.micro_batch_size, self.grad_accum, self.effective_batch_size
        )
    }
}

/// Range checks on values that parse but make no sense.
pub(crate) fn validate(c: &Config) -> Result<(), String> {
    crate::plain_name(&c.run_name).map_err(|e| format!("`run_name` {e}"))?;
    if c.model.path.is_some() && c.model.config.is_some() {
        return Err(
            "set either `model.path` (weights) or `model.config` (random init), not both".into(),
        );
    }
    if ![8, 32].contains(&c.optimizer.bits) {
        return Err(format!(
            "`optimizer.bits` must be 32 or 8, got {}",
            c.optimizer.bits
        ));
    }
    let lr = c.train.learning_rate;
    if !(lr >= 0.0 && (lr as f32).is_finite()) {
        return Err(format!(
            "`train.learning_rate` must be a non-negative number that fits in f32 (at most {:e}), got {}",
            f32::MAX,
            crate::rules::number(lr)
        ));
    }
    if let Some(v) = &c.data.validation {
        if !(0.0..1.0).contains(&v.ratio) {
            return Err(format!(
                "`data.validation.ratio` must be in [0, 1), got {}",
                v.ratio
            ));
        }
    }
    if c.data.max_seq_length < 2 {
        return Err("`data.max_seq_length` must be at least 2".into());
    }
    if c.logging.every_steps == 0 {
        return Err("`logging.every_steps` must be at least 1".into());
    }
    if !(c.comm_timeout_s.is_finite() && c.comm_timeout_s > 0.0) {
        return Err(format!(
            "`comm_timeout_s` must be a positive number of seconds (default 600), got {}",
            c.comm_timeout_s
        ));
    }
    if c.checkpoint.every_steps == Some(0) {
        return Err("`checkpoint.every_steps` must be at least 1 (or left out)".into());
    }
    Ok(())
}
