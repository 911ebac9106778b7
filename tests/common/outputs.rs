//! What a run leaves: rank logs, metrics records, checkpoints, tensors and
//! the pipeline ledger.

use std::path::{Path, PathBuf};

/// Every `rank-*.log` under `dir`, with its contents (each line without the
/// timestamp `launch` writes before it).
pub fn rank_logs(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rank_logs(&p));
        } else if p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("rank-"))
        {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            out.push((p.clone(), unstamped(&text)));
        }
    }
    out.sort();
    out
}

/// `text` without the RFC 3339 timestamp at the start of each line.
pub fn unstamped(text: &str) -> String {
    text.lines()
        .map(|l| match l.split_once(' ') {
            Some((t, rest)) if t.len() == 24 && t.ends_with('Z') && t.as_bytes()[10] == b'T' => {
                rest
            }
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The checkpoint folder of step `step` under the output folder `out`.
pub fn ckpt(out: &Path, step: u64) -> PathBuf {
    out.join(format!("checkpoints/step-{step:06}"))
}

/// The `train_loss` of each step record in a metrics.jsonl, by step (the
/// last record of a step wins, as after a resume).
pub fn losses(metrics: &Path) -> std::collections::BTreeMap<u64, f64> {
    std::fs::read_to_string(metrics)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|r| Some((r.get("step")?.as_u64()?, r.get("train_loss")?.as_f64()?)))
        .collect()
}

/// The tensors of a safetensors file as raw bytes, by name.
pub fn tensor_bytes(path: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(n, v)| (n, v.data().to_vec()))
        .collect()
}

/// The records of `<out>/metrics.jsonl`.
pub fn records(out: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `fields` of each row of the pipeline ledger at `path`, joined by `:`
/// (strings unquoted); empty while the ledger does not exist.
pub fn ledger_rows(path: &Path, fields: &[&str]) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|r| {
            let values: Vec<String> = fields
                .iter()
                .map(|f| match &r[*f] {
                    serde_json::Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect();
            values.join(":")
        })
        .collect()
}
