//! One run per output_dir. `launch N config.yaml` takes an exclusive lock
//! (`flock`, through the standard library's `File::try_lock`) on
//! `<output_dir>/.lock` before any rank starts, and holds it for the whole
//! run: every restart and the Hub push. The OS releases it when `launch`
//! ends, however it ends, so a lock file left behind by a killed run is no
//! lock. A second run on the same folder is refused at once, naming the
//! holder from what it wrote into the file after locking.
//!
//! Only node 0 of a multi-node run locks: the output_dir is then a shared
//! folder that every node writes to, and one lock per run is what keeps a
//! second run out of it.

use crate::logs::timestamp;
use runconfig::safe_fs;
use serde_json::{json, Value};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// The lock file's name inside the output_dir.
pub const LOCK_FILE: &str = ".lock";

/// The run may not start: its output_dir is in use or cannot be locked.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// A held lock: released when dropped or when the process ends.
pub struct RunLock {
    _file: Option<File>,
}

/// Creates `output_dir` if needed and locks it for this run, or says who
/// holds it. A filesystem without locks gets a warning, not a refusal.
pub fn acquire(output_dir: &Path) -> Result<RunLock, Refused> {
    let shown = output_dir.display();
    std::fs::create_dir_all(output_dir)
        .map_err(|e| Refused(format!("cannot create checkpoint.output_dir {shown}: {e}")))?;
    let path = output_dir.join(LOCK_FILE);
    // A link planted here would have its target truncated by `record`.
    let mut file = safe_fs::open_nofollow(
        &path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false), // the holder's record stays until we hold the lock
    )
    .map_err(|e| Refused(format!("cannot open {}: {e}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let holder = holder(&mut file);
            return Err(Refused(format!(
                "{shown} is in use by another run: {holder} (lock file {}); \
                 wait for it to end or stop it, or set another checkpoint.output_dir",
                path.display()
            )));
        }
        Err(TryLockError::Error(e)) if unsupported(&e) => {
            eprintln!(
                "launch: warning: cannot lock {} ({e}): this filesystem has no locks, \
                 so a second run on {shown} would not be refused",
                path.display()
            );
            return Ok(RunLock { _file: None });
        }
        Err(TryLockError::Error(e)) => {
            return Err(Refused(format!("cannot lock {}: {e}", path.display())))
        }
    }
    if let Err(e) = record(&mut file) {
        eprintln!("launch: warning: cannot write {}: {e}", path.display());
    }
    Ok(RunLock { _file: Some(file) })
}

/// Whether a lock error means the filesystem cannot lock at all.
fn unsupported(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::Unsupported
        || [libc::ENOLCK, libc::EOPNOTSUPP, libc::ENOSYS].contains(&e.raw_os_error().unwrap_or(0))
}

/// Replaces the file's content with who holds it now.
fn record(file: &mut File) -> std::io::Result<()> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let me = json!({
        "pid": std::process::id(),
        "host": hostname(),
        "started": format!("{} UTC", timestamp()),
        "started_unix": secs,
        "command": masked(std::env::args()).join(" "),
    });
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(format!("{me}\n").as_bytes())?;
    file.flush()
}

/// The command line with its secrets as `***`: the value of `--run-id`
/// and of any `--set` whose key names a token. Others who share the
/// output_dir read this file to see who holds it.
fn masked(args: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in args {
        let masked = match out.last().map(String::as_str) {
            Some("--run-id") => "***".to_string(),
            Some("--set") => mask_set(&a),
            _ => match a.split_once('=') {
                Some(("--run-id", _)) => "--run-id=***".to_string(),
                Some(("--set", kv)) => format!("--set={}", mask_set(kv)),
                _ => a,
            },
        };
        out.push(masked);
    }
    out
}

/// `KEY=***` when KEY names a token, else `KEY=VALUE` as given.
fn mask_set(kv: &str) -> String {
    match kv.split_once('=') {
        Some((key, _)) if key.to_ascii_lowercase().contains("token") => format!("{key}=***"),
        _ => kv.to_string(),
    }
}

/// The holder, in words, from its record.
fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    let Ok(v) = serde_json::from_str::<Value>(&text) else {
        return "a process that has not written its name yet".into();
    };
    let field = |k: &str| match &v[k] {
        Value::String(s) => s.clone(),
        Value::Null => "?".into(),
        other => other.to_string(),
    };
    format!(
        "pid {} on {} since {}, `{}`",
        field("pid"),
        field("host"),
        field("started"),
        field("command")
    )
}

/// This machine's name (`?` when unknown).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // within it (or we stop at its end).
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "?".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_first_and_a_dropped_one_is_free() {
        let dir = std::env::temp_dir().join(format!("ferrospeed-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = acquire(&dir).unwrap();
        let e = acquire(&dir).err().expect("a second lock is refused").0;
        let me = format!("pid {} on {}", std::process::id(), hostname());
        assert!(e.contains(&me) && e.contains(" UTC"), "{e}");
        drop(first);
        let again = acquire(&dir);
        assert!(again.is_ok(), "the lock is free once dropped");
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_recorded_command_hides_the_run_secret_and_tokens() {
        let args = [
            "launch",
            "1",
            "c.yaml",
            "--run-id",
            "S1",
            "--run-id=S2",
            "--set",
        ];
        let more = [
            "hub.token=T1",
            "--set=HUB.TOKEN=T2",
            "--set",
            "train.seed=3",
        ];
        let all = args.iter().chain(&more).map(|s| s.to_string());
        assert_eq!(
            masked(all).join(" "),
            "launch 1 c.yaml --run-id *** --run-id=*** --set hub.token=*** \
             --set=HUB.TOKEN=*** --set train.seed=3"
        );
    }
}
