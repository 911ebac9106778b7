//! The end of a run and what it leaves: `final/`, which must be an earlier
//! export (or absent) to be replaced, checked before training starts; the
//! export itself; and the `finished` marker that tells `launch` the run is
//! complete. Sanity runs write neither.

use crate::export::{write_final, ModelFiles, Summary};
use crate::zero::Engine;
use anyhow::{Context, Result};
use runconfig::contracts::export::replaceable;
use runconfig::contracts::finished;
use runconfig::{Config, Plan};
use std::path::PathBuf;

/// What a user can do about a `final/` folder the tool did not write.
const FINAL_HINT: &str = "move it away, or set checkpoint.output_dir to another folder";

fn final_dir(config: &Config) -> PathBuf {
    config.output_dir().join("final")
}

/// Refuses to start a run whose `final/` could not be replaced at the end.
pub fn check_final(config: &Config) -> Result<()> {
    if config.train.sanity_steps.is_none() {
        replaceable(&final_dir(config), FINAL_HINT)?;
    }
    Ok(())
}

/// A run that trains is not finished (until it is): rank 0 removes the marker.
pub fn clear(config: &Config, rank: usize) -> Result<()> {
    if rank == 0 && config.train.sanity_steps.is_none() {
        let dir = config.output_dir();
        finished::clear(&dir)
            .with_context(|| format!("cannot remove {}", dir.join(finished::FINISHED).display()))?;
    }
    Ok(())
}

/// Exports the final weights; then rank 0 records that the run finished.
pub fn export(engine: &mut Engine, config: &Config, plan: &Plan, summary: &Summary) -> Result<()> {
    let files = ModelFiles::of(config)?;
    write_final(
        engine,
        config,
        &files,
        &final_dir(config),
        summary,
        FINAL_HINT,
    )?;
    if engine.rank() == 0 {
        let path = finished::write(config, plan, engine.steps_done()).with_context(|| {
            format!(
                "cannot write {}",
                config.output_dir().join(finished::FINISHED).display()
            )
        })?;
        println!("run finished: {}", path.display());
    }
    Ok(())
}
