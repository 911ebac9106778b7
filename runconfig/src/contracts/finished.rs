//! The `finished` marker of a run: the trainer writes it into the output_dir
//! once `final/` is complete; `launch` reads it before starting any rank, so
//! that re-running the same command reports the run as done instead of
//! training it again.

use crate::contracts::checkpoint::{checkpoints_dir, diff, fingerprint, step_dir_name};
use crate::contracts::export::{inspect, Folder};
use crate::data_stamp;
use crate::plan::Plan;
use crate::schema::Config;
use crate::values::Resume;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// `<output_dir>/finished`.
pub const FINISHED: &str = "finished";

/// What makes a re-run the same run: the resume fingerprint, the length of
/// training, every setting that changes the weights (learning rate and
/// schedule, clipping, the optimizer, the objective's constants), the
/// export settings, and what the data files hold (a change to any of them
/// has work to do). How the run is laid out (micro batch, threads,
/// recomputation, offload) changes nothing and is left out.
pub fn identity(config: &Config, plan: &Plan) -> Value {
    let mut id = fingerprint(config, plan);
    let t = &config.train;
    id["train.max_steps"] = json!(t.max_steps);
    id["train.epochs"] = json!(t.epochs);
    id["train.learning_rate"] = json!(t.learning_rate);
    id["train.lr_schedule"] = json!(t.lr_schedule);
    id["train.max_grad_norm"] = json!(t.max_grad_norm);
    id["train.reduce_loss"] = json!(t.reduce_loss);
    id["train.dpo"] = json!({
        "beta": t.dpo_beta,
        "loss_type": t.dpo_loss_type,
        "label_smoothing": t.dpo_label_smoothing,
        "simpo_gamma": t.simpo_gamma,
    });
    let mut optimizer = json!(config.optimizer);
    if let Some(o) = optimizer.as_object_mut() {
        o.remove("offload");
    }
    id["optimizer"] = optimizer;
    id["export"] = json!(config.export);
    id
}

/// [`identity`] with the stamps of the data files (hashed afresh).
fn identity_with_data(config: &Config, plan: &Plan, known: Option<&Value>) -> Value {
    let mut id = identity(config, plan);
    id[DATA_FILES] = data_stamp::stamps(config, known);
    id
}

/// The identity key of the data files' stamps.
const DATA_FILES: &str = "data_files";

/// Whether `finished` applies to this configuration at all: sanity runs
/// write no `final/` and always run; `checkpoint.resume` other than `auto`
/// asks for a particular start.
pub fn applies(config: &Config) -> bool {
    config.train.sanity_steps.is_none() && config.checkpoint.resume() == Resume::Auto
}

/// The marker's contents after `step` optimizer steps.
pub fn record(config: &Config, plan: &Plan, step: u64) -> Value {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    json!({
        "step": step,
        "final": config.output_dir().join("final"),
        "checkpoint": checkpoints_dir(config).join(step_dir_name(step)),
        "finished_unix_s": secs,
        "identity": identity_with_data(config, plan, None),
    })
}

/// Writes `<output_dir>/finished` (through a new temporary file, so that a
/// link planted there is replaced, not written through).
pub fn write(config: &Config, plan: &Plan, step: u64) -> std::io::Result<PathBuf> {
    let path = config.output_dir().join(FINISHED);
    let text = serde_json::to_string_pretty(&record(config, plan, step))?;
    crate::safe_fs::replace(&path, text.as_bytes())?;
    Ok(path)
}

/// Removes the marker: a run that starts training is not finished.
pub fn clear(output_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(output_dir.join(FINISHED)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Where a run stands, as its output_dir says.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// No (readable) marker: train as usual.
    NotFinished,
    /// The same run finished: nothing to train.
    Finished {
        /// Optimizer steps it took.
        step: u64,
        /// Its exported weights.
        final_dir: PathBuf,
    },
    /// It finished with another value of `key`: not the same run.
    Changed {
        key: String,
        was: String,
        now: String,
    },
    /// It finished, but `final/` is gone.
    FinalMissing { final_dir: PathBuf },
}

/// `id` as it is compared with `other`: the data files by their hashes,
/// and only the keys `other` has too (a marker written before a key was
/// part of the identity is not refused for lacking it).
fn comparable(id: &Value, other: &Value) -> Value {
    let mut out = id.clone();
    if let Some(map) = out.as_object_mut() {
        map.retain(|k, _| other.get(k).is_some());
        if let Some(files) = map.get_mut(DATA_FILES) {
            *files = data_stamp::contents(files);
        }
    }
    out
}

/// Reads `<output_dir>/finished` and compares it with this configuration.
pub fn state(config: &Config, plan: &Plan) -> State {
    let path = config.output_dir().join(FINISHED);
    let Some(marker) = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    else {
        return State::NotFinished;
    };
    let (Some(step), Some(saved)) = (marker["step"].as_u64(), marker.get("identity")) else {
        return State::NotFinished;
    };
    let now = identity_with_data(config, plan, saved.get(DATA_FILES));
    let mut diffs = Vec::new();
    diff(
        "",
        &comparable(saved, &now),
        &comparable(&now, saved),
        &mut diffs,
    );
    if let Some((key, was, now)) = diffs.into_iter().next() {
        return State::Changed { key, was, now };
    }
    // A final/ changed by the user since (a card edited before a push) is
    // still the run's result: only a missing one has work to do.
    let final_dir = config.output_dir().join("final");
    match inspect(&final_dir) {
        Folder::Absent | Folder::Empty => State::FinalMissing { final_dir },
        _ => State::Finished { step, final_dir },
    }
}
