//! Pipeline files: a top-level `stages:` list of run configs that `launch`
//! runs one after the other, each stage as fresh processes. This module
//! reads and checks the file and turns each stage into its jobs (one, or one
//! per checkpoint of the stage it starts from with `each_checkpoint`). A
//! stage starts from an earlier stage's model, or, when that stage trained
//! LoRA adapters without merging them, from its adapters on its base model
//! ([`Start`]).

use crate::yaml_file::{typed, YamlFile};
use crate::ConfigError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A pipeline file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// The pipeline's name (messages, the status table).
    pub pipeline: String,
    /// Holds `pipeline.jsonl` and, by default, one folder per stage.
    pub output_dir: PathBuf,
    /// The stages, run in this order.
    pub stages: Vec<Stage>,
}

/// One stage: a run config and how it links to the stages before it.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Unique name; the stage's output_dir is `<output_dir>/<name>`.
    pub name: String,
    /// The run config (relative to the pipeline file's folder).
    pub config: PathBuf,
    /// An earlier stage whose `final/` (or checkpoints) is this stage's model.
    #[serde(default)]
    pub from: Option<String>,
    /// Config keys to override, as with `--set KEY=VALUE`; the model's
    /// paths among them are relative to the pipeline file's folder.
    #[serde(default)]
    pub set: BTreeMap<String, serde_yaml::Value>,
    /// Processes for this stage (otherwise N from the command line).
    #[serde(default)]
    pub world_size: Option<u32>,
    /// One job per checkpoint of the `from` stage: `true` (all) or a list of steps.
    #[serde(default)]
    pub each_checkpoint: Option<EachCheckpoint>,
}

/// `each_checkpoint: true | false | [steps]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum EachCheckpoint {
    /// `true`: every complete checkpoint; `false`: the `final/` only.
    All(bool),
    /// These optimizer steps.
    Steps(Vec<u64>),
}

/// Whether the YAML file at `path` is a pipeline (it has a top-level `stages:`).
pub fn is_pipeline(path: &Path) -> bool {
    YamlFile::read(path).is_pipeline()
}

/// Reads and checks a pipeline file: stage configs and the model paths of
/// their `set:` become absolute (against the file's folder), `output_dir`
/// against the current directory.
pub fn load(path: &Path) -> Result<Pipeline, ConfigError> {
    load_file(&YamlFile::read(path))
}

/// [`load`] on a file already read (and parsed).
pub fn load_file(file: &YamlFile) -> Result<Pipeline, ConfigError> {
    let path = file.path();
    let origin = path.display().to_string();
    let (text, tree) = file
        .contents()
        .map_err(|e| ConfigError::new(format!("cannot read pipeline file {origin}: {e}")))?;
    let yaml = |e: &serde_yaml::Error| crate::error::from_yaml(e, text, &origin);
    let mut p: Pipeline = typed(tree.map_err(yaml)?, text).map_err(|e| yaml(&e))?;
    let (folder, cwd) = crate::paths::bases(path)
        .map_err(|e| ConfigError::new(format!("{origin}: the current directory: {e}")))?;
    p.output_dir = cwd.join(&p.output_dir);
    for s in &mut p.stages {
        s.config = folder.join(&s.config);
        crate::paths::stage_inputs(&mut s.set, &folder);
    }
    validate(&p).map_err(|m| ConfigError::new(format!("{origin}: {m}")))?;
    Ok(p)
}

/// The rules a pipeline's stages follow.
fn validate(p: &Pipeline) -> Result<(), String> {
    if p.stages.is_empty() {
        return Err("`stages` is empty: list at least one stage".into());
    }
    for (i, s) in p.stages.iter().enumerate() {
        let key = format!("stages[{i}] ({})", s.name);
        let earlier: Vec<&str> = p.stages[..i].iter().map(|e| e.name.as_str()).collect();
        if s.name.is_empty() || s.name.contains(['/', '\\']) || s.name.starts_with('.') {
            return Err(format!("{key}.name must be a plain folder name"));
        }
        if earlier.contains(&s.name.as_str()) {
            return Err(format!(
                "{key}.name: another stage is already named {:?}; stage names are unique",
                s.name
            ));
        }
        if s.world_size == Some(0) {
            return Err(format!("{key}.world_size must be at least 1"));
        }
        if let Some(from) = &s.from {
            let Some(j) = earlier.iter().position(|e| e == from) else {
                return Err(format!(
                    "{key}.from: {from:?} is not an earlier stage (earlier: {})",
                    earlier.join(", ")
                ));
            };
            if fans_out(&p.stages[j]) {
                return Err(format!("{key}.from: stage {from:?} has each_checkpoint, so it has no single final/ to start from"));
            }
        } else if fans_out(s) {
            return Err(format!(
                "{key}.each_checkpoint needs `from:` (the stage whose checkpoints to use)"
            ));
        }
    }
    Ok(())
}

