//! One repository at one revision: which commit, which of its files the run
//! needs, which of those the cache already holds soundly, and bringing in
//! the rest (several files at once, behind one progress bar).

use super::super::names;
use super::super::progress::{human, Progress};
use super::cache::{Kind, RepoCache};
use super::get::fetch_blob;
use super::remote::{Meta, Remote, Unreachable};
use super::verify::{blob_is_sound, remember};
use anyhow::{anyhow, Context, Result};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A repository at a revision, as the config names it.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub kind: Kind,
    pub id: String,
    pub revision: String,
}

/// Where the files of a commit are (or will be) and which are missing.
#[derive(Debug)]
pub struct Located {
    pub commit: String,
    pub snapshot: PathBuf,
    /// Every file the run needs, relative to the snapshot.
    pub files: Vec<String>,
    /// Those not in the cache, or whose blob does not match its hash.
    pub missing: Vec<String>,
}

/// Chooses the needed files from a listing; may read a file of the snapshot.
pub type Pick<'a> =
    dyn Fn(&[String], &dyn Fn(&str) -> Option<String>) -> Result<Vec<String>, String> + 'a;

/// The cache, and the Hub unless offline.
pub struct Ctx {
    pub root: PathBuf,
    pub remote: Option<Remote>,
    pub threads: usize,
}

/// A revision's commit and the repository's files at it.
pub struct Listing {
    pub commit: String,
    pub files: Vec<String>,
}

/// Which commit and files: from the Hub (falling back to the cache when the
/// Hub cannot be reached), or from the cache alone when offline.
pub fn list(ctx: &Ctx, w: &Wanted) -> Result<Listing> {
    // The revision names a file under refs/: check it before any request.
    names::revision(&w.id, &w.revision)?;
    let cache = RepoCache::new(&ctx.root, w.kind, &w.id);
    let online = ctx
        .remote
        .as_ref()
        .map(|r| r.info(w.kind, &w.id, &w.revision));
    let (commit, files) = match online {
        Some(Ok(found)) => found,
        Some(Err(e)) if e.is::<Unreachable>() && cache.commit_of(&w.revision).is_some() => {
            eprintln!("launch: hub: {e}; using the cached {}@{}", w.id, w.revision);
            offline_listing(&cache, w)?
        }
        Some(Err(e)) => return Err(e),
        None => offline_listing(&cache, w)?,
    };
    Ok(Listing { commit, files })
}

/// The files of `listing` that `pick` chooses, and which of them the cache
/// lacks or holds unsoundly.
pub fn locate(ctx: &Ctx, w: &Wanted, listing: &Listing, pick: &Pick) -> Result<Located> {
    let cache = RepoCache::new(&ctx.root, w.kind, &w.id);
    let commit = listing.commit.clone();
    let snapshot = cache.snapshot(&commit);
    let read = |file: &str| std::fs::read_to_string(snapshot.join(file)).ok();
    let files =
        pick(&listing.files, &read).map_err(|why| anyhow!("{}@{}: {why}", w.id, w.revision))?;
    let mut missing = Vec::new();
    for f in &files {
        if !is_sound(&cache, &commit, f)? {
            missing.push(f.clone());
        }
    }
    Ok(Located {
        commit,
        snapshot,
        files,
        missing,
    })
}

/// Offline: the commit `refs/` records and the files its snapshot holds.
fn offline_listing(cache: &RepoCache, w: &Wanted) -> Result<(String, Vec<String>)> {
    let commit = cache.commit_of(&w.revision).ok_or_else(|| Offline {
        what: format!(
            "{}@{} is not in the cache at {}",
            w.id,
            w.revision,
            cache.dir().display()
        ),
    })?;
    let mut files = Vec::new();
    walk(&cache.snapshot(&commit), "", &mut files);
    files.sort();
    Ok((commit, files))
}

/// Offline and something is not cached.
#[derive(Debug)]
pub struct Offline {
    pub what: String,
}

impl std::fmt::Display for Offline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Offline {}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        if e.path().is_dir() {
            walk(&e.path(), &format!("{name}/"), out);
        } else {
            out.push(name);
        }
    }
}

/// Whether `file` of `commit` is cached and its blob matches its name.
fn is_sound(cache: &RepoCache, commit: &str, file: &str) -> Result<bool> {
    let Some(path) = cache.cached(commit, file) else {
        return Ok(false);
    };
    let Some(etag) = std::fs::read_link(&path)
        .ok()
        .and_then(|t| Some(t.file_name()?.to_string_lossy().into_owned()))
    else {
        return Ok(true); // a plain file, as on file systems without links
    };
    let size = std::fs::metadata(&path)?.len();
    let sound = blob_is_sound(cache, &etag, size)?;
    if !sound {
        eprintln!("launch: hub: the cached {file} does not match its hash (blob {etag}); downloading it again");
    }
    Ok(sound)
}

/// Sizes of the missing files, asked with `HEAD`.
pub fn describe(ctx: &Ctx, w: &Wanted, located: &Located) -> Result<Vec<(String, Meta)>> {
    let remote = ctx.remote.as_ref().ok_or_else(|| Offline {
        what: format!(
            "{} of {}@{} is not in the cache at {}",
            located.missing.join(", "),
            w.id,
            w.revision,
            RepoCache::new(&ctx.root, w.kind, &w.id).dir().display()
        ),
    })?;
    let metas = located.missing.iter().map(|f| {
        let meta = remote.head(w.kind, &w.id, &located.commit, f);
        meta.map(|m| (f.clone(), m))
            .with_context(|| format!("{f} of {}", w.id))
    });
    metas.collect()
}

/// Downloads the missing files of `located`, links them into its snapshot
/// and records the revision's commit.
pub fn bring_in(ctx: &Ctx, w: &Wanted, located: &Located) -> Result<()> {
    let cache = RepoCache::new(&ctx.root, w.kind, &w.id);
    if !located.missing.is_empty() {
        let metas = describe(ctx, w, located)?;
        let total: u64 = metas.iter().map(|(_, m)| m.size).sum();
        eprintln!(
            "launch: hub: downloading {} file(s) of {}@{} ({}) into {}",
            metas.len(),
            w.id,
            w.revision,
            human(total as f64),
            cache.dir().display()
        );
        let progress = Progress::new(total);
        let bar = progress.show();
        let queue = Mutex::new(metas);
        let remote = ctx.remote.as_ref().context("online")?;
        std::thread::scope(|s| -> Result<()> {
            let workers: Vec<_> = (0..ctx.threads.max(1))
                .map(|_| s.spawn(|| work(&queue, remote, &cache, &located.commit, &progress)))
                .collect();
            workers.into_iter().try_for_each(|h| {
                h.join()
                    .map_err(|_| anyhow!("a download thread panicked"))?
            })
        })?;
        bar.finish();
    }
    cache.write_ref(&w.revision, &located.commit)
}

fn work(
    queue: &Mutex<Vec<(String, Meta)>>,
    remote: &Remote,
    cache: &RepoCache,
    commit: &str,
    progress: &Progress,
) -> Result<()> {
    loop {
        let Some((file, meta)) = queue.lock().map_err(|_| anyhow!("queue poisoned"))?.pop() else {
            return Ok(());
        };
        let _lock = cache.lock(&meta.etag)?;
        if !blob_is_sound(cache, &meta.etag, meta.size)? {
            fetch_blob(remote, &meta, &cache.blob(&meta.etag), progress)
                .with_context(|| format!("downloading {file}"))?;
            remember(cache, &meta.etag)?;
        } else {
            progress.add(meta.size);
        }
        cache.link(commit, &file, &meta.etag)?;
    }
}
