//! Is a blob what its name says? A blob is named by its hash: the sha256
//! of the bytes for LFS files (64 hex digits), git's blob sha1 for the
//! others (40). A blob checked once is remembered by its size and mtime in
//! `<repo>/.ferrospeed-verified`, so that a cached 16 GB model is hashed
//! once, not at every start, and a blob changed since is hashed again.

use super::cache::{write_atomic, RepoCache};
use anyhow::{Context, Result};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// A running hash of the bytes a blob name promises.
pub enum Hasher {
    Sha256(Sha256),
    GitSha1(Sha1),
    /// Not a hash we know (then only the size is checked).
    Unknown,
}

impl Hasher {
    /// The hasher for `etag` of a file of `size` bytes.
    pub fn for_etag(etag: &str, size: u64) -> Hasher {
        let hex = etag.bytes().all(|b| b.is_ascii_hexdigit());
        match etag.len() {
            64 if hex => Hasher::Sha256(Sha256::new()),
            40 if hex => {
                let mut h = Sha1::new();
                h.update(format!("blob {size}\0").as_bytes());
                Hasher::GitSha1(h)
            }
            _ => Hasher::Unknown,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::GitSha1(h) => h.update(bytes),
            Hasher::Unknown => {}
        }
    }

    /// The hex digest, or `None` for an unknown kind of name.
    pub fn finish(self) -> Option<String> {
        match self {
            Hasher::Sha256(h) => Some(hex::encode(h.finalize())),
            Hasher::GitSha1(h) => Some(hex::encode(h.finalize())),
            Hasher::Unknown => None,
        }
    }

    /// Feeds the first `len` bytes of `path`.
    pub fn feed_file(&mut self, path: &Path, len: u64) -> Result<()> {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut reader = file.take(len);
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            self.update(&buf[..n]);
        }
    }
}

/// Whether `path` holds the bytes `etag` names (`size` when known).
pub fn matches(path: &Path, etag: &str, size: u64) -> Result<bool> {
    let len = std::fs::metadata(path)?.len();
    if size > 0 && len != size {
        return Ok(false);
    }
    let mut h = Hasher::for_etag(etag, len);
    h.feed_file(path, len)?;
    Ok(h.finish().is_none_or(|d| d.eq_ignore_ascii_case(etag)))
}

type Stamps = BTreeMap<String, (u64, i64)>;

fn stamp_of(path: &Path) -> Option<(u64, i64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.mtime() * 1_000_000_000 + m.mtime_nsec()))
}

fn stamps_file(repo: &RepoCache) -> std::path::PathBuf {
    repo.dir().join(".ferrospeed-verified")
}

fn read_stamps(repo: &RepoCache) -> Stamps {
    std::fs::read(stamps_file(repo))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Whether the blob `etag` of `repo` is sound: known good since it last
/// changed, or hashed now (and then remembered).
pub fn blob_is_sound(repo: &RepoCache, etag: &str, size: u64) -> Result<bool> {
    let blob = repo.blob(etag);
    let Some(now) = stamp_of(&blob) else {
        return Ok(false);
    };
    if read_stamps(repo).get(etag) == Some(&now) {
        return Ok(true);
    }
    let good = matches(&blob, etag, size)?;
    if good {
        remember(repo, etag)?;
    }
    Ok(good)
}

/// Records the blob `etag` as checked, as it is now.
pub fn remember(repo: &RepoCache, etag: &str) -> Result<()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _held = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let Some(now) = stamp_of(&repo.blob(etag)) else {
        return Ok(());
    };
    let mut stamps = read_stamps(repo);
    stamps.insert(etag.to_string(), now);
    write_atomic(&stamps_file(repo), &serde_json::to_vec(&stamps)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_as_the_hub_makes_them() {
        let dir = std::env::temp_dir().join(format!("fs-verify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f");
        std::fs::write(&f, b"hello\n").unwrap();
        // `git hash-object` and `sha256sum` of "hello\n".
        assert!(matches(&f, "ce013625030ba8dba906f756967f9e9ca394464a", 6).unwrap());
        let sha = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
        assert!(matches(&f, sha, 6).unwrap());
        std::fs::write(&f, b"hellO\n").unwrap();
        assert!(!matches(&f, sha, 6).unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
