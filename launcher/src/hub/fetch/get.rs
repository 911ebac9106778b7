//! Downloading one blob: into `<blob>.incomplete`, resumed with `Range`
//! after a dropped connection or a killed run, hashed while it streams,
//! checked against its name, then renamed into place (a corrupted blob
//! already there is replaced only by a sound one).

use super::super::progress::Progress;
use super::remote::{refused, Meta, Remote, Response};
use super::verify::Hasher;
use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// `<blob>.incomplete`, as `huggingface_hub` names a partial download.
pub fn partial(blob: &Path) -> PathBuf {
    PathBuf::from(format!("{}.incomplete", blob.display()))
}

/// Downloads `meta` into `blob`, counting bytes in `progress`.
pub fn fetch_blob(remote: &Remote, meta: &Meta, blob: &Path, progress: &Progress) -> Result<()> {
    let part = partial(blob);
    if let Some(dir) = part.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut attempt = 0;
    loop {
        match attempt_once(remote, meta, &part, progress) {
            Ok(true) => break,
            Ok(false) => {
                // The bytes do not hash to their name: start over.
                std::fs::remove_file(&part)?;
                if attempt >= remote.retry.max_retries {
                    bail!(
                        "the bytes received for blob {} never matched its hash",
                        meta.etag
                    );
                }
                eprintln!(
                    "launch: hub: blob {} does not match its hash; downloading it again",
                    meta.etag
                );
            }
            Err(e) if e.is::<Dropped>() && attempt < remote.retry.max_retries => {
                let wait = remote.retry.backoff(attempt);
                eprintln!(
                    "launch: hub: {e}; resuming in {:.1} s (retry {}/{})",
                    wait.as_secs_f64(),
                    attempt + 1,
                    remote.retry.max_retries
                );
                std::thread::sleep(wait);
            }
            Err(e) => return Err(e),
        }
        attempt += 1;
    }
    std::fs::rename(&part, blob)
        .with_context(|| format!("cannot move {} into place", part.display()))
}

/// The connection broke while the body streamed (worth resuming).
#[derive(Debug)]
struct Dropped(String);

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Dropped {}

/// One `GET` from where `part` ends: whether the whole file now hashes to
/// its name. What this attempt counted in `progress` is taken back unless
/// it succeeds.
fn attempt_once(remote: &Remote, meta: &Meta, part: &Path, progress: &Progress) -> Result<bool> {
    let (have, response) = start(remote, meta, part)?;
    let mut hasher = Hasher::for_etag(&meta.etag, meta.size);
    if have > 0 {
        hasher.feed_file(part, have)?;
    }
    let mut file = open_at(part, have)?;
    progress.add(have);
    let streamed = response.map_or(Ok(()), |r| {
        stream(r, &mut file, &mut hasher, progress, meta)
    });
    file.sync_all()?;
    let len = file.metadata()?.len();
    let result = match streamed {
        Err(e) => Err(e),
        Ok(()) if meta.size > 0 && len != meta.size => Err(Dropped(format!(
            "download of blob {} ended at {len} of {} bytes",
            meta.etag, meta.size
        ))
        .into()),
        Ok(()) => Ok(hasher
            .finish()
            .is_none_or(|d| d.eq_ignore_ascii_case(&meta.etag))),
    };
    if !matches!(result, Ok(true)) {
        progress.sub(len);
    }
    result
}

/// The bytes already in `part` that the answer continues, and the answer
/// (none when `part` is already whole).
fn start(remote: &Remote, meta: &Meta, part: &Path) -> Result<(u64, Option<Response>)> {
    let mut have = std::fs::metadata(part).map_or(0, |m| m.len());
    if meta.size > 0 && have > meta.size {
        have = 0;
    }
    if meta.size > 0 && have == meta.size {
        return Ok((have, None));
    }
    let r = remote.request("GET", &meta.url, meta.auth, have)?;
    refused(&r)?;
    if r.status().as_u16() != 206 {
        have = 0;
    }
    Ok((have, Some(r)))
}

/// Streams the body into `file`, hashing and counting as it goes.
fn stream(
    mut r: Response,
    file: &mut File,
    hasher: &mut Hasher,
    progress: &Progress,
    meta: &Meta,
) -> Result<()> {
    let mut body = r.body_mut().with_config().limit(u64::MAX).reader();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = body
            .read(&mut buf)
            .map_err(|e| Dropped(format!("download of blob {} broke off: {e}", meta.etag)))?;
        if n == 0 {
            return Ok(());
        }
        file.write_all(&buf[..n])
            .context("cannot write a partial download")?;
        hasher.update(&buf[..n]);
        progress.add(n as u64);
    }
}

/// `part` opened for writing from byte `at` (truncated there).
fn open_at(part: &Path, at: u64) -> Result<File> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(part)
        .with_context(|| format!("cannot write {}", part.display()))?;
    file.set_len(at)?;
    let mut file = file;
    file.seek(SeekFrom::Start(at))?;
    Ok(file)
}
