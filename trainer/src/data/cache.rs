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

use super::sample::{SampleSet, SetKind};
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

/// Bump when the meaning of cached samples changes.
pub const FORMAT_VERSION: u32 = 2;
const MAGIC: &[u8; 8] = b"FSDATA01";

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

/// Writes `meta` (JSON) and the sets to `file` atomically: through a
/// temporary file, removed again on any error.
pub fn write(file: &Path, meta: &[u8], sets: &[&SampleSet]) -> Result<()> {
    let tmp = file.with_extension(format!("tmp-{}", std::process::id()));
    let written = write_to(&tmp, meta, sets).and_then(|()| std::fs::rename(&tmp, file));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| {
            format!(
                "cannot write the data cache {} (free some space, or set data.cache: false)",
                file.display()
            )
        });
    }
    Ok(())
}

fn write_to(tmp: &Path, meta: &[u8], sets: &[&SampleSet]) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(tmp)?);
    w.write_all(MAGIC)?;
    w.write_all(&(meta.len() as u64).to_le_bytes())?;
    w.write_all(meta)?;
    for s in sets {
        w.write_all(&[matches!(s.kind, SetKind::Pairs) as u8])?;
        w.write_all(&(s.offsets.len() as u64).to_le_bytes())?;
        w.write_all(&(s.tokens.len() as u64).to_le_bytes())?;
        for o in &s.offsets {
            w.write_all(&o.to_le_bytes())?;
        }
        for t in &s.tokens {
            w.write_all(&t.to_le_bytes())?;
        }
        w.write_all(&s.flags)?;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// Reads a file written by [`write`]: the meta bytes and `n` sets.
pub fn read(file: &Path, n: usize) -> Result<(Vec<u8>, Vec<SampleSet>)> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let mut r = Reader(&bytes);
    let bad = || {
        format!(
            "{} is not a valid data cache file: delete it",
            file.display()
        )
    };
    if r.take(8).with_context(bad)? != MAGIC {
        bail!(bad());
    }
    let len = r.u64().with_context(bad)? as usize;
    let meta = r.take(len).with_context(bad)?.to_vec();
    let mut sets = Vec::with_capacity(n);
    for _ in 0..n {
        let kind = match r.take(1).with_context(bad)?[0] {
            0 => SetKind::Lm,
            _ => SetKind::Pairs,
        };
        let (n_off, n_tok) = (r.u64().with_context(bad)?, r.u64().with_context(bad)?);
        let off = r.take(8 * n_off as usize).with_context(bad)?;
        let tok = r.take(4 * n_tok as usize).with_context(bad)?;
        let set = SampleSet {
            kind,
            offsets: off
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8")))
                .collect(),
            tokens: tok
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes(c.try_into().expect("4")))
                .collect(),
            flags: r.take(n_tok as usize).with_context(bad)?.to_vec(),
        };
        set.validate().with_context(bad)?;
        sets.push(set);
    }
    Ok((meta, sets))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}
