//! `by_world_size` toggles and `--set key=value` pairs. Each group is one
//! overlay: every pair is written into the YAML tree, then the tree is
//! checked once, so the order of the pairs never matters and a required key
//! may arrive in the same overlay as the keys that need it. A value the
//! check refuses is named by the pair (or pairs) that set it.

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
    let Some(toggles) = by_world_size.get(&world_size) else {
        return typed(&tree).map_err(|m| ConfigError::new(format!("{origin}: {m}")));
    };
    let pairs: Vec<(String, Value, String)> = toggles
        .iter()
        .map(|(k, v)| {
            let what = format!("{origin}: by_world_size.{world_size}: `{k}`");
            (k.clone(), v.clone(), what)
        })
        .collect();
    overlay(&mut tree, &pairs)
}

/// Applies the `--set` pairs (and a pipeline stage's `set:`) on `config`,
/// as one overlay; a key given twice takes its last value.
pub(crate) fn sets(config: &Config, sets: &[String]) -> Result<Config, ConfigError> {
    if sets.is_empty() {
        return Ok(config.clone());
    }
    let mut tree = serde_yaml::to_value(config)
        .map_err(|e| ConfigError::new(format!("the configuration cannot be written: {e}")))?;
    let mut pairs = Vec::new();
    for pair in sets {
        let (key, text) = pair.split_once('=').ok_or_else(|| {
            ConfigError::new(format!(
                "--set {pair}: expected KEY=VALUE, for example --set train.micro_batch_size=4"
            ))
        })?;
        let value: Value =
            serde_yaml::from_str(text).unwrap_or_else(|_| Value::String(text.into()));
        pairs.push((key.trim().to_string(), value, format!("--set {pair}")));
    }
    overlay(&mut tree, &pairs)
}

/// Writes every `(key, value, what)` into `tree`, then checks it once. A
/// refusal names the pairs whose key the message mentions (all of them
/// when it mentions none).
fn overlay(tree: &mut Value, pairs: &[(String, Value, String)]) -> Result<Config, ConfigError> {
    for (key, value, what) in pairs {
        set_dotted(tree, key, value.clone())
            .map_err(|m| ConfigError::new(format!("{what}: {m}")))?;
    }
    typed(tree).map_err(|m| ConfigError::new(format!("{}: {m}", blame(pairs, &m))))
}

/// The pairs a check message is about: those whose key (or a section of
/// it) the message names.
fn blame(pairs: &[(String, Value, String)], message: &str) -> String {
    let named: Vec<&str> = pairs
        .iter()
        .filter(|(key, _, _)| message.contains(&format!("`{key}")))
        .map(|(_, _, what)| what.as_str())
        .collect();
    match named.is_empty() {
        true => pairs
            .iter()
            .map(|p| p.2.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        false => named.join(", "),
    }
}

/// Deserializes through YAML text: serde_yaml names the dotted path of a bad
/// value only when it reads text.
fn typed(tree: &Value) -> Result<Config, String> {
    let text = serde_yaml::to_string(tree).map_err(|e| e.to_string())?;
    serde_yaml::from_str(&text).map_err(|e| explain(&e.to_string()))
}

/// The keys of `section` (`lora.r`, ...) that the file's `tree`, the
/// world-size `toggles` and the `--set` pairs write, each once: what a
/// config says, as against what the defaults fill in.
pub(crate) fn written(
    tree: &Value,
    toggles: Option<&BTreeMap<String, Value>>,
    sets: &[String],
    section: &str,
) -> Vec<String> {
    let mut keys = Vec::new();
    let mut add = |key: &str, value: Option<&Value>| {
        let inner = key.strip_prefix(section).and_then(|k| k.strip_prefix('.'));
        let named: Vec<String> = match (inner, value.and_then(Value::as_mapping)) {
            (Some(k), _) => vec![k.to_string()],
            (None, Some(map)) if key == section => map
                .keys()
                .filter_map(|k| k.as_str().map(String::from))
                .collect(),
            _ => vec![],
        };
        for k in named {
            let full = format!("{section}.{k}");
            if !keys.contains(&full) {
                keys.push(full);
            }
        }
    };
    add(section, tree.get(section));
    for (key, value) in toggles.into_iter().flatten() {
        add(key, Some(value));
    }
    for (key, text) in sets.iter().filter_map(|s| s.split_once('=')) {
        add(
            key.trim(),
            serde_yaml::from_str::<Value>(text).ok().as_ref(),
        );
    }
    keys
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
