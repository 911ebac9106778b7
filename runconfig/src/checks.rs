//! Values that parse but would panic, train nothing, poison the weights or
//! fail only after training (a Hub repository the Hub refuses): refused when
//! the config is loaded, so `launch check` finds them and `launch` starts
//! nothing.

use crate::repo_id;
use crate::schema::{Config, Objective, ReduceLoss};

/// Every check of this module, in the order of the YAML reference.
pub(crate) fn validate(c: &Config) -> Result<(), String> {
    data(c)?;
    train(c)?;
    optimizer(c)?;
    others(c)?;
    model_revision(c)?;
    hub(c)
}

fn model_revision(c: &Config) -> Result<(), String> {
    match c
        .model
        .revision
        .as_deref()
        .map(|r| (r, repo_id::revision_problem(r)))
    {
        Some((rev, Some(why))) => Err(format!(
            "`model.revision`: {rev:?} is not a branch, tag or commit: {why}"
        )),
        _ => Ok(()),
    }
}

/// A number as a reader writes it: 1e39 and 1e-50 rather than their 40 digits.
pub(crate) fn number(v: f64) -> String {
    let a = v.abs();
    if a.is_finite() && a != 0.0 && !(1e-4..1e6).contains(&a) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// A count that may be left out but not set to 0.
fn positive(key: &str, value: Option<impl Into<u64>>, unset: &str) -> Result<(), String> {
    match value.map(Into::into) {
        Some(0) => Err(format!("`{key}` must be at least 1 ({unset}), got 0")),
        _ => Ok(()),
    }
}

/// A float key (when set), the rule it must follow, and the rule in words.
type Rule<'a> = (&'a str, Option<f64>, fn(f64) -> bool, &'a str);

fn floats(rules: &[Rule]) -> Result<(), String> {
    for (key, value, ok, what) in rules {
        match value {
            Some(v) if !ok(*v) => {
                return Err(format!("`{key}` must be {what}, got {}", number(*v)))
            }
            _ => {}
        }
    }
    Ok(())
}

fn share(v: f64) -> bool {
    v.is_finite() && (0.0..=1.0).contains(&v)
}

fn non_negative(v: f64) -> bool {
    v.is_finite() && v >= 0.0
}

/// What `std::time::Duration` holds without panicking, and more than anyone waits.
fn seconds(v: f64) -> bool {
    (0.0..=1e9).contains(&v)
}

fn positive_number(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// Positive, and still positive and finite as f32 (the optimizer computes in f32).
fn positive_f32(v: f64) -> bool {
    let f = v as f32;
    v > 0.0 && f > 0.0 && f.is_finite()
}

fn data(c: &Config) -> Result<(), String> {
    if c.data.packing && c.data.objective == Objective::Dpo {
        return Err(
            "`data.packing` is not supported with objective dpo: set data.packing: false".into(),
        );
    }
    for (i, d) in c.data.datasets.iter().enumerate() {
        crate::data_source::check(i, d)?;
        let key = |k: &str| format!("data.datasets[{i}].{k}");
        let ratio = "a positive number (0.5: half of its rows, 5000: 5000 rows; to leave a dataset out, remove it)";
        floats(&[(&key("mix_ratio"), d.mix_ratio, positive_number, ratio)])?;
        positive(
            &key("max_samples"),
            d.max_samples,
            "or left out for all rows",
        )?;
    }
    Ok(())
}

fn train(c: &Config) -> Result<(), String> {
    let t = &c.train;
    if t.reduce_loss == ReduceLoss::Sum && c.data.objective == Objective::Dpo {
        return Err("`train.reduce_loss: sum` applies to pretraining and SFT; the DPO loss is a mean over pairs: remove train.reduce_loss".into());
    }
    let cores = "or left out for cores / ranks";
    positive("train.threads", t.threads.map(|n| n as u64), cores)?;
    let nothing = "a run of 0 steps trains nothing and would write untrained weights to final/";
    positive("train.max_steps", t.max_steps, nothing)?;
    positive("train.sanity_steps", t.sanity_steps, nothing)?;
    let s = &t.lr_schedule;
    s.check()?;
    let in_01 = "a share in [0, 1]";
    floats(&[
        (
            "train.epochs",
            t.epochs,
            positive_number,
            "a positive number",
        ),
        (
            "train.lr_schedule.warmup_ratio",
            Some(s.warmup_ratio),
            share,
            in_01,
        ),
        (
            "train.lr_schedule.min_lr_ratio",
            Some(s.min_lr_ratio),
            share,
            in_01,
        ),
        (
            "train.max_grad_norm",
            Some(t.max_grad_norm),
            non_negative,
            "a non-negative number (0: no clipping)",
        ),
        (
            "train.dpo_beta",
            Some(t.dpo_beta),
            positive_number,
            "a positive number",
        ),
    ])?;
    crate::dpo::check(t)
}

fn optimizer(c: &Config) -> Result<(), String> {
    let o = &c.optimizer;
    if !o.betas.iter().all(|b| share(*b) && *b < 1.0) {
        return Err(format!(
            "`optimizer.betas` must be two numbers in [0, 1), e.g. [0.9, 0.999], got {:?}",
            o.betas
        ));
    }
    let eps = "a positive number that fits in f32 (e.g. 1e-8; 0 divides by zero)";
    floats(&[
        ("optimizer.eps", Some(o.eps), positive_f32, eps),
        (
            "optimizer.weight_decay",
            Some(o.weight_decay),
            non_negative,
            "a non-negative number",
        ),
    ])
}

fn others(c: &Config) -> Result<(), String> {
    let keep = "or left out to keep every checkpoint";
    positive("checkpoint.keep_last", c.checkpoint.keep_last, keep)?;
    positive(
        "eval.every_steps",
        c.eval.every_steps,
        "or left out for no evaluation",
    )?;
    if c.eval.max_batches.is_some() {
        return Err("`eval.max_batches` is no longer a key: it counted batches per rank, so the evaluated set grew with the world size; set `eval.max_samples` instead, the number of validation samples (pairs for DPO) over all ranks, e.g. `max_samples: 256` (`max_batches: B` evaluated B x micro_batch_size x world size samples)".into());
    }
    positive(
        "eval.max_samples",
        c.eval.max_samples,
        "or left out for the whole split",
    )?;
    floats(&[
        (
            "train.sanity.min_tokens_per_s",
            c.train.sanity.min_tokens_per_s,
            positive_number,
            "a positive number of tokens per second (or left out)",
        ),
        (
            "logging.peak_flops_per_device",
            c.logging.peak_flops_per_device,
            positive_number,
            "a positive number of FLOP/s (or left out)",
        ),
        (
            "launcher.grace_period_s",
            Some(c.launcher.grace_period_s),
            seconds,
            "a number of seconds from 0 to 1e9",
        ),
    ])
}

fn hub(c: &Config) -> Result<(), String> {
    let Some(h) = &c.hub else {
        return Ok(());
    };
    repo_id::resolve(&h.repo_id, None).map_err(|e| format!("`hub.repo_id`: {e}"))?;
    repo_id::resolve(&h.repo_id, h.namespace.as_deref())
        .map_err(|e| format!("`hub.namespace`: {e}"))?;
    if let Some(rev) = h.revision.as_ref().filter(|r| !r.trim().is_empty()) {
        if let Some(why) = repo_id::revision_problem(rev) {
            return Err(format!(
                "`hub.revision`: {rev:?} is not a branch name: {why}"
            ));
        }
    }
    Ok(())
}
