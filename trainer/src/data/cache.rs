//! The tokenized-data cache: `<output_dir>/data-cache/<key>.bin`, where the
//! key is a SHA-256 of everything that changes the samples (the data layer's
//! format version, the data settings, the bytes of every dataset file, of the
//! tokenizer files and of the chat template). A changed input gives a new
//! key, so a cache file is never stale; old files are left for the user to
//! delete.
//!
//! Concurrency: every rank of the node calls [`with_lock`]; an exclusive
//! `flock` on `<key>.lock` lets one rank build while the others wait, then
//! find the finished file. The kernel releases the lock if the builder dies,
//! and the file appears only complete (written to a temporary name, synced,
//! renamed), so a crash never leaves a half-written cache behind. A failed
//! write removes its temporary file; the temporaries of builders that died
//! (`<key>.tmp-<pid>` of a process that no longer exists, whose key nobody
//! has locked) are removed by the next start.
//!
//! Verification: a cache file holds the key that made it and ends with the
//! SHA-256 of everything before; a file whose key or checksum does not match
//! (a flipped byte, a truncation, a file put there by hand) is rebuilt, with
//! one warning naming it. The cache lives in an output_dir others may write
//! to, so no symlink is followed: the temporary file is created new
//! (`O_EXCL | O_NOFOLLOW`) and renamed over the name, the lock and the cache
//! file are opened with `O_NOFOLLOW`.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Bump when the meaning of cached samples changes.
pub const FORMAT_VERSION: u32 = 3;

/// Accumulates the inputs of the cache key.
pub struct KeyHasher(Sha256);

impl Default for KeyHasher {
    fn default() -> Self {
        let mut h = Sha256::new();
        h.update(MAGIC);
        h.update(FORMAT_VERSION.to_le_bytes());
        KeyHasher(h)
    }
}

impl KeyHasher {
    /// Adds a labelled piece of input (length-prefixed, so pieces cannot run
    /// into each other).
    pub fn add(&mut self, label: &str, bytes: &[u8]) {
        for part in [label.as_bytes(), bytes] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part);
        }
    }

    /// Adds a file's name and content.
    pub fn add_file(&mut self, path: &Path) -> Result<()> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        self.add(&path.to_string_lossy(), &Sha256::digest(&bytes));
        Ok(())
    }

    /// The key: 32 hex digits.
    pub fn finish(self) -> String {
        hex::encode(&self.0.finalize()[..16])
    }
}

/// Opens (creating it) and locks `path` with `op` (`LOCK_EX`, maybe with
/// `LOCK_NB`); `None` when a non-blocking lock is held elsewhere.
fn lock(path: &Path, op: i32) -> Result<Option<std::fs::File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    // SAFETY: flock on a descriptor we own; released when `file` is dropped.
    if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
        return Ok(Some(file));
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EWOULDBLOCK) if op & libc::LOCK_NB != 0 => Ok(None),
        _ => bail!("cannot lock {}: {e}", path.display()),
    }
}

/// Runs `f` while holding the exclusive lock of `key` in `dir`, after
/// removing the temporaries that builders which died left behind.
pub fn with_lock<T>(dir: &Path, key: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let file = lock(&dir.join(format!("{key}.lock")), libc::LOCK_EX)?;
    clean_stale(dir, key);
    let out = f();
    drop(file);
    out
}

/// The key and pid of a temporary name `<key>.tmp-<pid>` that [`write`] gives.
fn temporary_of(name: &str) -> Option<(&str, i32)> {
    let (key, pid) = name.split_once(".tmp-")?;
    let hex = key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit());
    Some((key, pid.parse().ok().filter(|&p: &i32| hex && p > 0)?))
}

/// Removes `<key>.tmp-<pid>` files of `dir` whose process no longer exists
/// and whose key nobody is building (`held`: the key this process has
/// locked). Any other file is left alone.
fn clean_stale(dir: &Path, held: &str) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((key, pid)) = temporary_of(&name) else {
            continue;
        };
        // SAFETY: signal 0 only asks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        let idle = || {
            key == held
                || lock(
                    &dir.join(format!("{key}.lock")),
                    libc::LOCK_EX | libc::LOCK_NB,
                )
                .is_ok_and(|l| l.is_some())
        };
        if gone && idle() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The cache file of `key`.
pub fn path(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{key}.bin"))
}

mod file;
use file::MAGIC;
pub use file::{read, write};
