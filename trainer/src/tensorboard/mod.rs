//! TensorBoard event files in `<output_dir>/tensorboard/`: the scalars of
//! each metrics record under the names TensorBoard users know
//! (`train/loss`, `eval/loss`, `rewards/margin`, ...).
//!
//! The format is TFRecord framing ([`record`]) around `Event` protocol
//! buffers ([`proto`], encoded with `prost`). A resumed run starts a new
//! event file and writes, for each tag, only steps after the last one
//! already written, so the curves never go back in step.

mod proto;
mod record;

use anyhow::{Context, Result};
use prost::Message;
use proto::{Event, Scalar, Summary, SummaryValue, What};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Appends scalars to a new event file of a run's `tensorboard/` folder.
pub struct EventWriter {
    file: File,
    path: PathBuf,
    /// Last step written for each tag, by this run or an earlier one.
    last: HashMap<String, i64>,
}

impl EventWriter {
    /// Opens a new event file in `dir` (created if missing), after reading
    /// what the folder's earlier files hold.
    pub fn create(dir: &Path) -> Result<EventWriter> {
        runconfig::safe_fs::create_dir(dir)
            .with_context(|| format!("cannot create TensorBoard folder {}", dir.display()))?;
        let last = record::last_steps(dir)?;
        let path = dir.join(file_name());
        // A new file: nothing already there, a link included, is opened.
        let file = runconfig::safe_fs::create_new(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = EventWriter { file, path, last };
        let version = Event {
            wall_time: now(),
            step: 0,
            what: Some(What::FileVersion("brain.Event:2".into())),
        };
        w.write(&version)?;
        Ok(w)
    }

    /// Writes the numeric fields of a metrics record that has a `step`
    /// (records without one, such as the start record, are skipped) and
    /// flushes the file.
    pub fn scalars(&mut self, record: &Map<String, Value>) -> Result<()> {
        let Some(step) = record.get("step").and_then(Value::as_i64) else {
            return Ok(());
        };
        let mut values = Vec::new();
        for (key, value) in record {
            let (Some(tag), Some(x)) = (tag_of(key), value.as_f64()) else {
                continue;
            };
            if self.last.get(&tag).is_some_and(|&s| s >= step) {
                continue;
            }
            self.last.insert(tag.clone(), step);
            values.push(SummaryValue {
                tag,
                value: Some(Scalar::SimpleValue(x as f32)),
            });
        }
        if values.is_empty() {
            return Ok(());
        }
        let event = Event {
            wall_time: now(),
            step,
            what: Some(What::Summary(Summary { value: values })),
        };
        self.write(&event)
    }

    fn write(&mut self, event: &Event) -> Result<()> {
        let data = event.encode_to_vec();
        self.file
            .write_all(&record::frame(&data))
            .and_then(|()| self.file.flush())
            .with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// The TensorBoard tag of a metrics key; None for keys not drawn.
pub fn tag_of(key: &str) -> Option<String> {
    const MEMORY: [&str; 3] = ["rss_bytes", "peak_rss_bytes", "gpu_memory_used_bytes"];
    match key {
        "step" => None,
        k if MEMORY.contains(&k) => Some(format!("memory/{k}")),
        k if k.starts_with("eval_") => Some(format!("eval/{}", &k[5..])),
        k if k.starts_with("train_") => Some(format!("train/{}", &k[6..])),
        k if k.contains('/') => Some(k.to_string()),
        k => Some(format!("train/{k}")),
    }
}

/// `events.out.tfevents.<seconds>.<host>.<pid>.<n>`, the name TensorBoard
/// looks for; `n` counts the files this process opened.
fn file_name() -> String {
    static OPENED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = OPENED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    let host = if host.is_empty() { "localhost" } else { host };
    format!(
        "events.out.tfevents.{}.{host}.{}.{n}",
        now() as u64,
        std::process::id()
    )
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests;
