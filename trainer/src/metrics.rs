//! What rank 0 reports every `logging.every_steps`: a console line and one
//! JSON object per line in `<output_dir>/metrics.jsonl`.

use anyhow::{Context, Result};
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::Path;

/// Appends metric records to a JSONL file.
pub struct MetricsFile {
    file: std::fs::File,
}

impl MetricsFile {
    /// Opens `<dir>/metrics.jsonl` for appending (a resumed run continues it).
    pub fn open(dir: &Path) -> Result<MetricsFile> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output folder {}", dir.display()))?;
        let path = dir.join("metrics.jsonl");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        Ok(MetricsFile { file })
    }

    /// Writes one record and prints it as a console line.
    pub fn record(&mut self, record: &Map<String, Value>) -> Result<()> {
        writeln!(self.file, "{}", Value::Object(record.clone()))?;
        self.file.flush()?;
        println!("{}", console_line(record));
        Ok(())
    }
}

fn console_line(r: &Map<String, Value>) -> String {
    r.iter()
        .map(|(k, v)| match v {
            Value::Number(n) if n.is_f64() => {
                let x = n.as_f64().unwrap_or(0.0);
                if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) {
                    format!("{k}={x:.3e}")
                } else {
                    format!("{k}={x:.4}")
                }
            }
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
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
