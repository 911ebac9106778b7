//! Shared by the model tests: the reference checkpoints written by
//! `scripts/make-reference-models` (generated into `target/ref-models` on
//! first use), and comparisons.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use tch::Tensor;

pub mod lora_engine;
pub mod parity;
mod refs;

pub use refs::*;

/// Reference variants written by the script.
pub const VARIANTS: [&str; 11] = [
    "gqa",
    "tied",
    "qwen2_bias",
    "llama3_rope",
    "llama_bias",
    "qwen3",
    "qwen3_tied_bias",
    "mistral_window",
    "olmo2",
    "gemma3",
    "gemma3_legacy",
];

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// The Python interpreter of the reference scripts: `FERROSPEED_PYTHON`,
/// else the repository's `.venv/bin/python`, else `python3`.
pub fn python() -> PathBuf {
    std::env::var_os("FERROSPEED_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let venv = repo_root().join(".venv/bin/python");
            if venv.exists() {
                venv
            } else {
                PathBuf::from("python3")
            }
        })
}

/// The JSON that `scripts/<script>` writes to stdout, given `request` as
/// JSON on stdin (a reference computed by Python).
pub fn python_json<T: serde::de::DeserializeOwned>(script: &str, request: &serde_json::Value) -> T {
    use std::io::Write;
    let mut child = Command::new(python())
        .arg(repo_root().join("scripts").join(script))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run scripts/{script}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(request.to_string().as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "scripts/{script} failed");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// One variant's folder.
pub fn variant(name: &str) -> PathBuf {
    ref_models().join(name)
}

/// All tensors of a safetensors file by name.
pub fn read_tensors(path: &Path) -> HashMap<String, Tensor> {
    Tensor::read_safetensors(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .collect()
}

/// max |a - b| / max |b|, in f64.
pub fn rel_err(a: &Tensor, b: &Tensor) -> f64 {
    let a = a.to_kind(tch::Kind::Double);
    let b = b.to_kind(tch::Kind::Double);
    let diff = (&a - &b).abs().max().double_value(&[]);
    let scale = b.abs().max().double_value(&[]).max(1e-30);
    diff / scale
}

/// A fresh empty folder under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = target_dir()
        .join("test-scratch")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The tiny tokenizer of the sanity chat data.
pub fn chat_tokenizer() -> PathBuf {
    repo_root().join("data/sanity-chat")
}

/// A configuration from the `data` section given as JSON (other sections default).
pub fn config(data: serde_json::Value) -> runconfig::Config {
    serde_json::from_value(serde_json::json!({ "run_name": "data-test", "data": data })).unwrap()
}

/// Writes JSONL rows.
pub fn write_jsonl(path: &Path, rows: &[serde_json::Value]) {
    let text: String = rows.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// A chat message.
pub fn msg(role: &str, content: &str) -> serde_json::Value {
    serde_json::json!({"role": role, "content": content})
}

/// Runs `f(rank, comm)` for every rank of a `world` on threads connected by
/// CPU collectives; returns the results in rank order.
pub fn on_ranks<T, F>(world: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize, Box<dyn trainer::comm::Comm>) -> T + Send + Sync + 'static,
{
    use rendezvous::{StoreClient, StoreServer};
    use std::time::Duration;
    tch::set_num_threads(1);
    let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "t").unwrap();
    let port = server.addr().port();
    let f = std::sync::Arc::new(f);
    let handles: Vec<_> = (0..world)
        .map(|rank| {
            let f = f.clone();
            std::thread::spawn(move || {
                let mut store =
                    StoreClient::connect("127.0.0.1", port, "t", "", Duration::from_secs(10))
                        .unwrap();
                let comm = trainer::comm::CpuComm::connect(rank, world, &mut store).unwrap();
                f(rank, Box::new(comm))
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("rank failed"))
        .collect()
}

/// Rank `rank`'s `rows` rows of a batch of whole rows, and the number of
/// target tokens of the whole batch (the mean loss's normaliser).
pub fn rank_rows(
    ids: &Tensor,
    labels: &Tensor,
    rank: usize,
    rows: i64,
) -> (trainer::objective::Batch, i64) {
    let shifted = labels.narrow(1, 1, labels.size()[1] - 1);
    let targets = shifted.ne(-100).sum(tch::Kind::Int64).int64_value(&[]);
    let mine = |x: &Tensor| x.narrow(0, rank as i64 * rows, rows);
    let batch = trainer::objective::Batch {
        input_ids: mine(ids),
        labels: mine(labels),
        position_ids: None,
        segment_ids: None,
        tokens: 0,
    };
    (batch, targets)
}
