//! The Ferrospeed run configuration, shared by `launch` and `trainer`.
//!
//! [`load`] reads a YAML file, reports mistakes with file, line and key,
//! applies the `by_world_size` overrides and `--set key=value` pairs,
//! resolves relative paths (those in a file against its folder), checks the values and the files
//! they name, and derives the batch [`Plan`] for a world size. It is the one
//! place a config is validated: what it accepts, the trainer accepts.

pub mod adapter;
pub mod contracts;
mod data;
mod data_source;
mod data_stamp;
mod defaults;
mod dpo;
mod error;
mod familiar;
mod files;
mod hints;
mod hub;
mod lora;
pub mod memory;
pub mod model;
mod optimizer;
mod overrides;
mod paths;
pub mod pipeline;
mod plan;
pub mod repo_id;
mod rules;
pub mod safe_fs;
mod schedule;
mod schema;
mod sections;
mod template;
mod train;
pub mod usage;
mod values;
mod yaml_file;

pub use error::ConfigError;
pub use plan::Plan;
pub use schema::*;
pub use yaml_file::YamlFile;

use yaml_file::YamlTree;

use std::path::{Path, PathBuf};

/// Every dotted key of the schema, sections included (a list's items as
/// `data.datasets[].path`): what docs/config.md must document.
pub fn schema_keys() -> Vec<String> {
    hints::known_keys()
}

/// Checks that `name` (a run's name, which names folders such as
/// `logs/<run_name>/` and `output/<run_name>/`) is a plain name: not
/// empty, `.` or `..`, and without '/' or control characters, so that it
/// never leads out of the folder it is joined to.
pub fn plain_name(name: &str) -> Result<(), String> {
    let plain = !name.trim().is_empty()
        && name != "."
        && name != ".."
        && !name.contains('/')
        && !name.chars().any(char::is_control);
    match plain {
        true => Ok(()),
        false => Err(format!(
            "must be a plain name (not empty, `.` or `..`, without '/' or control characters), got {name:?}"
        )),
    }
}

/// A configuration resolved for one world size.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The configuration after overrides.
    pub config: Config,
    /// Batch sizes and accumulation for this world size.
    pub plan: Plan,
    /// The `lora.*` keys the file and its overrides set: a run from an
    /// adapter takes the others from it (see [`adapter`]).
    pub lora_keys: Vec<String>,
}

/// Reads `path`, applies `by_world_size[world_size]` then each `key=value` of
/// `sets`, makes every path absolute (relative ones in the file against its
/// folder, those of `sets` and the run's outputs against the current
/// directory), validates, checks the files the config names ([`check_run`])
/// and plans. Every error names the file and the key (and the line, where
/// the file holds it).
pub fn load(path: &Path, world_size: u32, sets: &[String]) -> Result<Resolved, ConfigError> {
    load_file(&YamlFile::read(path), world_size, sets)
}

/// [`load`] on a file already read (and parsed).
pub fn load_file(
    file: &YamlFile,
    world_size: u32,
    sets: &[String],
) -> Result<Resolved, ConfigError> {
    let resolved = load_unchecked_file(file, world_size, sets)?;
    check_run(&resolved.config, &file.path().display().to_string())?;
    Ok(resolved)
}

/// [`load`] without [`check_run`]: for a pipeline stage whose model an
/// earlier stage has yet to write.
pub fn load_unchecked(
    path: &Path,
    world_size: u32,
    sets: &[String],
) -> Result<Resolved, ConfigError> {
    load_unchecked_file(&YamlFile::read(path), world_size, sets)
}

/// [`load_unchecked`] on a file already read (and parsed).
fn load_unchecked_file(
    file: &YamlFile,
    world_size: u32,
    sets: &[String],
) -> Result<Resolved, ConfigError> {
    let path = file.path();
    let origin = path.display().to_string();
    let (text, tree) = file
        .contents()
        .map_err(|e| ConfigError::new(format!("cannot read config file {origin}: {e}")))?;
    let (folder, cwd) = paths::bases(path)
        .map_err(|e| ConfigError::new(format!("{origin}: the current directory: {e}")))?;
    parse(text, tree, &origin, Some((&folder, &cwd)), world_size, sets)
}

/// Like [`load`] without the file's folder: on text already read (`origin`
/// names it in messages), relative paths left as they are, and without
/// [`check_run`]. For a config [`load`] resolved before (the trainer's, a
/// checkpoint's), and for tests.
pub fn from_str(
    text: &str,
    origin: &str,
    world_size: u32,
    sets: &[String],
) -> Result<Resolved, ConfigError> {
    let tree: Result<serde_yaml::Value, _> = serde_yaml::from_str(text);
    parse(text, tree.as_ref(), origin, None, world_size, sets)
}

/// What a run needs beyond well-formed values: a model (`model.path` or
/// `model.config`), datasets, a length (`train.max_steps` or `train.epochs`)
/// and every file the config names (model folder and its config.json,
/// tokenizer, datasets, chat template, the checkpoint to resume from).
pub fn check_run(config: &Config, origin: &str) -> Result<(), ConfigError> {
    files::check(config).map_err(|m| ConfigError::new(format!("{origin}: {m}")))
}

/// Parses, applies the overrides, resolves paths when `bases` (the config
/// file's folder, the current directory) are given, validates and plans.
fn parse(
    text: &str,
    tree: YamlTree<'_>,
    origin: &str,
    bases: Option<(&Path, &Path)>,
    world_size: u32,
    sets: &[String],
) -> Result<Resolved, ConfigError> {
    if world_size == 0 {
        return Err(ConfigError::new(
            "the number of processes must be at least 1 (got 0)".to_string(),
        ));
    }
    // First pass on the file as written: errors carry line numbers.
    let yaml = |e: &serde_yaml::Error| error::from_yaml(e, text, origin);
    let tree = tree.map_err(yaml)?;
    let raw: Config = yaml_file::typed(tree, text).map_err(|e| yaml(&e))?;
    let mut config =
        overrides::by_world_size(tree.clone(), &raw.by_world_size, world_size, origin)?;
    if let Some((folder, _)) = bases {
        paths::inputs(&mut config, folder);
    }
    let mut config = overrides::sets(&config, sets)?;
    if let Some((_, cwd)) = bases {
        paths::inputs(&mut config, cwd);
        paths::outputs(&mut config, cwd);
    }
    let at = |m: String| ConfigError::new(format!("{origin}: {m}"));
    let plan = Plan::new(&config, world_size).map_err(at)?;
    let toggles = raw.by_world_size.get(&world_size);
    let lora_keys = overrides::written(tree, toggles, sets, "lora");
    let mut resolved = Resolved {
        config,
        plan,
        lora_keys,
    };
    resolved.settle_adapter().map_err(at)?;
    plan::validate(&resolved.config)
        .and_then(|()| resolved.config.validate())
        .map_err(at)?;
    Ok(resolved)
}

impl Config {
    /// `checkpoint.output_dir`, or `output/<run_name>`.
    pub fn output_dir(&self) -> PathBuf {
        self.checkpoint
            .output_dir
            .clone()
            .unwrap_or_else(|| Path::new("output").join(&self.run_name))
    }
}
