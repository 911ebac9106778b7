//! Every `train.lr_schedule` kind gives, step by step over a few hundred
//! steps, the learning rates of transformers' `get_scheduler`
//! (scripts/schedule-reference).

mod common;
use common::*;
use runconfig::{DecayType, ScheduleConfig, ScheduleKind};
use serde_json::{json, Value};
use trainer::schedule::Schedule;

const PEAK: f64 = 3.0e-4;
const TOTAL: u64 = 300;

/// Our schedule, and the transformers scheduler (name and
/// `scheduler_specific_kwargs`) it must equal.
fn cases() -> Vec<(ScheduleConfig, &'static str, Value)> {
    let base = |kind, warmup_ratio, warmup_steps, min_lr_ratio| ScheduleConfig {
        kind,
        warmup_ratio,
        warmup_steps,
        min_lr_ratio,
        ..ScheduleConfig::default()
    };
    let wsd = |warmup, min, decay_ratio, decay_steps, decay_type| ScheduleConfig {
        decay_ratio,
        decay_steps,
        decay_type,
        ..base(ScheduleKind::Wsd, 0.0, warmup, min)
    };
    use ScheduleKind::*;
    vec![
        (base(Constant, 0.0, None, 0.0), "constant", json!({})),
        (
            base(ConstantWithWarmup, 0.0, Some(30), 0.0),
            "constant_with_warmup",
            json!({}),
        ),
        (base(Linear, 0.03, None, 0.0), "linear", json!({})),
        (base(Cosine, 0.05, None, 0.0), "cosine", json!({})),
        (
            base(Cosine, 0.0, Some(20), 0.1),
            "cosine_with_min_lr",
            json!({"min_lr_rate": 0.1}),
        ),
        (
            wsd(Some(25), 0.05, Some(0.2), None, None),
            "warmup_stable_decay",
            json!({"num_decay_steps": 60, "min_lr_ratio": 0.05}),
        ),
        (
            wsd(Some(10), 0.0, None, Some(100), Some(DecayType::Linear)),
            "warmup_stable_decay",
            json!({"num_decay_steps": 100, "decay_type": "linear"}),
        ),
        (
            wsd(
                Some(40),
                0.2,
                Some(0.35),
                None,
                Some(DecayType::OneMinusSqrt),
            ),
            "warmup_stable_decay",
            json!({"num_decay_steps": 105, "decay_type": "1-sqrt", "min_lr_ratio": 0.2}),
        ),
    ]
}

#[test]
fn every_kind_matches_transformers_get_scheduler() {
    let cases = cases();
    let ours: Vec<Schedule> = cases
        .iter()
        .map(|(cfg, _, _)| Schedule::new(cfg, PEAK, TOTAL))
        .collect();
    let request: Vec<Value> = cases
        .iter()
        .zip(&ours)
        .map(|((_, name, kwargs), s)| {
            json!({"name": name, "peak": PEAK, "total": TOTAL,
                   "warmup_steps": s.warmup_steps(), "kwargs": kwargs})
        })
        .collect();
    let want: Vec<Vec<f64>> = python_json("schedule-reference", &Value::from(request));
    for (((cfg, name, _), s), want) in cases.iter().zip(&ours).zip(&want) {
        assert_eq!(want.len() as u64, TOTAL);
        for (step, w) in want.iter().enumerate() {
            let got = s.lr(step as u64);
            assert!(
                (got - w).abs() <= 1e-12 * PEAK,
                "{name} ({cfg:?}) step {step}: {got} vs transformers {w}"
            );
        }
    }
}

#[test]
fn ratios_round_up_as_training_arguments_does() {
    let linear = ScheduleConfig {
        warmup_ratio: 0.03,
        ..ScheduleConfig::default()
    };
    assert_eq!(Schedule::new(&linear, PEAK, TOTAL).warmup_steps(), 9);
    assert_eq!(Schedule::new(&linear, PEAK, 301).warmup_steps(), 10);
}
