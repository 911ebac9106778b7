//! The commit endpoint's body: `application/x-ndjson`, a `header` line then
//! one line per `file` (base64 inline), `lfsFile` (an uploaded object),
//! `deletedFile` or `deletedFolder`. Anything else is refused.

use crate::lfs::is_sha256;
use crate::store::{Op, Store};
use base64::Engine;
use serde_json::Value;
use std::collections::HashSet;

/// Extensions the Hub's default `.gitattributes` sends through LFS.
const LFS_EXTENSIONS: &[&str] = &[
    "safetensors",
    "bin",
    "pt",
    "pth",
    "ckpt",
    "h5",
    "msgpack",
    "onnx",
    "pkl",
    "pickle",
    "npy",
    "npz",
    "gguf",
    "ggml",
    "model",
    "ot",
    "tflite",
    "zip",
    "tar",
    "gz",
    "tgz",
    "xz",
    "zst",
    "7z",
    "rar",
    "parquet",
    "arrow",
    "joblib",
    "mlmodel",
    "pb",
    "wasm",
];

/// "lfs" or "regular", as the Hub decides from the path, size and first bytes.
pub fn upload_mode(path: &str, size: u64, sample: &[u8], lfs_threshold: u64) -> &'static str {
    if size == 0 {
        return "regular";
    }
    let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    let by_ext = ext.is_some_and(|e| LFS_EXTENSIONS.contains(&e.as_str()));
    if by_ext || size >= lfs_threshold || sample.contains(&0) {
        "lfs"
    } else {
        "regular"
    }
}

/// Checks a path in the repository: relative, no `.`/`..` segments, not in `.git/`.
pub fn check_path(path: &str) -> Result<(), String> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
        || path == ".git"
        || path.starts_with(".git/");
    if bad {
        Err(format!("invalid path in repository: {path:?}"))
    } else {
        Ok(())
    }
}

fn text<'a>(v: &'a Value, key: &str, line: usize) -> Result<&'a str, String> {
    v[key]
        .as_str()
        .ok_or_else(|| format!("line {line}: `{key}` must be a string"))
}

/// The parsed commit: summary, optional parent, operations.
pub struct Parsed {
    /// Commit title.
    pub summary: String,
    /// `parentCommit`, when given.
    pub parent: Option<String>,
    /// The changes.
    pub ops: Vec<Op>,
}

/// Parses and validates an NDJSON commit body against the LFS store.
pub fn parse(body: &[u8], store: &Store, lfs_threshold: u64) -> Result<Parsed, String> {
    let text_body =
        std::str::from_utf8(body).map_err(|_| "commit body is not UTF-8".to_string())?;
    let mut lines = text_body
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate();
    let (_, first) = lines.next().ok_or("empty commit body")?;
    let header: Value =
        serde_json::from_str(first).map_err(|e| format!("line 1: not JSON: {e}"))?;
    if header["key"] != "header" {
        return Err("line 1: the first line must be {\"key\": \"header\", ...}".into());
    }
    let h = &header["value"];
    let summary = text(h, "summary", 1)?.trim().to_string();
    if summary.is_empty() {
        return Err("line 1: the commit summary is empty".into());
    }
    if !h["description"].is_null() && !h["description"].is_string() {
        return Err("line 1: `description` must be a string".into());
    }
    let parent = h["parentCommit"].as_str().map(str::to_string);
    let mut ops = Vec::new();
    let mut seen = HashSet::new();
    for (i, line) in lines {
        let n = i + 1;
        let item: Value =
            serde_json::from_str(line).map_err(|e| format!("line {n}: not JSON: {e}"))?;
        let v = &item["value"];
        let key = item["key"].as_str().unwrap_or("");
        let path = text(v, "path", n)?.to_string();
        check_path(path.trim_end_matches('/')).map_err(|e| format!("line {n}: {e}"))?;
        if !seen.insert(path.clone()) {
            return Err(format!("line {n}: {path} appears twice in one commit"));
        }
        match key {
            "file" => {
                if v["encoding"] != "base64" {
                    return Err(format!("line {n}: `encoding` must be \"base64\""));
                }
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text(v, "content", n)?)
                    .map_err(|e| format!("line {n}: content is not valid base64: {e}"))?;
                let sample = &bytes[..bytes.len().min(512)];
                if upload_mode(&path, bytes.len() as u64, sample, lfs_threshold) == "lfs" {
                    return Err(format!(
                        "line {n}: {path} must be uploaded through LFS (see preupload), not inline"
                    ));
                }
                ops.push(Op::Regular { path, bytes });
            }
            "lfsFile" => {
                if v["algo"] != "sha256" {
                    return Err(format!("line {n}: `algo` must be \"sha256\""));
                }
                let oid = text(v, "oid", n)?.to_string();
                if !is_sha256(&oid) {
                    return Err(format!("line {n}: `oid` must be a sha256 hex digest"));
                }
                let Some(stored) = store.object_size(&oid) else {
                    return Err(format!(
                        "line {n}: LFS object {oid} for {path} was never uploaded"
                    ));
                };
                if !v["size"].is_null() && v["size"].as_u64() != Some(stored) {
                    return Err(format!("line {n}: size of {path} does not match the uploaded object ({stored} bytes)"));
                }
                ops.push(Op::Lfs {
                    path,
                    oid,
                    size: stored,
                });
            }
            "deletedFile" => ops.push(Op::Delete { path }),
            "deletedFolder" => ops.push(Op::DeleteFolder { path }),
            other => return Err(format!("line {n}: unknown key {other:?}")),
        }
    }
    if ops.is_empty() {
        return Err("the commit changes nothing".into());
    }
    Ok(Parsed {
        summary,
        parent,
        ops,
    })
}
