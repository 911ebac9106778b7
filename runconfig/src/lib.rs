//! The Ferrospeed run configuration, shared by `launch` and `trainer`.
//!
//! [`load`] reads a YAML file, reports mistakes with file, line and key,
//! applies the `by_world_size` overrides and `--set key=value` pairs, and
//! derives the batch [`Plan`] for a world size.

mod checks;
mod data;
mod error;
pub mod export;
pub mod finished;
mod overrides;
mod plan;
pub mod repo_id;
pub mod resume;
mod schema;

pub use error::ConfigError;
pub use plan::Plan;
pub use schema::*;

use std::path::Path;

/// A configuration resolved for one world size.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The configuration after overrides.
    pub config: Config,
    /// Batch sizes and accumulation for this world size.
    pub plan: Plan,
}

/// Reads `path`, applies `by_world_size[world_size]` then each `key=value` of
/// `sets`, validates and plans. Every error names the file, line and key.
pub fn load(path: &Path, world_size: u32, sets: &[String]) -> Result<Resolved, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(format!("cannot read config file {}: {e}", path.display()))
    })?;
    from_str(&text, &path.display().to_string(), world_size, sets)
}

/// Like [`load`], on text already read; `origin` names it in messages.
pub fn from_str(
    text: &str,
    origin: &str,
    world_size: u32,
    sets: &[String],
) -> Result<Resolved, ConfigError> {
    if world_size == 0 {
        return Err(ConfigError::new(
            "the number of processes must be at least 1 (got 0)".to_string(),
        ));
    }
    // First pass on the file as written: errors carry line numbers.
    let raw: Config = serde_yaml::from_str(text).map_err(|e| error::from_yaml(&e, origin))?;
    let value: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| error::from_yaml(&e, origin))?;
    let config = overrides::apply(value, &raw.by_world_size, world_size, sets, origin)?;
    let plan =
        Plan::new(&config, world_size).map_err(|m| ConfigError::new(format!("{origin}: {m}")))?;
    plan::validate(&config)
        .and_then(|()| checks::validate(&config))
        .map_err(|m| ConfigError::new(format!("{origin}: {m}")))?;
    Ok(Resolved { config, plan })
}

impl Config {
    /// `checkpoint.output_dir`, or `output/<run_name>`.
    pub fn output_dir(&self) -> std::path::PathBuf {
        self.checkpoint
            .output_dir
            .clone()
            .unwrap_or_else(|| Path::new("output").join(&self.run_name))
    }
}
