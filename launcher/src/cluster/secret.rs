//! The run's shared secret on a multi-node job that names none: node 0
//! writes a fresh one to `<output_dir>/.launch-secret-<job id>` (mode 0600,
//! on the file system the nodes share), the other nodes wait for it. The
//! job id keeps one job's file from being read by the next.

use anyhow::{bail, Context, Result};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
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
    if node_rank == 0 && !file.is_file() {
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
        if let Ok(s) = std::fs::read_to_string(&file) {
            if !s.trim().is_empty() {
                return Ok(s.trim().to_string());
            }
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
