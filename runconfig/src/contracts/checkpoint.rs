//! What both binaries need to know about checkpoints: where they live, which
//! is the newest complete one, and whether the current configuration means
//! the same run as the one that wrote it.

use crate::model;
use crate::plan::Plan;
use crate::schema::Config;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// Marker file written last, after every rank has saved its shard.
pub const COMPLETE: &str = "COMPLETE";
/// The checkpoint's description (step, world size, checksums, fingerprint).
pub const META: &str = "meta.json";

/// `<output_dir>/checkpoints`.
pub fn checkpoints_dir(config: &Config) -> PathBuf {
    config.output_dir().join("checkpoints")
}

/// Folder name of the checkpoint after `step` optimizer steps.
pub fn step_dir_name(step: u64) -> String {
    format!("step-{step:06}")
}

/// The step of a checkpoint folder's name `step-N`; None for any other name.
pub fn step_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("step-")?;
    match !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        true => digits.parse().ok(),
        false => None,
    }
}

/// Complete checkpoints under `dir`, newest first: real `step-N` folders
/// only (a link there may point anywhere, so it is never a checkpoint).
pub fn complete_checkpoints(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| {
            let step = step_of(&e.file_name().to_string_lossy())?;
            let path = e.path();
            path.join(COMPLETE).is_file().then_some((step, path))
        })
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    found
}

/// The checkpoint `<root>/latest` names: None when there is no `latest`;
/// an error saying why when it cannot be trusted: it is a link, or names
/// anything but a complete `step-N` folder of `root` (a shared output_dir
/// may hold a `latest` someone else wrote, pointing out of it).
pub fn latest(root: &Path) -> Result<Option<PathBuf>, String> {
    let path = root.join("latest");
    let shown = path.display();
    let mut text = String::new();
    let read = crate::safe_fs::open_nofollow(&path, std::fs::OpenOptions::new().read(true))
        .and_then(|mut f| std::io::Read::read_to_string(&mut f, &mut text));
    match read {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{shown} cannot be read: {e}")),
        Ok(_) => {}
    }
    let name = text.trim();
    if step_of(name).is_none() {
        return Err(format!("{shown} names {name:?}, not a step-N folder"));
    }
    let dir = root.join(name);
    if !dir.symlink_metadata().is_ok_and(|m| m.is_dir()) {
        return Err(format!(
            "{shown} names {name}, which is not a folder of {}",
            root.display()
        ));
    }
    if !dir.join(COMPLETE).is_file() {
        return Err(format!(
            "{shown} names {name}, which is not complete (no {COMPLETE} file)"
        ));
    }
    Ok(Some(dir))
}

/// The fingerprint's key for the model's config.json fields (absent from
/// fingerprints written before config.json was part of them).
pub const MODEL_CONFIG_KEY: &str = "config.json";
/// The fields of the model's config.json that change what the model
/// computes, as written (null when absent or unreadable: the trainer then
/// refuses the file itself).
fn model_fields(config: &Config) -> Value {
    let Ok(file) = model::config_json_path(config) else {
        return Value::Null;
    };
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let Ok(v) = model::read_json(&text) else {
        return Value::Null;
    };
    let fields = model::SHAPE_FIELDS.iter().chain(&model::NUMERIC_FIELDS);
    let pick = fields.map(|&k| (k.to_string(), v.get(k).cloned().unwrap_or(Value::Null)));
    Value::Object(pick.collect())
}

/// The parts of a configuration that give a run its meaning: changing one
/// of them makes resuming from an old checkpoint wrong. They include the
/// model's config.json fields, so that a file edited in place is noticed.
pub fn fingerprint(config: &Config, plan: &Plan) -> Value {
    let mut v = json!({
        MODEL_CONFIG_KEY: model_fields(config),
        "model": config.model,
        "data": config.data,
        "train.effective_batch_size": plan.effective_batch_size,
        "train.seed": config.train.seed,
        "optimizer.bits": config.optimizer.bits,
        "optimizer.min_8bit_size": config.optimizer.min_8bit_size,
    });
    // The adapters' shape and meaning; dropout and init may change.
    if let (Some(l), Some(map)) = (&config.lora, v.as_object_mut()) {
        let lora = json!({
            "r": l.r,
            "alpha": l.alpha,
            "target_modules": l.target_modules,
            "use_rslora": l.use_rslora,
            "modules_to_save": l.modules_to_save,
            "base": l.base,
        });
        map.insert("lora".into(), lora);
    }
    v
}

