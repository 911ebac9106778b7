//! The hyperparameter table of the card, every value written as a person
//! would write it.

use super::header::objective_tag;
use super::Summary;
use runconfig::{Config, Dtype, Objective, ScheduleKind, TemplateSource};

/// A number as people write it: `0.1`, `2e-5`, `1e-8`.
pub fn number(x: f64) -> String {
    if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e7) {
        format!("{x:e}")
    } else {
        x.to_string()
    }
}

/// A share as a percentage: `0.1` -> `10%`.
fn percent(x: f64) -> String {
    format!("{}%", number(x * 100.0))
}

fn schedule_word(kind: ScheduleKind) -> &'static str {
    match kind {
        ScheduleKind::Constant | ScheduleKind::ConstantWithWarmup => "constant",
        ScheduleKind::Linear => "linear decay",
        ScheduleKind::Cosine => "cosine decay",
        ScheduleKind::Wsd => "warmup-stable-decay",
    }
}

fn dtype_word(dtype: Dtype) -> &'static str {
    match dtype {
        Dtype::F32 => "fp32",
        Dtype::Bf16 => "bf16",
    }
}

/// The learning-rate schedule: shape, floor and warmup.
fn schedule(config: &Config) -> [(&'static str, String); 2] {
    let s = &config.train.lr_schedule;
    let mut shape = schedule_word(s.kind).to_string();
    if !matches!(
        s.kind,
        ScheduleKind::Constant | ScheduleKind::ConstantWithWarmup
    ) {
        shape += &match s.min_lr_ratio {
            r if r > 0.0 => format!(" to {} of the peak", percent(r)),
            _ => " to 0".into(),
        };
    }
    let warmup = match s.warmup_steps {
        Some(n) => format!("{n} steps"),
        None if s.warmup_ratio > 0.0 => format!("{} of the steps", percent(s.warmup_ratio)),
        None => "none".into(),
    };
    [("learning-rate schedule", shape), ("warmup", warmup)]
}

/// Length of the run and its batches.
fn batches(config: &Config, summary: &Summary) -> Vec<(&'static str, String)> {
    let t = &config.train;
    let world = summary.world_size.max(1) as u64;
    let effective = t.effective_batch_size.unwrap_or(t.micro_batch_size * world);
    let accum = effective / (t.micro_batch_size * world).max(1);
    let mut rows = Vec::new();
    if let Some(e) = t.epochs {
        rows.push(("epochs", number(e)));
    }
    rows.push(("optimizer steps", summary.step.to_string()));
    rows.extend([
        (
            "effective batch (sequences per step)",
            effective.to_string(),
        ),
        ("micro batch (per device)", t.micro_batch_size.to_string()),
        ("gradient accumulation", accum.max(1).to_string()),
        ("world size", world.to_string()),
        (
            "max sequence length",
            config.data.max_seq_length.to_string(),
        ),
        ("packing", yes_no(config.data.packing)),
    ]);
    rows
}

fn yes_no(b: bool) -> String {
    (if b { "yes" } else { "no" }).into()
}

/// The optimizer: AdamW with its state precision, decay and betas.
fn optimizer(config: &Config) -> [(&'static str, String); 4] {
    let o = &config.optimizer;
    let decay = match o.decay_norms_and_biases || o.weight_decay == 0.0 {
        true => number(o.weight_decay),
        false => format!("{} (not on norms and biases)", number(o.weight_decay)),
    };
    [
        ("optimizer", format!("AdamW, {}-bit state", o.bits)),
        ("weight decay", decay),
        (
            "betas",
            format!("{}, {}", number(o.betas[0]), number(o.betas[1])),
        ),
        ("epsilon", number(o.eps)),
    ]
}

/// The chat template a chat run trained with.
fn chat_template(config: &Config) -> Option<String> {
    if config.data.objective == Objective::Pretrain {
        return None;
    }
    Some(match config.data.chat_template.as_ref() {
        None | Some(TemplateSource::Model) => "the tokenizer's own".into(),
        Some(TemplateSource::Named(name)) => format!("{name} (built in)"),
        Some(TemplateSource::File(f)) => match f.file_name() {
            Some(n) => format!("`{}`", n.to_string_lossy()),
            None => format!("`{}`", f.display()),
        },
    })
}

/// The rows of the hyperparameter table: `(name, value)`.
pub fn hyperparameters(
    config: &Config,
    summary: &Summary,
    dtype: &str,
) -> Vec<(&'static str, String)> {
    let t = &config.train;
    let mut rows = vec![
        (
            "objective",
            objective_tag(config.data.objective).to_string(),
        ),
        ("learning rate", number(t.learning_rate)),
    ];
    rows.extend(schedule(config));
    rows.extend(batches(config, summary));
    rows.extend(optimizer(config));
    rows.push(("max gradient norm", number(t.max_grad_norm)));
    let compute = dtype_word(config.model.dtype);
    rows.push((
        "precision",
        format!("{compute} compute, fp32 master weights, exported as {dtype}"),
    ));
    if config.data.objective == Objective::Dpo {
        rows.push(("DPO loss", dpo_loss(t)));
        rows.push(("DPO beta", number(t.dpo_beta)));
    }
    rows.extend(chat_template(config).map(|c| ("chat template", c)));
    rows.push(("seed", t.seed.to_string()));
    rows
}

/// `train.dpo_loss_type` with the constants it reads, e.g. `simpo (gamma 0.5)`.
fn dpo_loss(t: &runconfig::TrainConfig) -> String {
    let mut extras = Vec::new();
    if t.dpo_loss_type == runconfig::DpoLossType::Simpo {
        extras.push(format!("gamma {}", number(t.simpo_gamma())));
    }
    if t.dpo_label_smoothing != 0.0 {
        extras.push(format!("label smoothing {}", number(t.dpo_label_smoothing)));
    }
    match extras.is_empty() {
        true => t.dpo_loss_type.to_string(),
        false => format!("{} ({})", t.dpo_loss_type, extras.join(", ")),
    }
}
