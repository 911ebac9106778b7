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
    let ledger = Ledger::open(dir)?;
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
    Ok(ExitCode::SUCCESS)
}
