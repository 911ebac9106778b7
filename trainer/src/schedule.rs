//! Learning-rate schedules, as transformers' `get_scheduler` computes them:
//! `constant`, `constant_with_warmup`, `linear`, `cosine` (with a floor, as
//! `cosine_with_min_lr`) and `wsd` (warmup-stable-decay). Warmup and decay
//! lengths given as ratios are rounded up, as `TrainingArguments` does.
//!
//! The schedule counts the optimizer steps of this run: a run resumed from a
//! checkpoint continues where the checkpoint stopped, while a run that
//! starts from weights (`model.path`, e.g. an earlier run's `final/`) starts
//! its schedule again; with `wsd` its warmup rises from the floor
//! (`min_lr_ratio`), the re-warmup of mid-training from a decayed or a
//! stable-phase model.

use runconfig::{DecayType, ScheduleConfig, ScheduleKind};
use std::f64::consts::PI;

/// The learning rate for every optimizer step of a run.
#[derive(Debug, Clone)]
pub struct Schedule {
    peak: f64,
    kind: ScheduleKind,
    warmup: u64,
    total: u64,
    floor: f64,
    /// `wsd`: steps of the decay phase, and its shape.
    decay: u64,
    decay_type: DecayType,
}

/// `ratio` of `total` steps, rounded up.
fn share_of(ratio: f64, total: u64) -> u64 {
    (ratio * total as f64).ceil() as u64
}

impl Schedule {
    /// A schedule of `total` steps peaking at `peak`.
    pub fn new(cfg: &ScheduleConfig, peak: f64, total: u64) -> Schedule {
        let warmup = match cfg.kind {
            ScheduleKind::Constant => 0,
            _ => cfg
                .warmup_steps
                .unwrap_or_else(|| share_of(cfg.warmup_ratio, total)),
        };
        let decay = cfg
            .decay_steps
            .unwrap_or_else(|| share_of(cfg.decay_ratio.unwrap_or(0.0), total));
        Schedule {
            peak,
            kind: cfg.kind,
            warmup,
            total,
            floor: cfg.min_lr_ratio,
            decay: decay.min(total.saturating_sub(warmup)),
            decay_type: cfg.decay_type.unwrap_or_default(),
        }
    }

    /// Steps of the warmup.
    pub fn warmup_steps(&self) -> u64 {
        self.warmup
    }

    /// The rate used by optimizer step `step` (0-based).
    pub fn lr(&self, step: u64) -> f64 {
        self.peak * self.factor(step)
    }

    /// The share of the peak at `step`.
    fn factor(&self, step: u64) -> f64 {
        let ramp = step as f64 / self.warmup.max(1) as f64;
        match self.kind {
            ScheduleKind::Constant => 1.0,
            ScheduleKind::Wsd => self.wsd(step),
            _ if step < self.warmup => ramp,
            ScheduleKind::ConstantWithWarmup => 1.0,
            ScheduleKind::Linear | ScheduleKind::Cosine => {
                let span = self.total.saturating_sub(self.warmup).max(1) as f64;
                let progress = ((step - self.warmup) as f64 / span).min(1.0);
                let decay = match self.kind {
                    ScheduleKind::Linear => 1.0 - progress,
                    _ => 0.5 * (1.0 + (PI * progress).cos()),
                };
                self.above_floor(decay)
            }
        }
    }

    /// Warmup from the floor, the peak, then the decay of the last
    /// `decay` steps down to the floor.
    fn wsd(&self, step: u64) -> f64 {
        let stable_end = self.total.saturating_sub(self.decay).max(self.warmup);
        if step < self.warmup {
            return self.above_floor(step as f64 / self.warmup.max(1) as f64);
        }
        if step < stable_end {
            return 1.0;
        }
        if step >= stable_end + self.decay {
            return self.floor;
        }
        let p = (step - stable_end) as f64 / self.decay.max(1) as f64;
        self.above_floor(match self.decay_type {
            DecayType::Linear => 1.0 - p,
            DecayType::Cosine => 0.5 * (1.0 + (PI * p).cos()),
            DecayType::OneMinusSqrt => 1.0 - p.sqrt(),
        })
    }

    /// `share` of the way from the floor to the peak.
    fn above_floor(&self, share: f64) -> f64 {
        (self.floor + (1.0 - self.floor) * share).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kind: ScheduleKind, warmup_steps: u64, min: f64) -> ScheduleConfig {
        ScheduleConfig {
            kind,
            warmup_steps: Some(warmup_steps),
            min_lr_ratio: min,
            ..ScheduleConfig::default()
        }
    }

    #[test]
    fn warmup_then_decay_to_the_floor() {
        let s = Schedule::new(&cfg(ScheduleKind::Linear, 10, 0.0), 1.0, 110);
        assert_eq!(s.lr(0), 0.0);
        assert!((s.lr(5) - 0.5).abs() < 1e-12);
        assert!((s.lr(10) - 1.0).abs() < 1e-12);
        assert!((s.lr(60) - 0.5).abs() < 1e-12);
        let c = Schedule::new(&cfg(ScheduleKind::Cosine, 0, 0.1), 2.0, 100);
        assert!((c.lr(0) - 2.0).abs() < 1e-12);
        assert!((c.lr(50) - 2.0 * (0.1 + 0.9 * 0.5)).abs() < 1e-12);
        assert!((c.lr(100) - 0.2).abs() < 1e-12);
        let k = Schedule::new(&cfg(ScheduleKind::ConstantWithWarmup, 3, 0.0), 1.0, 10);
        assert_eq!((k.lr(1) * 3.0).round(), 1.0);
        assert_eq!(k.lr(9), 1.0);
        assert_eq!(
            Schedule::new(&cfg(ScheduleKind::Constant, 0, 0.0), 1.0, 10).lr(0),
            1.0
        );
    }

    #[test]
    fn wsd_warms_up_from_the_floor_holds_then_decays() {
        let w = Schedule::new(
            &ScheduleConfig {
                decay_ratio: Some(0.2),
                ..cfg(ScheduleKind::Wsd, 10, 0.1)
            },
            1.0,
            100,
        );
        assert!(
            (w.lr(0) - 0.1).abs() < 1e-12,
            "re-warmup starts at the floor"
        );
        assert_eq!(w.lr(10), 1.0);
        assert_eq!(w.lr(79), 1.0);
        assert!((w.lr(90) - 0.55).abs() < 1e-12);
        assert!(w.lr(99) > 0.1);
    }
}
