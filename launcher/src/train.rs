//! `launch N CONFIG.yaml`: resolves the config, takes the output folder's
//! lock, spawns and supervises the trainer ranks, and pushes the final model.

use crate::cli::Usage;
use crate::cluster::NodeOpts;
use crate::hub::fetch::Mode;
use crate::supervise::start::{group, supervise_group, trainer_binary};
use crate::{finished, hub, lock, pipeline};
use anyhow::Result;
use runconfig::YamlFile;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// `launch N FILE`: reads FILE once, then runs it as a pipeline (it has
/// `stages:`) or trains it as a run config.
pub fn command(
    nproc: usize,
    config: &Path,
    sets: &[String],
    rerun: &[String],
    node: &NodeOpts,
) -> Result<ExitCode> {
    let file = YamlFile::read(config);
    if file.is_pipeline() {
        return pipeline::run(nproc, &file, sets, rerun);
    }
    if let Some(stage) = rerun.first() {
        return Err(Usage(format!("--rerun {stage}: {} is a run config, not a pipeline; to train it again from the start use --set checkpoint.resume=never", config.display())).into());
    }
    train(nproc, &file, sets, node)
}

/// Trains with `nproc` ranks on this node (of `node.nnodes`).
fn train(nproc: usize, file: &YamlFile, sets: &[String], node: &NodeOpts) -> Result<ExitCode> {
    let config = file.path();
    let world = (nproc * node.nnodes) as u32;
    let run = crate::resolve::run_config(file, nproc, world, sets, Mode::Download)?;
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
