//! The progress bar of rank 0 (step, ETA, loss, tokens/s), drawn when
//! `launch` runs in a terminal; otherwise the metrics lines are the log.
//! A bar line ends in `\r`: `launch` shows it in place and keeps it out of
//! the log files.

use std::io::Write;
use std::time::Instant;

/// Draws the bar when `FERROSPEED_PROGRESS=1` (set by `launch` for rank 0
/// when its own output is a terminal).
pub struct Progress {
    on: bool,
    start: Instant,
    first_step: u64,
    total: u64,
}

impl Progress {
    /// A bar for steps `first_step..total`.
    pub fn new(first_step: u64, total: u64) -> Progress {
        let on = std::env::var("FERROSPEED_PROGRESS").is_ok_and(|v| v == "1");
        Progress {
            on,
            start: Instant::now(),
            first_step,
            total,
        }
    }

    /// The bar after `done` steps.
    pub fn line(&self, done: u64, loss: f64, tokens_per_s: f64) -> String {
        let frac = done as f64 / self.total.max(1) as f64;
        let width = 24;
        let filled = ((frac * width as f64) as usize).min(width);
        let ran = done.saturating_sub(self.first_step).max(1) as f64;
        let eta = self.start.elapsed().as_secs_f64() / ran * self.total.saturating_sub(done) as f64;
        let eta = eta as u64;
        format!(
            "step {done}/{} [{}{}] {:>3.0}% ETA {}:{:02}:{:02} loss {loss:.4} {:.1}k tok/s",
            self.total,
            "#".repeat(filled),
            ".".repeat(width - filled),
            frac * 100.0,
            eta / 3600,
            eta / 60 % 60,
            eta % 60,
            tokens_per_s / 1e3
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
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bar_shows_step_share_and_loss() {
        let p = super::Progress::new(0, 40);
        let line = p.line(10, 1.5, 2500.0);
        assert!(
            line.starts_with("step 10/40 [######..................]  25% ETA "),
            "{line}"
        );
        assert!(line.ends_with("loss 1.5000 2.5k tok/s"), "{line}");
    }
}
