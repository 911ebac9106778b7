//! Where a run's config.json is, and the one reading of its text that the
//! size checks, the family's rules and the resume fingerprint start from.

use crate::schema::{Config, ModelSource};
use serde_json::Value;
use std::path::PathBuf;

/// The model's config.json: `model.path`/config.json or `model.config`.
pub fn config_json_path(config: &Config) -> Result<PathBuf, String> {
    Ok(match config.model.source()? {
        ModelSource::Weights(dir) => dir.join("config.json"),
        ModelSource::RandomInit(file) => file.to_path_buf(),
    })
}

/// The JSON of a config.json's text.
pub fn read_json(text: &str) -> serde_json::Result<Value> {
    serde_json::from_str(text)
}