/// Compares a checkpoint's fingerprint with the current one; the message
/// names the first key that differs and the ways out.
pub fn check_same_run(saved: &Value, current: &Value, checkpoint: &Path) -> Result<(), String> {
    let mut diffs = Vec::new();
    diff("", saved, current, &mut diffs);
    let prefix = format!("{MODEL_CONFIG_KEY}.");
    let model: Vec<String> = diffs
        .iter()
        .filter_map(|(k, was, now)| Some(format!("{}: {was} -> {now}", k.strip_prefix(&prefix)?)))
        .collect();
    if !model.is_empty() {
        let shape = diffs.iter().any(|(k, ..)| {
            model::SHAPE_FIELDS
                .iter()
                .any(|f| k.strip_prefix(&prefix) == Some(f))
        });
        let what = match shape {
            true => "a model of another shape",
            false => "another model",
        };
        return Err(format!(
            "the model's config.json changed since the checkpoint {} was written ({}): \
             resuming would train {what} than the one saved. Restore config.json, start over \
             with --set checkpoint.resume=never, or choose a new checkpoint.output_dir",
            checkpoint.display(),
            model.join(", ")
        ));
    }
    match diffs.first() {
        None => Ok(()),
        Some((key, was, now)) => Err(format!(
            "the checkpoint {} was written with `{key}` = {was}, but the config now says {now}; \
             resuming would mix two different runs. Restore the old value, start over with \
             --set checkpoint.resume=never, or choose a new checkpoint.output_dir",
            checkpoint.display()
        )),
    }
}

/// Collects `(key, old, new)` for every leaf where `a` and `b` differ.
pub(crate) fn diff(prefix: &str, a: &Value, b: &Value, out: &mut Vec<(String, String, String)>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                // A fingerprint written before config.json was part of it.
                if prefix.is_empty() && k == MODEL_CONFIG_KEY && !x.contains_key(k) {
                    continue;
                }
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                diff(
                    &key,
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        _ if a != b => out.push((prefix.to_string(), a.to_string(), b.to_string())),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_step_names_are_checkpoint_names() {
        assert_eq!(step_of("step-000012"), Some(12));
        for bad in [
            "step-",
            "step-+1",
            "step-1/..",
            "../step-1",
            "step-1 ",
            "latest",
        ] {
            assert_eq!(step_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_first_changed_key_is_named() {
        let a = json!({"model": {"dtype": "f32", "path": "m"}, "train.seed": 1});
        let b = json!({"model": {"dtype": "bf16", "path": "m"}, "train.seed": 1});
        let e = check_same_run(&a, &b, Path::new("ck")).unwrap_err();
        assert!(
            e.contains("`model.dtype` = \"f32\", but the config now says \"bf16\""),
            "{e}"
        );
        assert!(check_same_run(&a, &a, Path::new("ck")).is_ok());
    }

    #[test]
    fn changed_config_json_fields_are_named_with_both_values() {
        let a = json!({"config.json": {"rope_theta": 10000.0, "hidden_size": 64}, "train.seed": 1});
        let b =
            json!({"config.json": {"rope_theta": 500000.0, "hidden_size": 64}, "train.seed": 2});
        let e = check_same_run(&a, &b, Path::new("ck")).unwrap_err();
        assert!(e.contains("config.json changed since the checkpoint ck was written (rope_theta: 10000.0 -> 500000.0)"), "{e}");
        assert!(e.contains("--set checkpoint.resume=never"), "{e}");
        let c =
            json!({"config.json": {"rope_theta": 10000.0, "hidden_size": 128}, "train.seed": 1});
        let e = check_same_run(&a, &c, Path::new("ck")).unwrap_err();
        assert!(
            e.contains("(hidden_size: 64 -> 128): resuming would train a model of another shape"),
            "{e}"
        );
    }

    #[test]
    fn a_fingerprint_from_before_config_json_counted_still_matches() {
        let old = json!({"model": {"path": "m"}, "train.seed": 1});
        let new = json!({"config.json": {"rope_theta": 10000.0}, "model": {"path": "m"}, "train.seed": 1});
        assert!(check_same_run(&old, &new, Path::new("ck")).is_ok());
    }
}
