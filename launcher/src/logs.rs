//! Per-rank log files: a child's stdout and stderr are copied line by line
//! into `rank-<r>.log`; rank 0 is echoed to the console with a prefix.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A new folder `<root>/<run_name>/<UTC timestamp><suffix>` for one attempt.
pub fn new_run_dir(
    root: &Path,
    run_name: &str,
    stamp: &str,
    suffix: &str,
) -> std::io::Result<PathBuf> {
    let base = root.join(run_name);
    std::fs::create_dir_all(&base)?;
    for n in 0.. {
        let extra = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let dir = base.join(format!("{stamp}{suffix}{extra}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!()
}

/// The current UTC time as `YYYYMMDD-HHMMSS`.
pub fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Copies one rank's output streams into its log file.
pub struct RankLog {
    pub path: PathBuf,
    done: Receiver<()>,
    streams: usize,
}

impl RankLog {
    /// Starts copying `streams` (stdout, stderr) to `path`; `echo` prefixes
    /// lines on the console.
    pub fn start(
        path: PathBuf,
        streams: Vec<Box<dyn Read + Send>>,
        echo: Option<String>,
    ) -> std::io::Result<RankLog> {
        let file = Arc::new(Mutex::new(File::create(&path)?));
        let (tx, done) = channel();
        let n = streams.len();
        for stream in streams {
            let (file, echo, tx): (_, _, Sender<()>) = (file.clone(), echo.clone(), tx.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut line = Vec::new();
                while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                    let _ = file.lock().unwrap().write_all(&line);
                    if let Some(prefix) = &echo {
                        let mut out = std::io::stdout().lock();
                        let _ = out.write_all(prefix.as_bytes());
                        let _ = out.write_all(&line);
                        if !line.ends_with(b"\n") {
                            let _ = out.write_all(b"\n");
                        }
                        let _ = out.flush();
                    }
                    line.clear();
                }
                let _ = tx.send(());
            });
        }
        Ok(RankLog {
            path,
            done,
            streams: n,
        })
    }

    /// Waits (at most `limit`) until the streams are drained.
    pub fn finish(&self, limit: Duration) {
        for _ in 0..self.streams {
            if self.done.recv_timeout(limit).is_err() {
                return;
            }
        }
    }

    /// The last `n` lines of the log.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let text = std::fs::read(&self.path).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
}
