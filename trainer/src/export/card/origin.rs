//! Where a run's model came from, for its card: the Hub id of the base model
//! (from a Hugging Face cache snapshot path, or carried over from the card
//! of an earlier Ferrospeed export), its license, and the local folder.

use runconfig::{Config, ModelSource};
use serde_yaml::{Mapping, Value};
use std::path::Path;

/// The base model as the card states it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origin {
    /// Hub id of the model the run (or the run it continues) started from.
    pub base_model: Option<String>,
    /// The base card's `license`, `license_name` and `license_link`.
    pub license: Option<String>,
    pub license_name: Option<String>,
    pub license_link: Option<String>,
    /// The name of the local `model.path` folder.
    pub folder: Option<String>,
    /// Whether `model.path` is an export of an earlier Ferrospeed run.
    pub ferrospeed_export: bool,
    /// `model.config` only: the model was initialised at random.
    pub random_init: bool,
}

impl Origin {
    /// From `model.path` (or `model.config`) of `config`.
    pub fn of(config: &Config) -> Origin {
        match config.model.source() {
            Ok(ModelSource::Weights(dir)) => Origin::of_folder(dir),
            Ok(ModelSource::RandomInit(_)) => Origin {
                random_init: true,
                ..Origin::default()
            },
            Err(_) => Origin::default(),
        }
    }

    /// A run started from the model folder `dir`.
    fn of_folder(dir: &Path) -> Origin {
        let header = std::fs::read_to_string(dir.join("README.md"))
            .ok()
            .and_then(|text| front_matter(&text))
            .unwrap_or_default();
        let text = |key: &str| header.get(key).and_then(Value::as_str).map(String::from);
        let ferrospeed_export = written_by_ferrospeed(&header);
        let cached = cache_repo_id(dir).or_else(|| cache_repo_id(&dir.canonicalize().ok()?));
        let carried = text("base_model").filter(|_| ferrospeed_export);
        Origin {
            base_model: cached.or(carried),
            license: text("license"),
            license_name: text("license_name"),
            license_link: text("license_link"),
            folder: folder_name(dir),
            ferrospeed_export,
            random_init: false,
        }
    }
}

/// The YAML front matter of a model card (between the `---` lines that
/// open it), when it has one that parses as a mapping.
fn front_matter(card: &str) -> Option<Mapping> {
    let rest = card.strip_prefix("---")?.trim_start_matches([' ', '\t']);
    let rest = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))?;
    let mut yaml = String::new();
    for line in rest.lines() {
        if line.trim_end() == "---" {
            return serde_yaml::from_str(&yaml).ok();
        }
        yaml.push_str(line);
        yaml.push('\n');
    }
    None
}

/// Whether the card header is one Ferrospeed wrote (its tags name it).
fn written_by_ferrospeed(header: &Mapping) -> bool {
    header
        .get("tags")
        .and_then(Value::as_sequence)
        .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some("ferrospeed")))
}

/// `ORG/NAME` of a snapshot folder in huggingface_hub's cache layout,
/// `.../models--ORG--NAME/snapshots/<commit>` (`models--NAME`: `NAME`).
fn cache_repo_id(dir: &Path) -> Option<String> {
    let commit = dir.file_name()?.to_str()?;
    let snapshots = dir.parent()?;
    if commit.is_empty() || snapshots.file_name()? != "snapshots" {
        return None;
    }
    let repo = snapshots.parent()?.file_name()?.to_str()?;
    let id = repo.strip_prefix("models--")?;
    (!id.is_empty()).then(|| id.replace("--", "/"))
}

/// The last component of `dir` as written, else of its canonical form.
fn folder_name(dir: &Path) -> Option<String> {
    let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned());
    name(dir).or_else(|| name(&dir.canonicalize().ok()?))
}
