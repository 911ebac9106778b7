//! Helpers shared by the data-layer tests.
#![allow(dead_code)]

use runconfig::Config;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The tiny tokenizer of the sanity chat data.
pub fn chat_tokenizer() -> PathBuf {
    root().join("data/sanity-chat")
}

/// A fresh scratch folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = root()
        .join("target/test-scratch/data")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A configuration from the `data` section given as JSON (other sections default).
pub fn config(data: Value) -> Config {
    serde_json::from_value(json!({ "run_name": "data-test", "data": data })).unwrap()
}

/// Writes JSONL rows.
pub fn write_jsonl(path: &Path, rows: &[Value]) {
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// A chat message.
pub fn msg(role: &str, content: &str) -> Value {
    json!({"role": role, "content": content})
}
