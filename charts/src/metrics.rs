//! A run's `metrics.jsonl` as series: for each numeric key, its value at
//! each step. A run that is still writing may leave its last line
//! unfinished (skipped); a resumed run logs some steps again (the later
//! value wins).

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// The step records of a run, by key.
#[derive(Debug, Default)]
pub struct Metrics {
    series: BTreeMap<String, BTreeMap<u64, f64>>,
    /// Complete lines that were not JSON objects.
    pub skipped_lines: usize,
}

impl Metrics {
    /// Reads `path`; a missing file is an error that names it.
    pub fn read(path: &Path) -> Result<Metrics> {
        if !path.exists() {
            let dir = path.parent().unwrap_or(path);
            bail!(
                "{} has no metrics.jsonl (is it a run's output_dir?)",
                dir.display()
            );
        }
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        Ok(Metrics::parse(&text))
    }

    /// The records of `text`, one JSON object a line.
    pub fn parse(text: &str) -> Metrics {
        let mut m = Metrics::default();
        for line in text.split_inclusive('\n') {
            let complete = line.ends_with('\n');
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(r)) => m.add(&r),
                // A run still writing: its last line may be unfinished.
                _ if !complete => {}
                _ => m.skipped_lines += 1,
            }
        }
        m
    }

    fn add(&mut self, r: &serde_json::Map<String, Value>) {
        let Some(step) = r.get("step").and_then(Value::as_u64) else {
            return;
        };
        for (key, value) in r {
            if let (true, Some(v)) = (key != "step", value.as_f64()) {
                if v.is_finite() {
                    self.series.entry(key.clone()).or_default().insert(step, v);
                }
            }
        }
    }

    /// `(step, value)` of `key`, by step; empty when the run has none.
    pub fn points(&self, key: &str) -> Vec<(f64, f64)> {
        self.series.get(key).map_or_else(Vec::new, |s| {
            s.iter().map(|(&step, &v)| (step as f64, v)).collect()
        })
    }

    /// Whether no step record has a numeric value.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }
}

/// The exponential moving average of `points`, debiased (as TensorBoard
/// smooths): its span grows with the run, about a twentieth of the points,
/// so a short run is shown as it is and a long one as its trend.
pub fn ema(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let span = (points.len() as f64 / 20.0).max(1.0);
    let keep = 1.0 - 2.0 / (span + 1.0);
    let (mut mean, mut weight) = (0.0, 0.0);
    points
        .iter()
        .map(|&(x, y)| {
            mean = keep * mean + (1.0 - keep) * y;
            weight = keep * weight + (1.0 - keep);
            (x, mean / weight)
        })
        .collect()
}
