//! What rank 0 shows while a run goes: one line per log step in human
//! units (`loss 0.6159  lr 3.0e-4  ...  step 50/1462 (3%)  ETA 4h31m`), the
//! same in a terminal, a rank log or a pipe; in a terminal also a bar
//! redrawn at every step. A bar line ends in `\r`: `launch` shows it in
//! place and keeps it out of the log files. [`Meter`] is the same for
//! counted work (DPO reference pass, tokenisation).

use serde_json::{Map, Value};
use std::io::Write;
use std::time::Instant;

/// Steps of a run: the bar and the log line.
pub struct Progress {
    on: bool,
    start: Instant,
    first_step: u64,
    total: u64,
}

impl Progress {
    /// Steps `first_step..total`; the bar is drawn when
    /// `FERROSPEED_PROGRESS=1` (set by `launch` for rank 0 when its own
    /// output is a terminal).
    pub fn new(first_step: u64, total: u64) -> Progress {
        let on = std::env::var("FERROSPEED_PROGRESS").is_ok_and(|v| v == "1");
        Progress {
            on,
            start: Instant::now(),
            first_step,
            total,
        }
    }

    /// `step 50/1462 (3%)  ETA 4h31m` after `done` steps.
    pub fn position(&self, done: u64) -> String {
        let ran = done.saturating_sub(self.first_step).max(1) as f64;
        let left = self.total.saturating_sub(done) as f64;
        let eta = self.start.elapsed().as_secs_f64() / ran * left;
        format!(
            "step {done}/{} ({:.0}%)  ETA {}",
            self.total,
            100.0 * done as f64 / self.total.max(1) as f64,
            duration(eta)
        )
    }

    /// The bar after `done` steps.
    pub fn line(&self, done: u64, loss: f64, tokens_per_s: f64) -> String {
        let frac = done as f64 / self.total.max(1) as f64;
        let width = 24;
        let filled = ((frac * width as f64) as usize).min(width);
        format!(
            "[{}{}] {}  loss {loss:.4}  {}",
            "#".repeat(filled),
            ".".repeat(width - filled),
            self.position(done),
            rate(tokens_per_s, "tok")
        )
    }

    /// Redraws the bar after `done` steps.
    pub fn update(&self, done: u64, loss: f64, tokens_per_s: f64) {
        if self.on {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "{}\r", self.line(done, loss, tokens_per_s));
            let _ = out.flush();
        }
    }

    /// The console line of a metrics record: a step's in human units, any
    /// other as `key=value` pairs; exact values stay in metrics.jsonl.
    pub fn console(&self, r: &Map<String, Value>) -> String {
        let num = |k: &str| r.get(k).and_then(Value::as_f64);
        let (Some(step), Some(loss), Some(lr)) =
            (num("step"), num("train_loss"), num("learning_rate"))
        else {
            return crate::metrics::console_line(r);
        };
        let mut s = format!("loss {loss:.4}  lr {lr:.1e}");
        if let Some(g) = num("grad_norm") {
            s += &format!("  grad {g:.2}");
        }
        if let Some(a) = num("rewards/accuracy") {
            s += &format!("  acc {a:.2}");
        }
        if let Some(t) = num("tokens_per_s") {
            s += &format!("  {}", rate(t, "tok"));
        }
        if let Some(m) = num("gpu_memory_used_bytes").or(num("rss_bytes")) {
            s += &format!("  mem {:.0} MiB", m / 1048576.0);
        }
        format!("{s}  {}", self.position(step as u64))
    }
}

/// `12.3k tok/s`.
pub fn rate(per_s: f64, unit: &str) -> String {
    match per_s {
        x if x >= 1e6 => format!("{:.1}M {unit}/s", x / 1e6),
        x if x >= 1e3 => format!("{:.1}k {unit}/s", x / 1e3),
        x => format!("{x:.1} {unit}/s"),
    }
}

/// `4h31m`, `3m05s`, `12s`.
pub fn duration(seconds: f64) -> String {
    let s = if seconds.is_finite() {
        seconds as u64
    } else {
        0
    };
    match s {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s / 60 % 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// Progress of counted work: `label 14/144 batches  3.2 batches/s  ETA 41s`,
/// printed about ten times over the work.
pub struct Meter {
    label: String,
    unit: &'static str,
    total: usize,
    start: Instant,
}

impl Meter {
    /// Work of `total` `unit`s, starting now.
    pub fn new(label: &str, total: usize, unit: &'static str) -> Meter {
        Meter {
            label: label.to_string(),
            unit,
            total,
            start: Instant::now(),
        }
    }

    /// The line after `done` units.
    pub fn line(&self, done: usize) -> String {
        let per_s = done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
        let eta = self.total.saturating_sub(done) as f64 / per_s.max(1e-9);
        format!(
            "{} {done}/{} {}  {}  ETA {}",
            self.label,
            self.total,
            self.unit,
            rate(per_s, self.unit),
            duration(eta)
        )
    }

    /// Prints the line when `done` is a tenth of the work further (and at the end).
    pub fn tick(&self, done: usize) {
        if done.is_multiple_of((self.total / 10).max(1)) || done == self.total {
            println!("{}", self.line(done));
        }
    }
}

#[cfg(test)]
mod tests;
