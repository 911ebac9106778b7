//! The trainer's entry point for a config-driven run.

use anyhow::{bail, Context, Result};
use rendezvous::RankEnv;
use runconfig::Config;

/// Reads the resolved configuration `launch` wrote for this run.
pub fn load_config(env: &RankEnv) -> Result<Config> {
    let path = RankEnv::config_path().context("FERROSPEED_CONFIG is not set: start the trainer with `launch N config.yaml`")?;
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let resolved = runconfig::from_str(&text, &path.display().to_string(), env.world_size as u32, &[])?;
    Ok(resolved.config)
}

/// CPU threads for this rank: `train.threads`, else the cores shared evenly
/// among the ranks of this node.
pub fn threads(config: &Config, env: &RankEnv) -> usize {
    config.train.threads.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / env.local_world_size).max(1)
    })
}

/// Trains as the configuration says.
pub fn train(env: &RankEnv) -> Result<()> {
    let config = load_config(env)?;
    tch::set_num_threads(threads(&config, env) as i32);
    let _comm = crate::comm::connect(env, config.comm)?;
    bail!("this build has no training engine yet")
}
