//! `launch plot OUTPUT_DIR [--out DIR]`: the charts of a run from its
//! metrics.jsonl (finished or still running), or of every job of a
//! pipeline (a folder with pipeline.jsonl), one folder per stage. Only the
//! chart files are written, into `<OUTPUT_DIR>/plots` or `--out`.

use crate::pipeline::ledger::{Ledger, Row, LEDGER};
use anyhow::{bail, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Draws the charts of `dir` into `out` (default `<dir>/plots`).
pub fn run(dir: &Path, out: Option<&Path>) -> Result<ExitCode> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{} does not exist (give a run's or a pipeline's output_dir)",
            dir.display()
        ),
        Err(e) => bail!("cannot read {}: {e}", dir.display()),
        Ok(m) if !m.is_dir() => bail!(
            "{} is not a folder (give a run's or a pipeline's output_dir)",
            dir.display()
        ),
        Ok(_) => {}
    }
    let out = out.map_or_else(|| dir.join("plots"), Path::to_path_buf);
    if dir.join(LEDGER).is_file() {
        pipeline(dir, &out)?;
    } else {
        let drawn = charts::draw_run(dir, &out, &name_of(dir))?;
        say(None, &out, &drawn);
    }
    Ok(ExitCode::SUCCESS)
}

/// One folder of charts per job of the pipeline at `dir`; a job without
/// metrics yet is named and passed over.
fn pipeline(dir: &Path, out: &Path) -> Result<()> {
    let ledger = Ledger::open(dir)?;
    let mut drawn_any = false;
    for row in &ledger.rows {
        let label = label(row);
        let title = format!("{}/{label}", name_of(dir));
        let folder = out.join(&label);
        match charts::draw_run(&run_dir(dir, row), &folder, &title) {
            Ok(drawn) => {
                say(Some(&label), &folder, &drawn);
                drawn_any = true;
            }
            Err(e) => println!("launch plot: {label}: {e:#}; no charts for it"),
        }
    }
    if !drawn_any {
        bail!(
            "no job of the pipeline in {} has metrics yet: nothing to plot",
            dir.display()
        );
    }
    Ok(())
}

/// `stage`, or `stage/job` for a job of a fan-out.
fn label(row: &Row) -> String {
    match row.job.as_str() {
        "main" => row.stage.clone(),
        job => format!("{}/{job}", row.stage),
    }
}

/// Where a job wrote: the ledger's path, or the same place under `dir`
/// when the pipeline's folder was moved since.
fn run_dir(dir: &Path, row: &Row) -> PathBuf {
    if row.output_dir.join("metrics.jsonl").is_file() {
        return row.output_dir.clone();
    }
    dir.join(label(row))
}

/// The last component of `dir`, for chart titles.
fn name_of(dir: &Path) -> String {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    abs.file_name()
        .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned())
}

fn say(label: Option<&str>, out: &Path, drawn: &charts::Drawn) {
    let names: Vec<String> = drawn
        .files
        .iter()
        .filter_map(|f| Some(f.file_name()?.to_string_lossy().into_owned()))
        .collect();
    let who = label.map_or_else(String::new, |l| format!("{l}: "));
    println!(
        "launch plot: {who}{} chart(s) in {}: {}",
        names.len(),
        out.display(),
        names.join(", ")
    );
    if drawn.skipped_lines > 0 {
        println!(
            "launch plot: {who}skipped {} line(s) of metrics.jsonl that are not JSON records",
            drawn.skipped_lines
        );
    }
}
