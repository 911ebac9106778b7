//! `launch status OUTPUT_DIR`: the ledger as a table.

use super::ledger::{now, Ledger, Status, LEDGER};
use anyhow::{bail, Result};
use std::path::Path;
use std::process::ExitCode;

/// Prints stage, job, status, attempts, duration and final path per job.
pub fn run(dir: &Path) -> Result<ExitCode> {
    if !dir.join(LEDGER).is_file() {
        bail!(
            "{} holds no {LEDGER}: give the output_dir of a pipeline that has run",
            dir.display()
        );
    }
    let mut ledger = Ledger::open(dir)?;
    if !held(dir) {
        // No `launch` holds the pipeline: a row still "running" lost its
        // process (killed, or the machine went down).
        for r in ledger
            .rows
            .iter_mut()
            .filter(|r| r.status == Status::Running)
        {
            r.status = Status::Interrupted;
        }
    }
    let rows: Vec<[String; 6]> = ledger
        .rows
        .iter()
        .map(|r| {
            let end = r
                .finished
                .filter(|_| r.status != Status::Running)
                .unwrap_or_else(now);
            let secs = r.started.map(|s| end.saturating_sub(s));
            [
                r.stage.clone(),
                r.job.clone(),
                format!("{:?}", r.status).to_lowercase(),
                r.attempts.to_string(),
                secs.map_or("-".into(), |s| format!("{}m{:02}s", s / 60, s % 60)),
                r.final_dir
                    .as_ref()
                    .map_or("-".into(), |p| p.display().to_string()),
            ]
        })
        .collect();
    let head = ["STAGE", "JOB", "STATUS", "ATTEMPTS", "DURATION", "FINAL"].map(String::from);
    let mut width = [0usize; 6];
    for r in std::iter::once(&head).chain(&rows) {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    for r in std::iter::once(&head).chain(&rows) {
        let cells: Vec<String> = r
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
    println!("{}", next(&ledger));
    Ok(ExitCode::SUCCESS)
}

/// What the same command would run next: the first job not completed.
fn next(ledger: &Ledger) -> String {
    match ledger.rows.iter().find(|r| r.status != Status::Completed) {
        None => "next: nothing; every job completed".into(),
        Some(r) if r.status == Status::Running => format!("next: {} is running", label(r)),
        Some(r) if r.attempts > 0 => format!(
            "next: running the same command again resumes {} from its newest checkpoint",
            label(r)
        ),
        Some(r) => format!("next: running the same command again starts {}", label(r)),
    }
}

fn label(r: &super::ledger::Row) -> String {
    match r.job.as_str() {
        "main" => format!("stage {}", r.stage),
        job => format!("stage {} ({job})", r.stage),
    }
}

/// Whether a `launch` holds `<dir>/.lock` now: a shared, non-blocking
/// `flock` probe on the file opened read-only (nothing is written to it).
fn held(dir: &Path) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::io::AsRawFd;
    let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join(".lock"))
    else {
        return false;
    };
    // SAFETY: flock on a descriptor this function owns.
    let free = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0;
    !free
}
