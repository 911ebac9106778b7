//! What a run's data files held: for each file, its size, modification time
//! and SHA-256. A finished run records them, so that a re-run whose data
//! changed in place (same path, other rows) is not taken for the same run.
//! The check is cheap when nothing changed: a file whose size and time are
//! the recorded ones keeps its recorded hash; only a touched file is hashed.

use crate::Config;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// The local data files of `config`: each dataset's `path` (a file, or the
/// files directly in a folder) and its `files` (a Hub split's).
fn files(config: &Config) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for d in &config.data.datasets {
        for p in d.path.iter().chain(&d.files) {
            match std::fs::read_dir(p) {
                Ok(entries) => {
                    let mut inner: Vec<PathBuf> = entries
                        .flatten()
                        .map(|e| e.path())
                        .filter(|p| p.is_file())
                        .collect();
                    inner.sort();
                    out.extend(inner);
                }
                Err(_) => out.push(p.clone()),
            }
        }
    }
    out
}

/// Size and modification time (ns) of `path`, following links as a
/// reader of the data does.
fn size_and_time(path: &Path) -> Option<(u64, u128)> {
    let m = std::fs::metadata(path).ok()?;
    let t = m
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    Some((m.len(), t.as_nanos()))
}

fn sha256(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).ok()?;
    Some(hex::encode(h.finalize()))
}

/// The stamps of `config`'s data files; `known` (stamps recorded before)
/// lends its hash to a file whose size and time did not change.
pub fn stamps(config: &Config, known: Option<&Value>) -> Value {
    let mut out = Map::new();
    for path in files(config) {
        let key = path.display().to_string();
        let Some((size, time)) = size_and_time(&path) else {
            out.insert(key, json!({ "sha256": "missing" }));
            continue;
        };
        let old = known.and_then(|k| k.get(&key));
        let same = old.is_some_and(|o| {
            o["size"].as_u64() == Some(size) && o["mtime_ns"].as_str() == Some(&time.to_string())
        });
        let hash = match (same, old) {
            (true, Some(o)) => o["sha256"].clone(),
            _ => sha256(&path).map_or(Value::Null, Value::String),
        };
        out.insert(
            key,
            json!({ "size": size, "mtime_ns": time.to_string(), "sha256": hash }),
        );
    }
    Value::Object(out)
}

/// The stamps reduced to what must match: each file's hash.
pub fn contents(stamps: &Value) -> Value {
    let Some(map) = stamps.as_object() else {
        return Value::Null;
    };
    map.iter()
        .map(|(k, v)| (k.clone(), v["sha256"].clone()))
        .collect::<Map<String, Value>>()
        .into()
}
