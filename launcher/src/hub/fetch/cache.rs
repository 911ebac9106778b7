//! The Hugging Face cache, laid out as `huggingface_hub` lays it out, so
//! that what one tool downloads the other finds:
//!
//! ```text
//! <cache>/models--ORG--NAME/blobs/<etag>                 the bytes, named by their hash
//!                          /refs/<revision>              the commit a branch or tag pointed at
//!                          /snapshots/<commit>/<file>    relative symlinks into blobs/
//! <cache>/.locks/models--ORG--NAME/<etag>.lock           flock(2) while a blob is written
//! ```

use super::super::names::is_plain_path;
use anyhow::{bail, Context, Result};
use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// A model or a dataset repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Model,
    Dataset,
}

impl Kind {
    /// `models` or `datasets`: the cache folder prefix and the API path.
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Model => "models",
            Kind::Dataset => "datasets",
        }
    }

    /// What comes before `ORG/NAME` in a file URL: nothing, or `datasets/`.
    pub fn url_prefix(self) -> &'static str {
        match self {
            Kind::Model => "",
            Kind::Dataset => "datasets/",
        }
    }
}

/// Whether `rev` is a full commit id (40 hex digits).
pub fn is_commit(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit())
}

/// One repository's folder in the cache.
#[derive(Debug, Clone)]
pub struct RepoCache {
    root: PathBuf,
    folder: String,
}

impl RepoCache {
    /// The folder of `id` (`org/name` or `name`) of `kind` under `root`.
    pub fn new(root: &Path, kind: Kind, id: &str) -> RepoCache {
        RepoCache {
            root: root.to_path_buf(),
            folder: format!("{}--{}", kind.plural(), id.replace('/', "--")),
        }
    }

    /// `<cache>/models--ORG--NAME`.
    pub fn dir(&self) -> PathBuf {
        self.root.join(&self.folder)
    }

    /// Where the blob named `etag` lives.
    pub fn blob(&self, etag: &str) -> PathBuf {
        self.dir().join("blobs").join(etag)
    }

    /// The snapshot folder of `commit`.
    pub fn snapshot(&self, commit: &str) -> PathBuf {
        self.dir().join("snapshots").join(commit)
    }

    /// The commit `rev` names: itself when it is one, else what `refs/` says.
    pub fn commit_of(&self, rev: &str) -> Option<String> {
        if is_commit(rev) {
            return Some(rev.to_string());
        }
        if !is_plain_path(rev) {
            return None;
        }
        let text = std::fs::read_to_string(self.dir().join("refs").join(rev)).ok()?;
        // A refs file others can write names a commit, never a path.
        Some(text.trim().to_string()).filter(|c| is_commit(c))
    }

    /// Records that `rev` pointed at `commit` (nothing for a commit id).
    pub fn write_ref(&self, rev: &str, commit: &str) -> Result<()> {
        sound_names(rev, commit, None, None)?;
        if is_commit(rev) || self.commit_of(rev).as_deref() == Some(commit) {
            return Ok(());
        }
        let path = self.dir().join("refs").join(rev);
        write_atomic(&path, commit.as_bytes())
    }

    /// The file `file` of `commit`, when its snapshot entry resolves.
    pub fn cached(&self, commit: &str, file: &str) -> Option<PathBuf> {
        let path = self.snapshot(commit).join(file);
        path.is_file().then_some(path)
    }

