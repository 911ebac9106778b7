//! The folder to push: its files, their first bytes, and their hashes
//! (sha256 for LFS objects, the git blob sha1 for regular files).

use super::exclude::{never_uploaded, Reason};
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

/// Lists the files under `root`, sorted by path. Only what is inside
/// `root` goes: a symlinked folder is not entered (as `upload_folder` does
/// not), a file symlink to a file outside `root` is skipped with a warning
/// unless `follow_links`, and what [`never_uploaded`] names is left out
/// (secrets and the tool's own files with one note line).
pub fn scan(root: &Path, follow_links: bool) -> Result<Vec<LocalFile>> {
    if !root.is_dir() {
        bail!("{} is not a folder", root.display());
    }
    let base = std::fs::canonicalize(root)
        .with_context(|| format!("cannot resolve {}", root.display()))?;
    let mut out = Vec::new();
    let mut left_out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let abs = entry.path();
            let rel = relative(root, &abs);
            match never_uploaded(&rel) {
                Some(Reason::Metadata) => continue,
                Some(_) => {
                    left_out.push(rel);
                    continue;
                }
                None => {}
            }
            // The entry itself, not what a link points at.
            let kind = entry
                .file_type()
                .with_context(|| format!("cannot read {}", abs.display()))?;
            if kind.is_dir() {
                stack.push(abs);
            } else if kind.is_file() {
                out.push(local_file(rel, abs)?);
            } else if kind.is_symlink() {
                if let Some(target) = link_target(&base, &abs, &rel, follow_links, &mut left_out) {
                    out.push(local_file(rel, target)?);
                }
            }
        }
    }
    if !left_out.is_empty() {
        left_out.sort();
        eprintln!(
            "launch: not pushing {} (secrets and files only Ferrospeed reads are never uploaded)",
            left_out.join(", ")
        );
    }
    if out.is_empty() {
        bail!("nothing to push: {} has no files", root.display());
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

/// `abs` relative to `root`, `/`-separated.
fn relative(root: &Path, abs: &Path) -> String {
    let rel = abs.strip_prefix(root).expect("under root").components();
    let parts: Vec<String> = rel
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

/// What the file symlink `abs` (at `rel`) uploads: the file it points at
/// when that is inside `base` (and not itself left out) or `follow_links`
/// is given; else nothing, with a warning.
fn link_target(
    base: &Path,
    abs: &Path,
    rel: &str,
    follow_links: bool,
    left_out: &mut Vec<String>,
) -> Option<PathBuf> {
    let warn = |why: String| eprintln!("launch: warning: not pushing {rel}: {why}");
    let Ok(target) = std::fs::canonicalize(abs) else {
        warn("it is a broken symlink".into());
        return None;
    };
    if target.is_dir() {
        warn(format!(
            "it links to the folder {} (folder links are not followed)",
            target.display()
        ));
        return None;
    }
    match target.strip_prefix(base) {
        // A link to `.env` or the lock would upload it under another name.
        Ok(inner) if never_uploaded(&relative(Path::new(""), inner)).is_some() => {
            left_out.push(rel.to_string());
            None
        }
        Ok(_) => Some(target),
        Err(_) if follow_links => Some(target),
        Err(_) => {
            warn(format!(
                "it links to {}, outside {} (pass --follow-links to upload it)",
                target.display(),
                base.display()
            ));
            None
        }
    }
}

/// `abs` (a regular file) as the file `rel` of the push.
fn local_file(rel: String, abs: PathBuf) -> Result<LocalFile> {
    let mut sample = Vec::with_capacity(512);
    let file = File::open(&abs).with_context(|| format!("cannot open {}", abs.display()))?;
    let size = file.metadata()?.len();
    file.take(512).read_to_end(&mut sample)?;
    Ok(LocalFile {
        path: rel,
        abs,
        size,
        sample,
    })
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
