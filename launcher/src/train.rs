//! `launch N CONFIG.yaml`: resolves the config, takes the output folder's
//! lock, spawns and supervises the trainer ranks, and pushes the final model.

use crate::cli::NodeOpts;
use crate::hub::fetch::Mode;
use crate::{finished, group, hub, lock, supervise_group, trainer_binary, Usage};
use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Trains with `nproc` ranks on this node (of `node.nnodes`).
pub(crate) fn train(
    nproc: usize,
    config: &Path,
    sets: &[String],
    node: &NodeOpts,
) -> Result<ExitCode> {
    let world = (nproc * node.nnodes) as u32;
    let run = crate::resolve::run_config(config, nproc, world, sets, Mode::Download)?;
    for note in &run.notes {
        println!("launch: {note}");
    }
    let resolved = run.resolved;
    println!("launch: {}: {}", config.display(), resolved.plan);
    for line in &run.hub {
        println!("launch: {}: {line}", config.display());
    }
    let cfg = &resolved.config;
    let pushes = cfg
        .hub
        .as_ref()
        .filter(|h| h.push == runconfig::PushWhen::OnFinish);
    if let Some(h) = pushes.filter(|_| node.node_rank == 0) {
        hub::preflight(h).map_err(|e| Usage(format!("{e:#}")))?;
    }
    // Held until this function returns: every restart and the push.
    let _lock = (node.node_rank == 0)
        .then(|| lock::acquire(&cfg.output_dir()))
        .transpose()?;
    if finished::complete(cfg, &resolved.plan) {
        return push_final(cfg, node).map(|()| ExitCode::SUCCESS);
    }
    let trainer = trainer_binary()?;
    let yaml = serde_yaml::to_string(cfg)?;
    let mut group = group(
        node,
        nproc,
        trainer,
        vec![],
        cfg.run_name.clone(),
        cfg.launcher.max_restarts,
        Some((yaml, &cfg.output_dir())),
    )?;
    group.grace = Duration::from_secs_f64(cfg.launcher.grace_period_s.max(0.0));
    group.comm_timeout = Duration::from_secs_f64(cfg.comm_timeout_s);
    group.log_format = cfg.logging.format;
    let code = supervise_group(group, node)?;
    if code == ExitCode::SUCCESS {
        push_final(cfg, node)?;
    }
    Ok(code)
}

/// With `hub.push: on_finish`, node 0 pushes `<output_dir>/final` (a no-op
/// on the Hub when it already holds these files).
fn push_final(cfg: &runconfig::Config, node: &NodeOpts) -> Result<()> {
    if let Some(h) = cfg
        .hub
        .as_ref()
        .filter(|h| h.push == runconfig::PushWhen::OnFinish)
    {
        let folder = cfg.output_dir().join("final");
        if node.node_rank == 0 && folder.is_dir() {
            hub::push_after_run(h, &folder)?;
        }
    }
    Ok(())
}
