//! `launch export CHECKPOINT OUT_DIR`: finds the checkpoint (a step folder,
//! or the newest one of a run's output_dir or `checkpoints/` folder), refuses
//! an OUT_DIR it may not write, then has the trainer (which reads the shards
//! with libtorch; `launch` stays free of it) write the export.

use crate::cli::Usage;
use anyhow::Result;
use runconfig::contracts::checkpoint::{complete_checkpoints, latest, COMPLETE};
use runconfig::contracts::export::{check_out, ExportArgs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The checkpoint folder that `path` names. A run's `latest` is followed
/// only to a complete `step-N` folder of its own `checkpoints/`; any other
/// `latest` is ignored with a warning for the newest complete checkpoint.
pub fn resolve_checkpoint(path: &Path) -> Result<PathBuf, String> {
    if path.join(COMPLETE).is_file() {
        return Ok(path.to_path_buf());
    }
    let has_latest = |r: &Path| r.join("latest").symlink_metadata().is_ok();
    let root = [path.to_path_buf(), path.join("checkpoints")]
        .into_iter()
        .find(|r| has_latest(r) || !complete_checkpoints(r).is_empty())
        .ok_or_else(|| {
            format!(
                "{} is not a complete checkpoint (no {COMPLETE} file), nor a run's output_dir or checkpoints/ folder that holds one",
                path.display()
            )
        })?;
    let newest = complete_checkpoints(&root).into_iter().next().map(|c| c.1);
    match latest(&root) {
        Ok(Some(dir)) => Ok(dir),
        Ok(None) => {
            newest.ok_or_else(|| format!("{} holds no complete checkpoint", root.display()))
        }
        Err(why) => {
            let newest = newest.ok_or_else(|| {
                format!(
                    "{why}; and {} holds no complete step-N folder",
                    root.display()
                )
            })?;
            eprintln!(
                "launch: warning: {why}; ignored, using the newest complete checkpoint {}",
                newest.display()
            );
            Ok(newest)
        }
    }
}

/// Runs `launch export`: exit 2 for a refused OUT_DIR or checkpoint.
pub fn run(args: &ExportArgs) -> Result<ExitCode> {
    let checkpoint = resolve_checkpoint(&args.checkpoint).map_err(Usage)?;
    check_out(&args.out, args.overwrite).map_err(|e| Usage(e.0))?;
    if checkpoint != args.checkpoint {
        println!("launch: exporting {}", checkpoint.display());
    }
    let request = ExportArgs {
        checkpoint,
        ..args.clone()
    };
    let mut worker = std::process::Command::new(crate::supervise::start::trainer_binary()?);
    worker.arg("export").args(request.to_args());
    // A killed `launch export` leaves no worker behind.
    crate::process::die_with_launch(&mut worker);
    let status = worker.status()?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(2) => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    })
}
