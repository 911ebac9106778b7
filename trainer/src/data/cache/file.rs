//! The cache file format: the magic, the key that made the file, the
//! summary (JSON) and the sample sets, then the SHA-256 of all of it. A
//! file is written as a new temporary (never through a link) and renamed
//! into place, and read without following a link; one whose checksum or
//! key does not match is reported damaged, to be built again.

use crate::data::sample::{SampleSet, SetKind};
use anyhow::{Context, Result};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The first bytes of a cache file (and of its key's hash input).
pub(super) const MAGIC: &[u8; 8] = b"FSDATA02";

/// Bytes of the SHA-256 trailer.
const SUM: usize = 32;

/// Writes `meta` (JSON) and the sets, made by `key`, to `file` atomically:
/// through a new temporary file, removed again on any error.
pub fn write(file: &Path, key: &str, meta: &[u8], sets: &[&SampleSet]) -> Result<()> {
    let tmp = file.with_extension(format!("tmp-{}", std::process::id()));
    let written = write_to(&tmp, key, meta, sets).and_then(|()| std::fs::rename(&tmp, file));
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

/// Creates `tmp` as a new file, never through a symlink: an entry already
/// there (left by a dead process that had this pid, or planted) is removed
/// first, which removes a link itself, not its target.
fn create_new(tmp: &Path) -> std::io::Result<std::fs::File> {
    let open = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(tmp)
    };
    match open() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(tmp)?;
            open()
        }
        other => other,
    }
}

/// A writer that hashes what passes through it.
struct Summed<W: Write>(W, Sha256);

impl<W: Write> Write for Summed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(buf)?;
        self.1.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn write_to(tmp: &Path, key: &str, meta: &[u8], sets: &[&SampleSet]) -> std::io::Result<()> {
    let out = std::io::BufWriter::new(create_new(tmp)?);
    let mut w = Summed(out, Sha256::new());
    w.write_all(MAGIC)?;
    w.write_all(key.as_bytes())?;
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
    let Summed(mut out, sum) = w;
    out.write_all(&sum.finalize())?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// Reads the cache file of `key` written by [`write`]: the meta bytes and
/// `n` sets, or `None` when there is none or it is damaged (then after one
/// warning naming the file and why; the caller builds it again).
pub fn read(file: &Path, key: &str, n: usize) -> Option<(Vec<u8>, Vec<SampleSet>)> {
    match verified(file, key).and_then(|body| parse(body, n)) {
        Ok(found) => Some(found),
        Err(why) if why.is_empty() => None,
        Err(why) => {
            eprintln!(
                "warning: the data cache {} is damaged ({why}); rebuilding it",
                file.display()
            );
            None
        }
    }
}

/// The file's body after its magic and key, once its key and checksum
/// match; `Err("")` when there is no file.
fn verified(file: &Path, key: &str) -> Result<Vec<u8>, String> {
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(file);
    let mut bytes = Vec::new();
    match opened.and_then(|mut f| f.read_to_end(&mut bytes)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(String::new()),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err("it is a symbolic link".into())
        }
        Err(e) => return Err(format!("it cannot be read: {e}")),
        Ok(_) => {}
    }
    let head = MAGIC.len() + key.len();
    if bytes.len() < head + SUM || &bytes[..MAGIC.len()] != MAGIC {
        return Err("it is not a data cache file of this version".into());
    }
    let (data, sum) = bytes.split_at(bytes.len() - SUM);
    if Sha256::digest(data).as_slice() != sum {
        return Err("its checksum does not match its contents".into());
    }
    if &data[MAGIC.len()..head] != key.as_bytes() {
        return Err("it was made for another key".into());
    }
    Ok(data[head..].to_vec())
}

/// The meta bytes and `n` sets of a verified body.
fn parse(body: Vec<u8>, n: usize) -> Result<(Vec<u8>, Vec<SampleSet>), String> {
    let mut r = Reader(&body);
    let bad = || "its contents are not a data cache".to_string();
    let len = r.u64().ok_or_else(bad)? as usize;
    let meta = r.take(len).ok_or_else(bad)?.to_vec();
    let mut sets = Vec::with_capacity(n);
    for _ in 0..n {
        let kind = match r.take(1).ok_or_else(bad)?[0] {
            0 => SetKind::Lm,
            _ => SetKind::Pairs,
        };
        let (n_off, n_tok) = (r.u64().ok_or_else(bad)?, r.u64().ok_or_else(bad)?);
        let off = r.take((n_off as usize).saturating_mul(8)).ok_or_else(bad)?;
        let tok = r.take((n_tok as usize).saturating_mul(4)).ok_or_else(bad)?;
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
            flags: r.take(n_tok as usize).ok_or_else(bad)?.to_vec(),
        };
        set.validate().map_err(|e| format!("{e:#}"))?;
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
