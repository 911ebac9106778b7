//! The run's shared secret on a multi-node job that names none: node 0
//! writes a fresh one to `<output_dir>/.launch-secret-<job id>` (mode 0600,
//! on the file system the nodes share), the other nodes wait for it. The
//! job id keeps one job's file from being read by the next. A file there
//! that is a link, not this user's, or readable by others is refused: its
//! secret may be known to, or chosen by, someone else.

use crate::cli::Usage;
use anyhow::{bail, Context, Result};
use runconfig::safe_fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The secret file of job `job` in `dir`.
pub fn path(dir: &Path, job: &str) -> PathBuf {
    dir.join(format!(".launch-secret-{job}"))
}

/// Node 0: the job's secret (made once; a restarted node 0 of the same
/// job reads the one it made). Others: the secret node 0 wrote, waited for
/// up to `wait`.
pub fn shared(dir: &Path, job: &str, node_rank: usize, wait: Duration) -> Result<String> {
    let file = path(dir, job);
    if node_rank == 0 && private_secret(&file)?.is_none() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = dir.join(format!(".launch-secret-{job}.tmp-{}", std::process::id()));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(rendezvous::new_secret().as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &file).with_context(|| format!("writing {}", file.display()))?;
    }
    let start = Instant::now();
    loop {
        if let Some(secret) = private_secret(&file)? {
            return Ok(secret);
        }
        if start.elapsed() > wait {
            bail!(
                "node 0 wrote no run secret to {} within {} s: every node needs the same \
                 checkpoint.output_dir on a shared file system, or set FERROSPEED_RUN_ID to the \
                 same secret on every node",
                file.display(),
                wait.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The secret in `file`, None while there is none; an error when the file
/// is a link, not a regular file of this user, or open to others.
fn private_secret(file: &Path) -> Result<Option<String>> {
    let shown = file.display();
    let mut f = match safe_fs::open_nofollow(file, std::fs::OpenOptions::new().read(true)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Usage(format!("cannot read the run secret {shown}: {e}")).into()),
        Ok(f) => f,
    };
    let meta = f.metadata()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.is_file() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(Usage(format!(
            "the run secret {shown} is not a private file of this user (owner uid {}, mode {:o}): \
             a secret others can read or choose is refused; remove it, or set FERROSPEED_RUN_ID",
            meta.uid(),
            meta.mode() & 0o777
        ))
        .into());
    }
    let mut text = String::new();
    f.read_to_string(&mut text)
        .with_context(|| format!("cannot read the run secret {shown}"))?;
    Ok(Some(text.trim().to_string()).filter(|s| !s.is_empty()))
}
