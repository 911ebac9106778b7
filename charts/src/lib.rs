//! PNG charts of a training run, drawn from its `metrics.jsonl`: loss
//! (train and eval), learning rate, gradient norm, throughput and, for DPO,
//! the rewards and their accuracy. Each chart has a title, titled axes, the
//! step on x, the raw points faint and an EMA-smoothed line over them.
//!
//! Used by the trainer (rank 0 redraws `<output_dir>/plots/` at every
//! checkpoint and at the end) and by `launch plot`. Only the file names of
//! [`CHARTS`] are ever written, and an existing file is replaced only when
//! it carries this crate's mark (see [`png_file`]).

mod draw;
mod font;
mod metrics;
pub mod png_file;
mod specs;

pub use metrics::Metrics;
pub use specs::{Chart, CHARTS};

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// What [`draw_run`] did.
#[derive(Debug)]
pub struct Drawn {
    /// The PNG files written.
    pub files: Vec<PathBuf>,
    /// Complete lines of metrics.jsonl that were not JSON records (skipped).
    pub skipped_lines: usize,
}

/// Draws the charts of `<run_dir>/metrics.jsonl` into `out`, titled with
/// `run`; a chart whose metrics the run does not log is not drawn.
pub fn draw_run(run_dir: &Path, out: &Path, run: &str) -> Result<Drawn> {
    let file = run_dir.join("metrics.jsonl");
    let metrics = Metrics::read(&file)?;
    if metrics.is_empty() {
        bail!(
            "{} has no step records yet: nothing to plot",
            file.display()
        );
    }
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the chart folder {}", out.display()))?;
    let mut files = Vec::new();
    for chart in CHARTS {
        let path = out.join(chart.file);
        if draw::chart(&path, chart, &metrics, run)? {
            files.push(path);
        }
    }
    Ok(Drawn {
        files,
        skipped_lines: metrics.skipped_lines,
    })
}

#[cfg(test)]
mod tests;
