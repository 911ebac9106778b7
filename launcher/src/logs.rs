//! Per-rank log files: a child's stdout and stderr are copied line by line
//! into `rank-<r>.log`; rank 0 is echoed to the console with a prefix.

use crate::logline::{LineStyle, Stream};
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
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
    let (y, m, d) = crate::logline::civil(days);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Whether a progress line is on the console now (it is cleared first).
static SHOWING: AtomicBool = AtomicBool::new(false);

/// Reads up to the next `\n` or `\r` (not included) into `line`; returns
/// the terminator (`\n` also at the end of the stream), None when done.
fn read_segment(reader: &mut impl BufRead, line: &mut Vec<u8>) -> Option<u8> {
    loop {
        let buf = match reader.fill_buf() {
            Ok(b) => b,
            Err(_) => return None,
        };
        if buf.is_empty() {
            return (!line.is_empty()).then_some(b'\n');
        }
        match buf.iter().position(|&c| c == b'\n' || c == b'\r') {
            Some(i) => {
                let end = buf[i];
                line.extend_from_slice(&buf[..i]);
                reader.consume(i + 1);
                // "\r\n" is an ordinary line end.
                if end == b'\r' && reader.fill_buf().is_ok_and(|b| b.first() == Some(&b'\n')) {
                    reader.consume(1);
                    return Some(b'\n');
                }
                return Some(end);
            }
            None => {
                let n = buf.len();
                line.extend_from_slice(buf);
                reader.consume(n);
            }
        }
    }
}

fn transient(prefix: &str, line: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(b"\r\x1b[K");
    let _ = out.write_all(prefix.as_bytes());
    let _ = out.write_all(line);
    let _ = out.flush();
    SHOWING.store(true, Ordering::SeqCst);
}

fn permanent(prefix: &str, line: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(clear_bar(&SHOWING));
    let _ = out.write_all(prefix.as_bytes());
    let _ = out.write_all(line);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// Prints `msg` on stderr on a line of its own: a progress bar on the
/// console (and a `^C` the terminal echoed after it) is cleared first; the
/// next step draws the bar again.
pub fn notice(msg: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(clear_bar(&SHOWING));
    let _ = out.flush();
    eprintln!("{msg}");
}

/// What clears the bar when `showing` says one is on the console (and
/// marks it gone).
fn clear_bar(showing: &AtomicBool) -> &'static [u8] {
    match showing.swap(false, Ordering::SeqCst) {
        true => b"\r\x1b[K",
        false => b"",
    }
}

/// Copies one rank's output streams into its log file.
pub struct RankLog {
    pub path: PathBuf,
    done: Receiver<()>,
    streams: usize,
}

impl RankLog {
    /// Starts copying `streams` (stdout, stderr) to `path`, each line in
    /// `style`; `echo` prefixes lines on the console (as the rank wrote them).
    pub fn start(
        path: PathBuf,
        streams: Vec<Box<dyn Read + Send>>,
        echo: Option<String>,
        style: LineStyle,
    ) -> std::io::Result<RankLog> {
        let file = Arc::new(Mutex::new(File::create(&path)?));
        let (tx, done) = channel();
        let n = streams.len();
        for (i, stream) in streams.into_iter().enumerate() {
            let kind = if i == 0 { Stream::Out } else { Stream::Err };
            let (file, echo, tx): (_, _, Sender<()>) = (file.clone(), echo.clone(), tx.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut line = Vec::new();
                while let Some(end) = read_segment(&mut reader, &mut line) {
                    match end {
                        // A progress bar: shown in place, kept out of the log.
                        b'\r' => {
                            if let Some(prefix) = &echo {
                                transient(prefix, &line);
                            }
                        }
                        _ => {
                            let text = style.render(kind, &line, SystemTime::now());
                            let _ = file.lock().unwrap().write_all(&text);
                            if let Some(prefix) = &echo {
                                permanent(prefix, &line);
                            }
                        }
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

    /// The last line of the log that reports an error or a panic.
    pub fn last_error(&self) -> Option<String> {
        self.tail(200).into_iter().rev().find(|l| {
            let l = l.to_lowercase();
            l.contains("error:") || l.contains("panicked at")
        })
    }

    /// The last line of the log that is not blank.
    pub fn last_line(&self) -> Option<String> {
        self.tail(200)
            .into_iter()
            .rev()
            .find(|l| !l.trim().is_empty())
    }

    /// The last `n` lines of the log, as the rank wrote them.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let text = std::fs::read(&self.path).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|s| crate::logline::plain(s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::{clear_bar, read_segment};
    use std::sync::atomic::AtomicBool;

    #[test]
    fn a_message_after_a_bar_clears_it_once() {
        let showing = AtomicBool::new(true);
        assert_eq!(clear_bar(&showing), b"\r\x1b[K");
        assert_eq!(clear_bar(&showing), b"");
    }

    #[test]
    fn progress_lines_end_in_carriage_returns() {
        let mut input: &[u8] = b"bar 1\rbar 2\rwindows\r\nplain\nlast";
        let mut got = Vec::new();
        let mut line = Vec::new();
        while let Some(end) = read_segment(&mut input, &mut line) {
            got.push((String::from_utf8(line.clone()).unwrap(), end));
            line.clear();
        }
        let want = [
            ("bar 1", b'\r'),
            ("bar 2", b'\r'),
            ("windows", b'\n'),
            ("plain", b'\n'),
            ("last", b'\n'),
        ];
        assert_eq!(got, want.map(|(s, e)| (s.to_string(), e)));
    }
}
