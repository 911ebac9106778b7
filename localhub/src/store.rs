//! Repositories on disk.
//!
//! ```text
//! ROOT/lfs/objects/<sha256>                 verified LFS objects
//! ROOT/lfs/incoming/                        uploads in progress
//! ROOT/repos/<ns>/<name>/repo.json          { private, owner }
//! ROOT/repos/<ns>/<name>/refs/<rev>.json    { commit, files: { path: { lfs, oid, size } } }
//! ROOT/repos/<ns>/<name>/tree/<rev>/...     the files of the revision, byte for byte
//! ROOT/repos/<ns>/<name>/commits.jsonl      one line per commit
//! ```

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha1::{Digest, Sha1};
use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// One file of a revision.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    /// Stored through LFS.
    pub lfs: bool,
    /// sha256 for LFS files, the git blob sha1 for regular ones.
    pub oid: String,
    /// Bytes.
    pub size: u64,
}

/// The state of a branch.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RefState {
    /// Head commit id.
    pub commit: String,
    /// Files by path.
    pub files: BTreeMap<String, Entry>,
}

/// One change of a commit, already validated.
pub enum Op {
    /// A regular file with its content.
    Regular { path: String, bytes: Vec<u8> },
    /// A file whose content is the LFS object `oid`.
    Lfs {
        path: String,
        oid: String,
        size: u64,
    },
    /// Remove a file.
    Delete { path: String },
    /// Remove every file under a folder.
    DeleteFolder { path: String },
}

/// The on-disk store; repository changes are serialized by one lock.
pub struct Store {
    root: PathBuf,
    lock: Mutex<()>,
}

/// The git object id of a blob: sha1("blob <len>\0" + content).
pub fn git_blob_sha1(bytes: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", bytes.len()).as_bytes());
    h.update(bytes);
    hex::encode(h.finalize())
}

/// The namespace of a store key: dataset repositories are stored under
/// `datasets/NS` (the Hub reserves `datasets` as a name).
pub fn namespace(key: &str) -> &str {
    key.strip_prefix("datasets/").unwrap_or(key)
}

pub(crate) fn rev_dir(rev: &str) -> String {
    rev.replace('%', "%25").replace('/', "%2F")
}

