//! Whether an adapter's weights fit the model: every adapter of the run's
//! targets present with the shape this model gives it, no tensor the model
//! has no place for, and `modules_to_save` weights (when the file holds
//! them) of the model's shape. Read from the safetensors header alone, so
//! that `launch check` refuses an adapter made for another base model in
//! one line, before anything starts.

use super::{ADAPTER_CONFIG, ADAPTER_FILE, PEFT_PREFIX};
use crate::model::{is_adapter, read_json, unit_kinds, unit_params, Lora, ModelShape};
use crate::schema::Config;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// The largest safetensors header read (the format's own limit).
const MAX_HEADER: u64 = 100_000_000;

/// Checks the adapter folder `dir` against the run's model (a local
/// `model.path` or `model.config`) with the run's `lora:` settled.
pub fn check_fits(config: &Config, dir: &Path) -> Result<(), String> {
    let shape = ModelShape::of(config)?;
    let Some(lora) = shape.lora else {
        return Ok(());
    };
    // Full module paths in target_modules must cover every layer.
    let file = dir.join(ADAPTER_CONFIG);
    let text = std::fs::read_to_string(&file).map_err(|e| format!("`model.adapter`: {e}"))?;
    let json = read_json(&text).map_err(|e| format!("`model.adapter`: {e}"))?;
    let origin = file.display().to_string();
    Lora::from_adapter_config(&json, shape.layers as usize, &origin)
        .map_err(|e| format!("`model.adapter`: {e}"))?;
    let weights = dir.join(ADAPTER_FILE);
    let mut stored = header(&weights).map_err(|e| format!("`model.adapter`: {e}"))?;
    let other = "an adapter made for another base model";
    let at = weights.display();
    for kind in unit_kinds(shape.layers as usize) {
        for (name, want) in unit_params(&shape, kind) {
            if !lora.trains(&name) {
                continue;
            }
            let key = format!("{PEFT_PREFIX}{name}");
            match stored.remove(&key) {
                None if is_adapter(&name) => {
                    return Err(format!("`model.adapter`: {at} has no {key}: {other}"))
                }
                Some(found) if found != want => {
                    return Err(format!(
                        "`model.adapter`: {at} holds {key} of shape {found:?}, where this model's is {want:?}: {other}"
                    ))
                }
                _ => {}
            }
        }
    }
    match stored.keys().next() {
        Some(key) => Err(format!(
            "`model.adapter`: {at} holds {key}, which this model has no place for: {other}"
        )),
        None => Ok(()),
    }
}

/// The tensors of a safetensors file (name, shape), from its header.
fn header(path: &Path) -> Result<BTreeMap<String, Vec<u64>>, String> {
    let bad = |why: &str| format!("{} is not a safetensors file: {why}", path.display());
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let size = f.metadata().map_err(|e| e.to_string())?.len();
    let mut len = [0u8; 8];
    f.read_exact(&mut len).map_err(|_| bad("too short"))?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER || n > size - 8 {
        return Err(bad("its header length is out of bounds"));
    }
    let mut text = vec![0u8; n as usize];
    f.read_exact(&mut text).map_err(|_| bad("too short"))?;
    let json: serde_json::Value =
        serde_json::from_slice(&text).map_err(|_| bad("its header is not JSON"))?;
    let entries = json
        .as_object()
        .ok_or_else(|| bad("its header is not an object"))?;
    let mut out = BTreeMap::new();
    for (name, info) in entries.iter().filter(|(k, _)| *k != "__metadata__") {
        let dims = info.get("shape").and_then(|s| s.as_array());
        let shape: Option<Vec<u64>> = dims.and_then(|d| d.iter().map(|x| x.as_u64()).collect());
        out.insert(
            name.clone(),
            shape.ok_or_else(|| bad("a tensor without a shape"))?,
        );
    }
    Ok(out)
}