    /// Points `snapshots/<commit>/<file>` at `blobs/<etag>` with a relative
    /// symlink, replacing an older link of that name.
    pub fn link(&self, commit: &str, file: &str, etag: &str) -> Result<PathBuf> {
        sound_names("main", commit, Some(file), Some(etag))?;
        let pointer = self.snapshot(commit).join(file);
        let depth = Path::new(file).components().count() + 1;
        let target = Path::new(&"../".repeat(depth)).join("blobs").join(etag);
        if std::fs::read_link(&pointer).ok().as_deref() == Some(&target) {
            return Ok(pointer);
        }
        let parent = pointer.parent().context("a snapshot entry has a folder")?;
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let tmp = parent.join(format!(".{etag}.link-{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        std::os::unix::fs::symlink(&target, &tmp)
            .and_then(|()| std::fs::rename(&tmp, &pointer))
            .with_context(|| format!("cannot link {}", pointer.display()))?;
        Ok(pointer)
    }

    /// Holds `.locks/<repo>/<etag>.lock` (the lock `huggingface_hub` takes
    /// while it writes that blob) until the returned file is dropped.
    pub fn lock(&self, etag: &str) -> Result<File> {
        sound_names("main", &"0".repeat(40), None, Some(etag))?;
        let dir = self.root.join(".locks").join(&self.folder);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let path = dir.join(format!("{etag}.lock"));
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))?;
        // SAFETY: flock on a descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            bail!(
                "cannot lock {}: {}",
                path.display(),
                std::io::Error::last_os_error()
            );
        }
        Ok(file)
    }
}

/// The last guard before a name becomes a path in the cache (the Hub
/// client checks names as they arrive, with a message for the user; this
/// keeps any other caller from writing outside the cache).
fn sound_names(rev: &str, commit: &str, file: Option<&str>, etag: Option<&str>) -> Result<()> {
    let blob = |e: &str| matches!(e.len(), 40 | 64) && e.bytes().all(|b| b.is_ascii_hexdigit());
    if !is_plain_path(rev)
        || !is_commit(commit)
        || !file.is_none_or(is_plain_path)
        || !etag.is_none_or(blob)
    {
        bail!("refusing to use {rev:?}, {commit:?}, {file:?}, {etag:?} as cache paths");
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path.parent().context("a cache file has a folder")?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let name = path.file_name().map_or("x".into(), |n| n.to_string_lossy());
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_huggingface_hub() {
        let root = std::env::temp_dir().join(format!("fs-cache-{}", std::process::id()));
        let repo = RepoCache::new(&root, Kind::Model, "org/tiny");
        assert_eq!(repo.dir(), root.join("models--org--tiny"));
        let commit = "a".repeat(40);
        std::fs::create_dir_all(repo.dir().join("blobs")).unwrap();
        let e1 = "e1".repeat(20);
        std::fs::write(repo.blob(&e1), b"{}").unwrap();
        let p = repo.link(&commit, "sub/config.json", &e1).unwrap();
        assert_eq!(
            std::fs::read_link(&p).unwrap(),
            Path::new("../../../blobs").join(&e1)
        );
        assert_eq!(repo.cached(&commit, "sub/config.json"), Some(p));
        repo.write_ref("main", &commit).unwrap();
        assert_eq!(repo.commit_of("main"), Some(commit.clone()));
        assert_eq!(repo.commit_of(&commit), Some(commit));
        let d = RepoCache::new(&root, Kind::Dataset, "gpt2");
        assert_eq!(d.dir(), root.join("datasets--gpt2"));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn names_that_leave_the_cache_are_never_linked_locked_or_recorded() {
        let root = std::env::temp_dir().join(format!("fs-cache-bad-{}", std::process::id()));
        let repo = RepoCache::new(&root, Kind::Model, "org/tiny");
        let (commit, etag) = ("a".repeat(40), "b".repeat(64));
        assert!(repo.link("../../x", "config.json", &etag).is_err());
        assert!(repo.link(&commit, "/abs/config.json", &etag).is_err());
        assert!(repo
            .link(&commit, "config.json", "../../../victim/x")
            .is_err());
        assert!(repo.lock("../../../victim/x").is_err());
        assert!(repo.write_ref("main", "../../x").is_err());
        assert!(repo.write_ref("../../x", &commit).is_err());
        assert!(!root.exists(), "nothing may be created");
    }
}
