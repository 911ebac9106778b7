//! `launch export CHECKPOINT OUT_DIR`: finds the checkpoint (a step folder,
//! or the newest one of a run's output_dir or `checkpoints/` folder), refuses
//! an OUT_DIR it may not write, then has the trainer (which reads the shards
//! with libtorch; `launch` stays free of it) write the export.

use crate::Usage;
use anyhow::Result;
use runconfig::export::{check_out, ExportArgs};
use runconfig::resume::{complete_checkpoints, COMPLETE};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The checkpoint folder that `path` names.
pub fn resolve_checkpoint(path: &Path) -> Result<PathBuf, String> {
    if path.join(COMPLETE).is_file() {
        return Ok(path.to_path_buf());
    }
    let root = [path.to_path_buf(), path.join("checkpoints")]
        .into_iter()
        .find(|r| r.join("latest").is_file() || !complete_checkpoints(r).is_empty())
        .ok_or_else(|| {
            format!(
                "{} is not a complete checkpoint (no {COMPLETE} file), nor a run's output_dir or checkpoints/ folder that holds one",
                path.display()
            )
        })?;
    let latest = root.join("latest");
    match std::fs::read_to_string(&latest) {
        Ok(name) => {
            let dir = root.join(name.trim());
            if dir.join(COMPLETE).is_file() {
                Ok(dir)
            } else {
                Err(format!(
                    "{} names {}, which is not a complete checkpoint (no {COMPLETE} file); give a step folder instead",
                    latest.display(),
                    dir.display()
                ))
            }
        }
        Err(_) => Ok(complete_checkpoints(&root).remove(0).1),
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
    let status = std::process::Command::new(crate::trainer_binary()?)
        .arg("export")
        .args(request.to_args())
        .status()?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(2) => ExitCode::from(2),
        _ => ExitCode::FAILURE,
    })
}
