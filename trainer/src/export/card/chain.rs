//! The chain of runs behind a model: each export records, in its marker
//! (which only this tool reads and which is never pushed), the stages that
//! led to it; a run that starts from such an export continues the chain,
//! and its card tells the whole story: the base model by Hub id, then each
//! stage with its objective, data, key settings and results.

use super::header::objective_tag;
use super::table::number;
use super::Summary;
use runconfig::{Config, DatasetConfig, ModelSource, Objective};
use serde_json::{json, Value};
use std::fmt::Write;

/// The marker key that holds the chain.
pub const KEY: &str = "chain";

/// The stages recorded in the export this run starts from (none when it
/// starts from anything else).
pub fn earlier(config: &Config) -> Vec<Value> {
    let Ok(ModelSource::Weights(dir)) = config.model.source() else {
        return Vec::new();
    };
    runconfig::contracts::export::read_marker(dir)
        .and_then(|m| m.get(KEY).and_then(Value::as_array).cloned())
        .unwrap_or_default()
}

/// This run as a stage of the chain.
pub fn this(config: &Config, summary: &Summary) -> Value {
    json!({
        "run_name": config.run_name,
        "objective": objective_tag(config.data.objective),
        "data": config.data.datasets.iter().map(data_words).collect::<Vec<_>>(),
        "settings": settings(config, summary),
        "results": results(summary),
        "start": start(config),
    })
}

/// Where a run that does not continue an earlier export starts, in words.
fn start(config: &Config) -> Value {
    let o = super::origin::Origin::of(config);
    match (&o.base_model, o.ferrospeed_export) {
        (_, true) => Value::Null,
        _ if o.random_init => "random initialisation (model.config)".into(),
        (Some(id), false) => format!("[{id}](https://huggingface.co/{id})").into(),
        (None, false) => format!("the local folder `{}`", o.folder.unwrap_or_default()).into(),
    }
}

/// A dataset as the card names it: a Hub id with revision and split, or
/// "local data" with the file name.
fn data_words(d: &DatasetConfig) -> String {
    match (&d.hub, &d.path) {
        (Some(id), _) => format!(
            "[{id}](https://huggingface.co/datasets/{id}) (revision {}, split {})",
            d.revision(),
            d.split()
        ),
        (None, Some(p)) => {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            format!("local data `{}`", name.unwrap_or_else(|| d.label()))
        }
        (None, None) => format!("local data `{}`", d.label()),
    }
}

/// The settings that make a stage what it is, in words.
fn settings(config: &Config, summary: &Summary) -> String {
    let t = &config.train;
    let world = summary.world_size.max(1) as u64;
    let effective = t.effective_batch_size.unwrap_or(t.micro_batch_size * world);
    let length = match t.epochs {
        Some(e) => format!("{} epoch(s), {} steps", number(e), summary.step),
        None => format!("{} steps", summary.step),
    };
    let mut s = format!(
        "effective batch {effective}, learning rate {} ({} schedule), {length}, sequence length {}",
        number(t.learning_rate),
        serde_json::to_value(t.lr_schedule.kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default(),
        config.data.max_seq_length
    );
    if config.data.objective == Objective::Dpo {
        let _ = write!(s, ", loss {}, beta {}", t.dpo_loss_type, number(t.dpo_beta));
    }
    s
}

fn results(summary: &Summary) -> String {
    let mut parts = Vec::new();
    if let Some(l) = summary.train_loss {
        parts.push(format!("train loss {l:.4}"));
    }
    if let Some(l) = summary.eval_loss {
        parts.push(format!("eval loss {l:.4}"));
    }
    for (name, v) in &summary.rewards {
        parts.push(format!("{name} {v:.4}"));
    }
    match parts.is_empty() {
        true => "no losses recorded".into(),
        false => parts.join(", "),
    }
}

/// The card's "Training chain" section: the base model, then every stage
/// (the earlier ones, then this run).
pub fn write(s: &mut String, base: Option<&str>, stages: &[Value]) {
    let _ = writeln!(s, "\n## Training chain\n");
    match base {
        Some(id) => {
            let _ = writeln!(s, "0. base model [{id}](https://huggingface.co/{id})");
        }
        None => {
            let first = stages.first().and_then(|st| st["start"].as_str());
            let what = first.unwrap_or("not recorded (an export written before chains were)");
            let _ = writeln!(s, "0. start: {what}");
        }
    }
    for (i, st) in stages.iter().enumerate() {
        let text = |k: &str| st[k].as_str().unwrap_or("?").to_string();
        let data: Vec<String> = st["data"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{}. {} (`{}`) on {}; {}; {}",
            i + 1,
            text("objective").to_uppercase(),
            text("run_name"),
            data.join(", "),
            text("settings"),
            text("results")
        );
    }
}
