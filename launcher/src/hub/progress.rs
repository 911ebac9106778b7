//! A transfer progress bar with bytes/s and the time left: redrawn in place on a terminal, one
//! line every few seconds in a log.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Shared byte counter of an upload.
pub struct Progress {
    total: AtomicU64,
    done: AtomicU64,
    start: Instant,
    stop: AtomicBool,
}

/// `1.23 GB`, `456.7 MB`, `12 B`.
pub fn human(bytes: f64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{v:.0} {}", units[u])
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// `1:02:03` or `2:03`.
fn clock(secs: f64) -> String {
    let s = secs.min(360_000.0) as u64;
    match s / 3600 {
        0 => format!("{}:{:02}", s / 60, s % 60),
        h => format!("{h}:{:02}:{:02}", s / 60 % 60, s % 60),
    }
}

impl Progress {
    /// A counter for `total` bytes.
    pub fn new(total: u64) -> Arc<Progress> {
        Arc::new(Progress {
            total: AtomicU64::new(total),
            done: AtomicU64::new(0),
            start: Instant::now(),
            stop: AtomicBool::new(false),
        })
    }

    /// Sets the number of bytes to send.
    pub fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
    }

    /// Counts `n` more bytes sent.
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Takes back `n` bytes of an attempt that failed.
    pub fn sub(&self, n: u64) {
        let _ = self
            .done
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |d| {
                Some(d.saturating_sub(n))
            });
    }

    /// Bytes sent so far.
    pub fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }

    /// Seconds since the start.
    pub fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn line(&self) -> String {
        let total = self.total.load(Ordering::Relaxed);
        let done = self.done().min(total);
        let secs = self.elapsed().max(1e-3);
        let rate = done as f64 / secs;
        let pct = if total == 0 {
            100.0
        } else {
            100.0 * done as f64 / total as f64
        };
        let width = 24;
        let filled = ((pct / 100.0) * width as f64) as usize;
        let left = (total - done) as f64 / rate.max(1.0);
        let eta = match done {
            d if d >= total => String::new(),
            0 => "  ETA -".into(),
            _ => format!("  ETA {}", clock(left)),
        };
        format!(
            "launch: hub: [{}{}] {:>5.1}%  {} / {}  {}/s{eta}",
            "#".repeat(filled),
            " ".repeat(width - filled),
            pct,
            human(done as f64),
            human(total as f64),
            human(rate)
        )
    }

    /// Draws the bar on stderr until [`Bar::finish`].
    pub fn show(self: &Arc<Self>) -> Bar {
        let me = Arc::clone(self);
        let tty = std::io::stderr().is_terminal();
        let every = if tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        let thread = std::thread::spawn(move || {
            let mut last = Instant::now();
            while !me.stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
                if last.elapsed() >= every && me.total.load(Ordering::Relaxed) > 0 {
                    last = Instant::now();
                    let mut err = std::io::stderr().lock();
                    if tty {
                        let _ = write!(err, "\r{}\x1b[K", me.line());
                    } else {
                        let _ = writeln!(err, "{}", me.line());
                    }
                }
            }
            if me.total.load(Ordering::Relaxed) == 0 {
                return;
            }
            let mut err = std::io::stderr().lock();
            let _ = if tty {
                writeln!(err, "\r{}\x1b[K", me.line())
            } else {
                writeln!(err, "{}", me.line())
            };
        });
        Bar {
            progress: Arc::clone(self),
            thread: Some(thread),
        }
    }
}

/// The drawing thread; stops (with a final line) when finished or dropped.
pub struct Bar {
    progress: Arc<Progress>,
    thread: Option<JoinHandle<()>>,
}

impl Bar {
    /// Draws the last line and stops.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.progress.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop();
    }
}
