//! Pushing a folder to the Hugging Face Hub.

use anyhow::{bail, Result};
use runconfig::HubConfig;
use std::path::Path;

/// `launch push DIR --repo NS/NAME [...]`.
pub fn push_command(args: &[String]) -> Result<()> {
    let _ = args;
    bail!("`launch push` is not available in this build")
}

/// Pushes `<output_dir>/final` after a successful run, as `hub:` asks.
pub fn push_after_run(hub: &HubConfig, folder: &Path) -> Result<()> {
    let _ = (hub, folder);
    bail!("pushing to the Hub is not available in this build")
}
