//! One pipeline job as its own `launch N CONFIG --set ...` process, in its
//! own process group: the single-run path (lock, finished check, restarts,
//! push) runs unchanged, and everything the job used (the rendezvous store,
//! the trainer ranks) is gone once it exits.

use crate::signals;
use anyhow::{Context, Result};
use runconfig::pipeline::Job;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::Duration;

/// How a job's process ended.
pub enum End {
    /// Exit 0.
    Done,
    /// A stop signal reached the pipeline while it ran (forwarded to it).
    Stopped(i32),
    /// Any other ending: the exit code (or 128 + signal).
    Failed(i32),
}

/// `launch` itself, to run a job or an export as a child.
fn launch_exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find the launch binary itself")
}

/// Starts `cmd` in its own process group; it dies with the pipeline.
fn spawn(mut cmd: Command) -> Result<Child> {
    cmd.process_group(0);
    // SAFETY: prctl is async-signal-safe; nothing else runs before exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn().context("cannot start a job")
}

/// Waits for `child`, forwarding every stop signal the pipeline receives.
fn wait(mut child: Child) -> Result<(ExitStatus, Option<i32>)> {
    let (mut seen, _) = signals::received();
    let first = seen;
    loop {
        if let Some(status) = child.try_wait()? {
            let (count, sig) = signals::received();
            return Ok((status, (count > first).then_some(sig)));
        }
        let (count, sig) = signals::received();
        if count > seen {
            seen = count;
            crate::process::kill_group(&child, sig);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn end_of(status: ExitStatus, stop: Option<i32>) -> End {
    use std::os::unix::process::ExitStatusExt;
    match (stop, status.code()) {
        (Some(sig), _) => End::Stopped(sig),
        (None, Some(0)) => End::Done,
        (None, Some(code)) => End::Failed(code),
        (None, None) => End::Failed(128 + status.signal().unwrap_or(0)),
    }
}

/// Runs `job` with `world` processes; rank logs go under `logs`.
pub fn run(job: &Job, world: u32, logs: &Path) -> Result<End> {
    let mut cmd = Command::new(launch_exe()?);
    cmd.arg(world.to_string()).arg(&job.config);
    for s in &job.sets {
        cmd.arg("--set").arg(s);
    }
    cmd.env("FERROSPEED_LOG_DIR", logs);
    let (status, stop) = wait(spawn(cmd)?)?;
    Ok(end_of(status, stop))
}

/// `launch export CHECKPOINT OUT --overwrite`, as a child like a job.
pub fn export(checkpoint: &Path, out: &Path) -> Result<End> {
    let mut cmd = Command::new(launch_exe()?);
    cmd.arg("export")
        .arg(checkpoint)
        .arg(out)
        .arg("--overwrite");
    let (status, stop) = wait(spawn(cmd)?)?;
    Ok(end_of(status, stop))
}

/// The newest `rank-0.log` under `logs` (or the folder itself).
pub fn newest_log(logs: &Path) -> PathBuf {
    let mut found: Vec<PathBuf> = walk(logs)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "rank-0.log"))
        .collect();
    found.sort_by_key(|p| p.metadata().and_then(|m| m.modified()).ok());
    found.pop().unwrap_or_else(|| logs.to_path_buf())
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() {
                walk(&p)
            } else {
                vec![p]
            }
        })
        .collect()
}
