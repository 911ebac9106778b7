//! `by_world_size` toggles and `--set key=value` pairs, applied on the YAML
//! tree one at a time so that a bad one is named in the error.

use crate::error::{explain, ConfigError};
use crate::schema::Config;
use serde_yaml::{Mapping, Value};
use std::collections::BTreeMap;

/// Applies the world-size toggles of `world_size` on the file's tree and
/// returns the typed configuration.
pub(crate) fn by_world_size(
    mut tree: Value,
    by_world_size: &BTreeMap<u32, BTreeMap<String, Value>>,
    world_size: u32,
    origin: &str,
) -> Result<Config, ConfigError> {
    let mut config = typed(&tree).map_err(|m| ConfigError::new(format!("{origin}: {m}")))?;
    if let Some(toggles) = by_world_size.get(&world_size) {
        for (key, value) in toggles {
            let what = format!("{origin}: by_world_size.{world_size}: `{key}`");
            config = set_and_check(&mut tree, key, value.clone(), &what)?;
        }
    }
    Ok(config)
}

/// Applies the `--set` pairs, one at a time, on `config`.
pub(crate) fn sets(config: &Config, sets: &[String]) -> Result<Config, ConfigError> {
    let mut tree = serde_yaml::to_value(config)
        .map_err(|e| ConfigError::new(format!("the configuration cannot be written: {e}")))?;
    let mut config = config.clone();
    for pair in sets {
        let (key, text) = pair.split_once('=').ok_or_else(|| {
            ConfigError::new(format!(
                "--set {pair}: expected KEY=VALUE, for example --set train.micro_batch_size=4"
            ))
        })?;
        let value: Value =
            serde_yaml::from_str(text).unwrap_or_else(|_| Value::String(text.into()));
        config = set_and_check(&mut tree, key.trim(), value, &format!("--set {pair}"))?;
    }
    Ok(config)
}

fn set_and_check(
    tree: &mut Value,
    key: &str,
    value: Value,
    what: &str,
) -> Result<Config, ConfigError> {
    set_dotted(tree, key, value).map_err(|m| ConfigError::new(format!("{what}: {m}")))?;
    typed(tree).map_err(|m| ConfigError::new(format!("{what}: {m}")))
}

/// Deserializes through YAML text: serde_yaml names the dotted path of a bad
/// value only when it reads text.
fn typed(tree: &Value) -> Result<Config, String> {
    let text = serde_yaml::to_string(tree).map_err(|e| e.to_string())?;
    serde_yaml::from_str(&text).map_err(|e| explain(&e.to_string()))
}

/// Sets `a.b.c` in a mapping tree, creating the intermediate mappings.
fn set_dotted(tree: &mut Value, key: &str, value: Value) -> Result<(), String> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!(
            "`{key}` is not a dotted key like train.micro_batch_size"
        ));
    }
    let mut node = tree;
    for (i, part) in parts.iter().enumerate() {
        if node.is_null() {
            *node = Value::Mapping(Mapping::new());
        }
        let map = node.as_mapping_mut().ok_or_else(|| {
            format!(
                "`{}` is not a section, so `{key}` cannot be set",
                parts[..i].join(".")
            )
        })?;
        let k = Value::String(part.to_string());
        if i + 1 == parts.len() {
            map.insert(k, value);
            return Ok(());
        }
        node = map.entry(k).or_insert(Value::Null);
    }
    Ok(())
}
