//! The `finished` marker of a run: the trainer writes it into the output_dir
//! once `final/` is complete; `launch` reads it before starting any rank, so
//! that re-running the same command reports the run as done instead of
//! training it again.

use crate::export::{inspect, Folder};
use crate::resume::{checkpoints_dir, diff, fingerprint, step_dir_name};
use crate::{Config, Plan, Resume};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// `<output_dir>/finished`.
pub const FINISHED: &str = "finished";

/// What makes a re-run the same run: the resume fingerprint, the length of
/// training and the export settings (a change to any of them has work to do).
pub fn identity(config: &Config, plan: &Plan) -> Value {
    let mut id = fingerprint(config, plan);
    id["train.max_steps"] = json!(config.train.max_steps);
    id["train.epochs"] = json!(config.train.epochs);
    id["export"] = json!(config.export);
    id
}

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
        "identity": identity(config, plan),
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
    let mut diffs = Vec::new();
    diff("", saved, &identity(config, plan), &mut diffs);
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