/// Whether a stage runs one job per checkpoint.
pub fn fans_out(stage: &Stage) -> bool {
    !matches!(
        stage.each_checkpoint,
        None | Some(EachCheckpoint::All(false))
    )
}

/// One run of a stage's config.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The stage's name.
    pub stage: String,
    /// `main`, or the checkpoint's folder name (`step-000010`).
    pub job: String,
    /// The stage's run config.
    pub config: PathBuf,
    /// `KEY=VALUE` overrides: the links, the output_dir, then the stage's `set`.
    pub sets: Vec<String>,
    /// Where the job writes (`checkpoint.output_dir`).
    pub output_dir: PathBuf,
    /// For a fanned-out job: the checkpoint to export as its model first.
    pub base_checkpoint: Option<PathBuf>,
    /// The folder of the earlier stage it starts from: its `final/`, or
    /// the export of `base_checkpoint` (a model, or an adapter).
    pub model: Option<PathBuf>,
}

/// What a stage `from:` an earlier one starts from.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// The earlier stage's `final/` is a model: its `model.path`.
    Model,
    /// The earlier stage trained LoRA adapters (not merged): its `final/`
    /// is their `model.adapter`, on its base model (these `model.path`,
    /// `model.config` and `model.revision`).
    Adapter(Box<crate::ModelConfig>),
}

impl Start {
    /// What a stage that ran (or will run) as `config` leaves to a stage
    /// `from:` it.
    pub fn of(config: &crate::Config) -> Start {
        match config.lora.is_some() && !config.export.merge {
            true => Start::Adapter(Box::new(config.model.clone())),
            false => Start::Model,
        }
    }

    /// The `KEY=VALUE` links to the folder `m` of the earlier stage.
    fn links(&self, m: &Path) -> Vec<String> {
        let text = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or("null".into(), |p| p.display().to_string())
        };
        match self {
            Start::Model => vec![
                "model.config=null".to_string(),
                format!("model.path={}", m.display()),
            ],
            Start::Adapter(base) => vec![
                format!("model.config={}", text(&base.config)),
                format!("model.path={}", text(&base.path)),
                format!(
                    "model.revision={}",
                    base.revision.as_deref().unwrap_or("null")
                ),
                format!("model.adapter={}", m.display()),
                "model.adapter_revision=null".to_string(),
            ],
        }
    }
}

impl Pipeline {
    /// `<output_dir>/<stage>`.
    pub fn stage_dir(&self, stage: &str) -> PathBuf {
        self.output_dir.join(stage)
    }

    /// The jobs of stage `index`; `checkpoints` lists the complete ones of
    /// its `from` stage (step, folder), used when it fans out; `start` says
    /// what that stage leaves (ignored for a stage without `from`).
    pub fn jobs(&self, index: usize, checkpoints: &[(u64, PathBuf)], start: &Start) -> Vec<Job> {
        let s = &self.stages[index];
        let from = s.from.as_ref().map(|f| self.stage_dir(f).join("final"));
        let job = |name: &str, out: PathBuf, model: Option<PathBuf>, base| {
            let mut sets = Vec::new();
            if let Some(m) = &model {
                sets.extend(start.links(m));
                let tok = from.as_ref().unwrap_or(m);
                sets.push(format!("model.tokenizer={}", tok.display()));
            }
            sets.push(format!("checkpoint.output_dir={}", out.display()));
            sets.extend(s.set.iter().map(|(k, v)| format!("{k}={}", yaml_text(v))));
            Job {
                stage: s.name.clone(),
                job: name.into(),
                config: s.config.clone(),
                sets,
                output_dir: out,
                base_checkpoint: base,
                model,
            }
        };
        if !fans_out(s) {
            return vec![job("main", self.stage_dir(&s.name), from.clone(), None)];
        }
        let mut picked: Vec<&(u64, PathBuf)> = match &s.each_checkpoint {
            Some(EachCheckpoint::Steps(steps)) => checkpoints
                .iter()
                .filter(|c| steps.contains(&c.0))
                .collect(),
            _ => checkpoints.iter().collect(),
        };
        picked.sort_by_key(|c| c.0);
        picked
            .into_iter()
            .map(|(step, dir)| {
                let name = crate::contracts::checkpoint::step_dir_name(*step);
                let model = self
                    .stage_dir(s.from.as_deref().unwrap_or_default())
                    .join("exports")
                    .join(&name);
                job(
                    &name,
                    self.stage_dir(&s.name).join(&name),
                    Some(model),
                    Some(dir.clone()),
                )
            })
            .collect()
    }
}

/// A YAML value as `--set` reads it back (one line where it can).
fn yaml_text(v: &serde_yaml::Value) -> String {
    match v {
        serde_yaml::Value::String(s) => s.clone(),
        other => serde_yaml::to_string(other)
            .unwrap_or_default()
            .trim_end()
            .to_string(),
    }
}

#[cfg(test)]
mod tests;
