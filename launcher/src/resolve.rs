//! The configuration a run really uses: the YAML loaded at its world size,
//! `comm` fitted to the visible GPUs, and every Hub id replaced by its
//! snapshot in the cache. One function for the run itself, the check that
//! it completed and the check that a re-run means the same run, so that
//! the `finished` marker and what it is compared with never disagree.

use crate::cli::Usage;
use crate::hub::fetch::{self, Mode};
use anyhow::Result;
use runconfig::{CommKind, Resolved, YamlFile};

/// A resolved run config and what resolving it found, to print.
pub struct RunConfig {
    /// The config and plan the ranks get.
    pub resolved: Resolved,
    /// Lines about the choices made (ranks sharing GPUs).
    pub notes: Vec<String>,
    /// One line per Hub id: its commit and what is (or would be) downloaded.
    pub hub: Vec<String>,
}

/// Loads `file` for `nproc` ranks on this node (`world` in all) with
/// `sets`, then resolves its Hub ids (`Mode::Download` fetches what is
/// missing; `Mode::Plan` only names the snapshots) and checks the files.
pub fn run_config(
    file: &YamlFile,
    nproc: usize,
    world: u32,
    sets: &[String],
    mode: Mode,
) -> Result<RunConfig> {
    let config = file.path();
    let mut resolved = runconfig::load_file(file, world, sets)?;
    let mut notes = Vec::new();
    let gpus = visible_gpus();
    if resolved.config.comm == CommKind::Auto && gpus > 0 && nproc > gpus {
        notes.push(format!("{nproc} ranks on {gpus} visible GPU(s): ranks share GPUs and use comm cpu (tensors staged through host memory)"));
        resolved.config.comm = CommKind::Cpu;
    }
    let hub =
        hub_ids(&mut resolved, mode).map_err(|e| Usage(format!("{}: {e:#}", config.display())))?;
    if !hub.is_empty() {
        // The snapshots now stand where the ids were: check them as folders.
        runconfig::check_run(&resolved.config, &config.display().to_string())?;
    }
    Ok(RunConfig {
        resolved,
        notes,
        hub,
    })
}

/// Resolves the Hub ids of `r` (see [`fetch::resolve`]), then settles its
/// `lora:` against an adapter that came from the Hub, as the config's own
/// loading does for a local one.
pub fn hub_ids(r: &mut Resolved, mode: Mode) -> Result<Vec<String>> {
    let lines = fetch::resolve(&mut r.config, mode)?;
    r.settle_adapter().map_err(anyhow::Error::msg)?;
    Ok(lines)
}

/// Gives `to` (the same config at another world size) the snapshots found
/// for `from` ([`fetch::adopt`]) and settles its `lora:` as [`hub_ids`] does.
pub fn adopt(from: &runconfig::Config, to: &mut Resolved) -> Result<()> {
    fetch::adopt(from, &mut to.config);
    to.settle_adapter().map_err(anyhow::Error::msg)
}

/// GPUs this process may use: the NVIDIA driver's list, narrowed by
/// CUDA_VISIBLE_DEVICES (read without loading CUDA).
pub fn visible_gpus() -> usize {
    let present = std::fs::read_dir("/proc/driver/nvidia/gpus").map_or(0, |d| d.count());
    match std::env::var("CUDA_VISIBLE_DEVICES") {
        Ok(v) if v.trim().is_empty() => 0,
        Ok(v) => v.split(',').count().min(present),
        Err(_) => present,
    }
}

/// The memory of the smallest visible GPU, as the driver's `nvidia-smi`
/// reports it (no CUDA loaded); `None` without GPUs or without the tool.
pub fn device_memory() -> Option<u64> {
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=memory.total", "--format=csv,noheader,nounits"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .min()
        .map(|mib| mib << 20)
}