impl Store {
    /// Opens (and creates) the store under `root`.
    pub fn open(root: &Path) -> Result<Store> {
        for d in ["lfs/objects", "lfs/incoming", "repos"] {
            fs::create_dir_all(root.join(d))
                .with_context(|| format!("cannot create {}", root.join(d).display()))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
            lock: Mutex::new(()),
        })
    }

    pub(crate) fn repo(&self, ns: &str, name: &str) -> PathBuf {
        self.root.join("repos").join(ns).join(name)
    }

    /// The folder where uploads in progress are written.
    pub fn incoming(&self) -> PathBuf {
        self.root.join("lfs/incoming")
    }

    /// Where the LFS object `oid` lives once verified.
    pub fn object_path(&self, oid: &str) -> PathBuf {
        self.root.join("lfs/objects").join(oid)
    }

    /// The size of a stored LFS object.
    pub fn object_size(&self, oid: &str) -> Option<u64> {
        fs::metadata(self.object_path(oid)).ok().map(|m| m.len())
    }

    /// Whether the repository exists.
    pub fn exists(&self, ns: &str, name: &str) -> bool {
        self.repo(ns, name).join("repo.json").is_file()
    }

    /// `repo.json` of an existing repository.
    fn meta(&self, ns: &str, name: &str) -> Option<serde_json::Value> {
        let bytes = fs::read(self.repo(ns, name).join("repo.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// `private` of an existing repository.
    pub fn is_private(&self, ns: &str, name: &str) -> bool {
        self.meta(ns, name)
            .and_then(|v| v["private"].as_bool())
            .unwrap_or(false)
    }

    /// Who created an existing repository.
    pub fn owner(&self, ns: &str, name: &str) -> Option<String> {
        self.meta(ns, name)?["owner"].as_str().map(str::to_string)
    }

    /// Creates a repository with an empty `main`; false if it existed.
    pub fn create(&self, ns: &str, name: &str, private: bool, owner: &str) -> Result<bool> {
        let _g = self.lock.lock().unwrap();
        if self.exists(ns, name) {
            return Ok(false);
        }
        let dir = self.repo(ns, name);
        fs::create_dir_all(dir.join("refs"))?;
        fs::create_dir_all(dir.join("tree").join("main"))?;
        let state = RefState {
            commit: hex::encode(Sha1::digest(format!("init {ns}/{name}").as_bytes())),
            files: BTreeMap::new(),
        };
        self.write_ref(ns, name, "main", &state)?;
        let meta = serde_json::json!({ "private": private, "owner": owner });
        fs::write(dir.join("repo.json"), meta.to_string())?;
        Ok(true)
    }

    /// The state of branch `rev`, if it exists.
    pub fn branch(&self, ns: &str, name: &str, rev: &str) -> Option<RefState> {
        let path = self
            .repo(ns, name)
            .join("refs")
            .join(format!("{}.json", rev_dir(rev)));
        serde_json::from_slice(&fs::read(path).ok()?).ok()
    }

    fn write_ref(&self, ns: &str, name: &str, rev: &str, state: &RefState) -> Result<()> {
        let dir = self.repo(ns, name).join("refs");
        let tmp = dir.join(format!(".{}.tmp", rev_dir(rev)));
        fs::write(&tmp, serde_json::to_vec_pretty(state)?)?;
        fs::rename(&tmp, dir.join(format!("{}.json", rev_dir(rev))))?;
        Ok(())
    }

    /// Creates branch `branch` from `main`; false if it existed.
    pub fn create_branch(&self, ns: &str, name: &str, branch: &str) -> Result<bool> {
        let _g = self.lock.lock().unwrap();
        if self.branch(ns, name, branch).is_some() {
            return Ok(false);
        }
        let main = self.branch(ns, name, "main").context("no main branch")?;
        let tree = self.repo(ns, name).join("tree");
        let to = tree.join(rev_dir(branch));
        fs::create_dir_all(&to)?;
        for path in main.files.keys() {
            let dst = to.join(path);
            fs::create_dir_all(dst.parent().unwrap())?;
            fs::hard_link(tree.join("main").join(path), &dst)
                .or_else(|_| fs::copy(tree.join("main").join(path), &dst).map(|_| ()))?;
        }
        self.write_ref(ns, name, branch, &main)?;
        Ok(true)
    }

    /// Applies `ops` to branch `rev` and returns the new commit id.
    pub fn commit(
        &self,
        ns: &str,
        name: &str,
        rev: &str,
        ops: Vec<Op>,
        summary: &str,
    ) -> Result<String> {
        let _g = self.lock.lock().unwrap();
        let Some(mut state) = self.branch(ns, name, rev) else {
            bail!("Invalid rev id: {rev}");
        };
        let tree = self.repo(ns, name).join("tree").join(rev_dir(rev));
        let mut digest = Sha1::new();
        digest.update(state.commit.as_bytes());
        digest.update(summary.as_bytes());
        for op in ops {
            match op {
                Op::Regular { path, bytes } => {
                    let oid = git_blob_sha1(&bytes);
                    digest.update(format!("{path}\0{oid}\n").as_bytes());
                    let dst = tree.join(&path);
                    fs::create_dir_all(dst.parent().unwrap())?;
                    let _ = fs::remove_file(&dst);
                    fs::write(&dst, &bytes)?;
                    let size = bytes.len() as u64;
                    state.files.insert(
                        path,
                        Entry {
                            lfs: false,
                            oid,
                            size,
                        },
                    );
                }
                Op::Lfs { path, oid, size } => {
                    digest.update(format!("{path}\0{oid}\n").as_bytes());
                    let dst = tree.join(&path);
                    fs::create_dir_all(dst.parent().unwrap())?;
                    let _ = fs::remove_file(&dst);
                    let src = self.object_path(&oid);
                    fs::hard_link(&src, &dst).or_else(|_| fs::copy(&src, &dst).map(|_| ()))?;
                    state.files.insert(
                        path,
                        Entry {
                            lfs: true,
                            oid,
                            size,
                        },
                    );
                }
                Op::Delete { path } => {
                    if state.files.remove(&path).is_none() {
                        bail!("A file with this name doesn't exist: {path}");
                    }
                    digest.update(format!("-{path}\n").as_bytes());
                    fs::remove_file(tree.join(&path))?;
                }
                Op::DeleteFolder { path } => {
                    let prefix = format!("{}/", path.trim_end_matches('/'));
                    let gone: Vec<String> = state
                        .files
                        .keys()
                        .filter(|k| k.starts_with(&prefix))
                        .cloned()
                        .collect();
                    for k in gone {
                        state.files.remove(&k);
                        fs::remove_file(tree.join(&k))?;
                    }
                    digest.update(format!("-{prefix}\n").as_bytes());
                }
            }
        }
        state.commit = hex::encode(digest.finalize());
        self.write_ref(ns, name, rev, &state)?;
        let line =
            serde_json::json!({ "commit": state.commit, "revision": rev, "summary": summary });
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.repo(ns, name).join("commits.jsonl"))?;
        writeln!(log, "{line}")?;
        Ok(state.commit)
    }
}
