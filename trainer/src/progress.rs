//! What rank 0 shows while a run goes: one line per log step in human
//! units (`loss 0.6159  lr 3.0e-4  ...  step 50/1462 (3%)  ETA 4h31m`), the
//! same in a terminal, a rank log or a pipe; in a terminal also a bar
//! redrawn at every step. A bar line ends in `\r`: `launch` shows it in
//! place and keeps it out of the log files. [`Meter`] is the same for
//! counted work (DPO reference pass, tokenisation), about once a second.

use serde_json::{Map, Value};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
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

    /// The step the run ends at.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The step this process started from (0, or where it resumed).
    pub fn first_step(&self) -> u64 {
        self.first_step
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

    /// The console line of a step's metrics record in human units (any other
    /// record as `key=value` pairs: [`crate::console`] has the start's and an
    /// evaluation's); exact values stay in metrics.jsonl.
    pub fn console(&self, r: &Map<String, Value>) -> String {
        let num = |k: &str| r.get(k).and_then(Value::as_f64);
        let (Some(step), Some(loss), Some(lr)) =
            (num("step"), num("train_loss"), num("learning_rate"))
        else {
            return console_line(r);
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
/// printed about once a second (`FERROSPEED_PROGRESS_EVERY_MS`, default
/// 1000) and at the end; work done within that time prints nothing.
pub struct Meter {
    label: String,
    unit: &'static str,
    total: usize,
    start: Instant,
    every_ms: u64,
    /// Milliseconds after `start` when the next line is due.
    next_ms: AtomicU64,
}

impl Meter {
    /// Work of `total` `unit`s, starting now.
    pub fn new(label: &str, total: usize, unit: &'static str) -> Meter {
        let every_ms = std::env::var("FERROSPEED_PROGRESS_EVERY_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        Meter {
            label: label.to_string(),
            unit,
            total,
            start: Instant::now(),
            every_ms,
            next_ms: AtomicU64::new(every_ms),
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

    /// Prints the line after `done` units when it is due (see [`Meter::due`]).
    /// Ticks may come from several threads at once.
    pub fn tick(&self, done: usize) {
        if self.due(done, self.start.elapsed().as_millis() as u64) {
            println!("{}", self.line(done));
        }
    }

    /// Whether a line is due after `done` units, `elapsed_ms` into the work:
    /// none before the interval has passed (short work stays quiet), then at
    /// most one per interval, and the last one when the work is done. The
    /// thread that moves `next_ms` on prints; the others skip.
    fn due(&self, done: usize, elapsed_ms: u64) -> bool {
        if elapsed_ms < self.every_ms {
            return false;
        }
        if done == self.total {
            return true;
        }
        let next = self.next_ms.load(Ordering::Relaxed);
        elapsed_ms >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    elapsed_ms + self.every_ms,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

/// A record as `key=value` pairs, for records other than a step's.
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

#[cfg(test)]
mod tests;
