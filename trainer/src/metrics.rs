//! What rank 0 reports every `logging.every_steps`: one JSON object per
//! line in `<output_dir>/metrics.jsonl`, the same scalars in TensorBoard
//! event files (`logging.tensorboard`) and, redrawn at every checkpoint and
//! at the end, PNG charts in `<output_dir>/plots/`; also the run's first
//! record and the warning when the gradient norm jumps.

use crate::ckpt::Resumed;
use crate::tensorboard::EventWriter;
use crate::zero::Engine;
use anyhow::{Context, Result};
use runconfig::{Config, Plan};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Appends metric records to a JSONL file and, when asked, to TensorBoard.
pub struct MetricsFile {
    dir: PathBuf,
    file: std::fs::File,
    events: Option<EventWriter>,
}

impl MetricsFile {
    /// Opens `<dir>/metrics.jsonl` for appending (a resumed run continues
    /// it) and, with `tensorboard`, a new event file in `<dir>/tensorboard/`.
    pub fn open(dir: &Path, tensorboard: bool) -> Result<MetricsFile> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output folder {}", dir.display()))?;
        let path = dir.join("metrics.jsonl");
        let file = runconfig::safe_fs::open_append(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        let events = match tensorboard {
            true => Some(EventWriter::create(&dir.join("tensorboard"))?),
            false => None,
        };
        Ok(MetricsFile {
            dir: dir.to_path_buf(),
            file,
            events,
        })
    }

    /// Redraws the charts of the records so far in `<dir>/plots/`, titled
    /// `run`; a chart that cannot be drawn is a warning, never an error.
    pub fn redraw_charts(&self, run: &str) {
        let plots = self.dir.join("plots");
        if let Err(e) = charts::draw_run(&self.dir, &plots, run) {
            eprintln!("warning: charts in {} not drawn: {e:#}", plots.display());
        }
    }

    /// Writes one record (flushed, so that readers see it at once).
    pub fn record(&mut self, record: &Map<String, Value>) -> Result<()> {
        writeln!(self.file, "{}", Value::Object(record.clone()))?;
        self.file.flush()?;
        if let Some(events) = self.events.as_mut() {
            events.scalars(record)?;
        }
        Ok(())
    }
}

/// Resident memory of this process now and at its peak, in bytes (Linux).
pub fn host_memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Memory fields for a record: host RSS always.
pub fn memory_fields() -> Value {
    let (rss, peak) = host_memory();
    json!({ "rss_bytes": rss, "peak_rss_bytes": peak })
}

/// The first record of a run: world, batch, model and state sizes, resume point.
pub fn start_record(
    config: &Config,
    plan: &Plan,
    engine: &Engine,
    total: u64,
    resumed: Option<&Resumed>,
) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("event".into(), json!("start"));
    r.insert("world_size".into(), json!(plan.world_size));
    r.insert("grad_accum".into(), json!(plan.grad_accum));
    r.insert("total_steps".into(), json!(total));
    r.insert("parameters".into(), json!(engine.parameter_count()));
    if let Some(lora) = &config.lora {
        let trained = engine.trained_parameters();
        let n: i64 = trained.iter().map(|(_, s)| s.iter().product::<i64>()).sum();
        r.insert("trained_parameters".into(), json!(n));
        r.insert("lora_r".into(), json!(lora.r));
    }
    r.insert(
        "model_state_bytes_per_rank".into(),
        json!(engine.state_bytes()),
    );
    r.insert("optimizer_bits".into(), json!(config.optimizer.bits));
    r.insert(
        "optimizer_bytes_per_param".into(),
        json!(engine.optimizer_bytes_per_param()),
    );
    if let Some(res) = resumed {
        r.insert("resumed_from".into(), json!(res.path.display().to_string()));
        r.insert("resumed_step".into(), json!(res.step));
    }
    r
}

/// Warns (rank 0) when the gradient norm jumps far above its recent median.
pub fn check_grad_norm(history: &[f64], norm: f64, step: u64) {
    if !norm.is_finite() {
        eprintln!("warning: the gradient norm is {norm} at step {step}");
        return;
    }
    let recent = &history[history.len().saturating_sub(20)..];
    if recent.len() >= 5 {
        let mut sorted = recent.to_vec();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        if norm > 10.0 * median {
            eprintln!("warning: gradient norm {norm:.3} at step {step} is over 10x the recent median {median:.3}");
        }
    }
}
