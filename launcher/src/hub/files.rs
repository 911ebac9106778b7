//! The folder to push: its files, their first bytes, and their hashes
//! (sha256 for LFS objects, the git blob sha1 for regular files).

use anyhow::{bail, Context, Result};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// One file of the folder.
#[derive(Debug, Clone)]
pub struct LocalFile {
    /// Path in the repository, `/`-separated.
    pub path: String,
    /// Where it is on disk.
    pub abs: PathBuf,
    /// Bytes.
    pub size: u64,
    /// The first 512 bytes (the Hub decides LFS or not from them).
    pub sample: Vec<u8>,
}

/// Folders never pushed, as `huggingface_hub` ignores them.
fn ignored(rel: &str) -> bool {
    rel.split('/').any(|s| s == ".git") || rel.contains(".cache/huggingface")
}

/// Lists the files under `root`, sorted by path.
pub fn scan(root: &Path) -> Result<Vec<LocalFile>> {
    if !root.is_dir() {
        bail!("{} is not a folder", root.display());
    }
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let abs = entry?.path();
            let rel = abs
                .strip_prefix(root)
                .expect("under root")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            if ignored(&rel) {
                continue;
            }
            let meta = std::fs::metadata(&abs)
                .with_context(|| format!("cannot read {}", abs.display()))?;
            if meta.is_dir() {
                stack.push(abs);
            } else if meta.is_file() {
                let mut sample = Vec::with_capacity(512);
                File::open(&abs)
                    .with_context(|| format!("cannot open {}", abs.display()))?
                    .take(512)
                    .read_to_end(&mut sample)?;
                out.push(LocalFile {
                    path: rel,
                    abs,
                    size: meta.len(),
                    sample,
                });
            }
        }
    }
    if out.is_empty() {
        bail!("nothing to push: {} has no files", root.display());
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// The sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// The git object id of a blob: sha1("blob <len>\0" + content).
pub fn git_blob_sha1(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

/// Hashes `files` (sha256) on `threads` threads; results in input order.
pub fn sha256_all(files: &[&LocalFile], threads: usize) -> Result<Vec<String>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<String>>>> =
        Mutex::new((0..files.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, files.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(f) = files.get(i) else { break };
                let r = sha256_file(&f.abs);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every file hashed"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_blob_id_matches_git() {
        // `printf hello | git hash-object --stdin`
        assert_eq!(
            git_blob_sha1(b"hello"),
            "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0"
        );
    }
}
