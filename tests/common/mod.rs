//! What the end-to-end tests share: the built binaries, scratch folders,
//! processes (process.rs), what a run leaves (outputs.rs), a local Hub
//! (hub.rs), a `final/` folder like a run leaves (folders.rs) and the run
//! book by Hub ids for any model (runbook.rs, used as `common::runbook`).
//!
//! The binaries come from the same target folder as the test executable:
//! run `cargo build --release --workspace --bins` (same profile) first.
// Every test binary compiles all of this and uses a part of it.
#![allow(dead_code)]

mod folders;
mod hub;
mod outputs;
mod process;
pub mod runbook;

// One `use common::*` gives a test everything; a test that needs nothing
// from a part would otherwise warn about that part's re-export.
#[allow(unused_imports)]
pub use {folders::*, hub::*, outputs::*, process::*};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `target/<profile>`, where `launch` and `trainer` are built.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf(); // target/<profile>/deps/..
    assert!(
        dir.join("launch").is_file(),
        "{} has no `launch`: build the binaries first (cargo build --release --workspace --bins)",
        dir.display()
    );
    dir
}

/// A built binary of the workspace, with a hint when it is missing.
pub fn bin(name: &str) -> PathBuf {
    let p = bin_dir().join(name);
    assert!(
        p.is_file(),
        "{} is missing: run `cargo build --release --workspace --bins` first",
        p.display()
    );
    p
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// YAML naming the tiny model and the counting data of the repository by
/// absolute paths: with a `train.max_steps`, what `launch` needs to accept a
/// config whose trainer the test replaces.
pub fn runnable_yaml() -> String {
    let root = repo_root();
    format!(
        "model: {{ config: {} }}\ndata: {{ datasets: [{{ path: {} }}] }}\n",
        root.join("configs/models/tiny-llama.json").display(),
        root.join("data/sanity/counting.jsonl").display()
    )
}

/// A fresh scratch folder under target/e2e, kept after the test to look at.
pub fn scratch(name: &str) -> PathBuf {
    let dir = bin_dir()
        .join("e2e")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A temporary folder, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh, empty folder.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("ferrospeed-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// `self/rel`.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes an executable shell script.
pub fn script(path: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// The repository's `.venv/bin/python` (made by scripts/bootstrap), with
/// `package` installed into it once per test binary when missing.
pub fn python_with(package: &str) -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let py = repo_root().join(".venv/bin/python");
    let _held = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let have = Command::new(&py)
        .args(["-c", &format!("import {package}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        let status = Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                package,
            ])
            .status()
            .expect("run pip in .venv");
        assert!(status.success(), "pip install {package} failed");
    }
    py
}

/// The `--set`s that put the Llama-3.1-8B shape and the sanity chat data
/// (`data`: its sft.jsonl or dpo.jsonl) in place of an 8B recipe's weights
/// and Hub datasets.
pub fn shape_8b(data: &str) -> Vec<String> {
    let r = repo_root();
    vec![
        "model.path=null".into(),
        format!(
            "model.config={}",
            r.join("configs/models/llama31-8b-shape.json").display()
        ),
        format!("model.tokenizer={}", r.join("data/sanity-chat").display()),
        format!(
            "data.datasets=[{{path: {}}}]",
            r.join("data/sanity-chat").join(data).display()
        ),
    ]
}
