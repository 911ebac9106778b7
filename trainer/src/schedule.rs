//! Learning-rate schedules, as the `transformers` schedulers compute them:
//! linear warmup from 0, then constant, linear or cosine decay to a floor.

use runconfig::{ScheduleConfig, ScheduleKind};

/// The learning rate for every optimizer step of a run.
#[derive(Debug, Clone)]
pub struct Schedule {
    peak: f64,
    kind: ScheduleKind,
    warmup: u64,
    total: u64,
    floor: f64,
}

impl Schedule {
    /// A schedule of `total` steps peaking at `peak`.
    pub fn new(cfg: &ScheduleConfig, peak: f64, total: u64) -> Schedule {
        let warmup = cfg
            .warmup_steps
            .unwrap_or_else(|| (cfg.warmup_ratio * total as f64).ceil() as u64);
        Schedule {
            peak,
            kind: cfg.kind,
            warmup,
            total,
            floor: cfg.min_lr_ratio,
        }
    }

    /// The rate used by optimizer step `step` (0-based).
    pub fn lr(&self, step: u64) -> f64 {
        if step < self.warmup {
            return self.peak * step as f64 / self.warmup.max(1) as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        let progress = ((step - self.warmup) as f64 / span).min(1.0);
        let decay = match self.kind {
            ScheduleKind::Constant => 1.0,
            ScheduleKind::Linear => 1.0 - progress,
            ScheduleKind::Cosine => 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()),
        };
        self.peak * (self.floor + (1.0 - self.floor) * decay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kind: ScheduleKind, warmup_steps: u64, min: f64) -> ScheduleConfig {
        ScheduleConfig {
            kind,
            warmup_ratio: 0.0,
            warmup_steps: Some(warmup_steps),
            min_lr_ratio: min,
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
        let k = Schedule::new(&cfg(ScheduleKind::Constant, 3, 0.0), 1.0, 10);
        assert_eq!((k.lr(1) * 3.0).round(), 1.0);
        assert_eq!(k.lr(9), 1.0);
    }
}
