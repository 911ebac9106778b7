//! One line of a rank log: the rank's text after an RFC 3339 UTC timestamp,
//! or a JSON object for log collectors (`logging.format: json`); and the
//! launcher's own `tracing` subscriber.

use runconfig::LogFormat;
use serde_json::{Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// Which of a rank's streams a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Out,
    Err,
}

/// How one rank's lines are written to its log file.
#[derive(Debug, Clone, Copy)]
pub struct LineStyle {
    pub rank: usize,
    pub format: LogFormat,
}

impl LineStyle {
    /// What the file gets for `line` (ending in `\n`), written at `now`.
    pub fn render(&self, stream: Stream, line: &[u8], now: SystemTime) -> Vec<u8> {
        let time = rfc3339(now);
        let text = String::from_utf8_lossy(line);
        let mut out = match self.format {
            LogFormat::Text => format!("{time} {text}"),
            LogFormat::Json => self.json(stream, &text, time),
        };
        out.push('\n');
        out.into_bytes()
    }

    /// A `tracing` event the rank wrote as JSON keeps its level and fields;
    /// any other line is a message: `INFO` from stdout, `WARN` from stderr.
    fn json(&self, stream: Stream, text: &str, time: String) -> String {
        let mut obj = match serde_json::from_str::<Map<String, Value>>(text) {
            Ok(event) if event.contains_key("level") && event.contains_key("message") => event,
            _ => {
                let level = match stream {
                    Stream::Out => "INFO",
                    Stream::Err => "WARN",
                };
                let mut m = Map::new();
                m.insert("level".into(), level.into());
                m.insert("message".into(), text.into());
                m
            }
        };
        obj.remove("timestamp");
        obj.insert("time".into(), time.into());
        obj.insert("rank".into(), self.rank.into());
        Value::Object(obj).to_string()
    }
}

/// A line of a rank log as the rank wrote it: without the timestamp, or
/// the message of a JSON line.
pub fn plain(line: &str) -> String {
    if line.starts_with('{') {
        if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(line) {
            if let Some(Value::String(m)) = o.get("message") {
                return m.clone();
            }
        }
    }
    match line.split_once(' ') {
        Some((time, rest)) if is_rfc3339(time) => rest.to_string(),
        _ => line.to_string(),
    }
}

/// Whether `s` has the shape `rfc3339` writes.
fn is_rfc3339(s: &str) -> bool {
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    s.len() == shape.len()
        && shape.bytes().zip(s.bytes()).all(|(want, got)| match want {
            b'd' => got.is_ascii_digit(),
            _ => got == want,
        })
}

/// Days since 1970-01-01 as a civil date (H. Hinnant's algorithm).
pub fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `t` as RFC 3339 in UTC with milliseconds: `2026-12-07T14:42:09.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Sends the launcher's `tracing` events to stderr, without timestamps (the
/// console keeps its look). `FERROSPEED_LOG` (else `RUST_LOG`) filters them
/// by level and module; the default is `info`.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FERROSPEED_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_env("RUST_LOG"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_ansi(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64, millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis)
    }

    #[test]
    fn text_lines_start_with_an_rfc3339_utc_time() {
        let style = LineStyle {
            rank: 1,
            format: LogFormat::Text,
        };
        let got = style.render(Stream::Out, b"step 1", at(1_780_000_000, 7));
        assert_eq!(got, b"2026-05-28T20:26:40.007Z step 1\n");
    }

    #[test]
    fn json_lines_carry_time_level_rank_and_message() {
        let style = LineStyle {
            rank: 3,
            format: LogFormat::Json,
        };
        let got = style.render(Stream::Err, b"oops", at(0, 0));
        let v: Value = serde_json::from_slice(&got).unwrap();
        assert_eq!(v["time"], "1970-01-01T00:00:00.000Z");
        assert_eq!(
            (v["level"].as_str(), v["rank"].as_u64()),
            (Some("WARN"), Some(3))
        );
        assert_eq!(v["message"], "oops");
        let event = br#"{"timestamp":"x","level":"DEBUG","message":"all_reduce","bytes":8}"#;
        let v: Value = serde_json::from_slice(&style.render(Stream::Err, event, at(0, 0))).unwrap();
        assert_eq!(
            (v["level"].as_str(), v["bytes"].as_u64()),
            (Some("DEBUG"), Some(8))
        );
        assert_eq!(v["time"], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn plain_lines_are_what_the_rank_wrote() {
        let text = LineStyle {
            rank: 0,
            format: LogFormat::Text,
        };
        let json = LineStyle {
            rank: 0,
            format: LogFormat::Json,
        };
        for style in [text, json] {
            let line = style.render(Stream::Err, b"Error: boom {x}", SystemTime::now());
            assert_eq!(
                plain(String::from_utf8_lossy(&line).trim_end()),
                "Error: boom {x}"
            );
        }
        assert_eq!(plain("not stamped"), "not stamped");
    }
}
