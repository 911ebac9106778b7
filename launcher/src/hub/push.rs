//! Pushing a folder, start to end: check the inputs, find the token and the
//! namespace, create the repository, ask which files are new, upload the LFS
//! objects, commit. A second push of the same folder uploads nothing.

use super::api::{Hub, Remote};
use super::commit::{self, Change};
use super::env;
use super::explain::Explainer;
use super::files::{self, git_blob_sha1};
use super::lfs::Object;
use super::progress::{human, Progress};
use super::token;
use super::transfer;
use anyhow::{anyhow, bail, Context, Result};
use runconfig::repo_id;
use std::path::PathBuf;

/// What to push, where.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// The folder whose files become the repository's files.
    pub folder: PathBuf,
    /// `name` or `namespace/name`.
    pub repo_id: String,
    /// Prefixed to a `repo_id` without a namespace.
    pub namespace: Option<String>,
    /// An explicit token (else `HF_TOKEN`, then the token files).
    pub token: Option<String>,
    /// Create the repository as private (an existing one is left as it is);
    /// `launch push` and `hub.private` default to true.
    pub private: bool,
    /// Branch to commit to (default `main`; created when missing).
    pub revision: Option<String>,
    /// Commit summary.
    pub commit_message: Option<String>,
    /// Upload the files that symlinks in the folder point at outside it
    /// (skipped with a warning otherwise).
    pub follow_links: bool,
}

/// Pushes `o.folder` and prints what happened.
pub fn push(o: &PushOptions) -> Result<()> {
    let repo = repo_id::resolve(&o.repo_id, o.namespace.as_deref()).map_err(anyhow::Error::msg)?;
    let folder = o.folder.display().to_string();
    if env::offline() {
        bail!(
            "HF_HUB_OFFLINE is set, so {folder} is not pushed to the Hub ({repo}); \
             unset HF_HUB_OFFLINE and run `launch push {folder} --repo {repo}`"
        );
    }
    let files = files::scan(&o.folder, o.follow_links)?;
    let (token, source) = token::find(o.token.as_deref())?;
    let redactor = token.clone();
    let mut hub = Hub::from_env(token);
    let endpoint = hub.endpoint.clone();
    let ctx = Explainer {
        endpoint: &endpoint,
        source: &source,
        another: "pass another with --token",
    };
    let ns = match &repo.namespace {
        Some(ns) => ns.clone(),
        None => {
            hub.whoami()
                .map_err(|e| ctx.explain(e, &repo.to_string(), None))?
                .name
        }
    };
    let full = format!("{ns}/{}", repo.name);
    let revision = o
        .revision
        .clone()
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| "main".into());
    let message = o
        .commit_message
        .clone()
        .unwrap_or_else(|| format!("Upload {} with Ferrospeed", folder_name(&o.folder)));
    let result = upload(&mut hub, &files, &full, &revision, &message, o)
        .map_err(|e| ctx.explain(e, &full, Some(&ns)));
    // Last line of defence: no message ever carries the token.
    result.map_err(|e| anyhow!(redactor.redact(&format!("{e:#}"))))
}

fn folder_name(p: &std::path::Path) -> String {
    let abs = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    abs.file_name()
        .map_or("folder".into(), |n| n.to_string_lossy().into_owned())
}

/// Creates the repository and the branch when missing, uploads the new LFS
/// objects and commits every new or changed file; prints what it did.
fn upload(
    hub: &mut Hub,
    files: &[files::LocalFile],
    full: &str,
    revision: &str,
    message: &str,
    o: &PushOptions,
) -> Result<()> {
    let start = std::time::Instant::now();
    prepare_remote(hub, files, full, revision, o)?;
    let remote = hub.preupload(full, revision, files)?;
    let (mut changes, objects) = changes_of(files, &remote)?;
    if changes.is_empty() {
        println!(
            "launch: {full} already has every file of {} at {revision}: nothing to push",
            o.folder.display()
        );
        return Ok(());
    }
    let sent = send_objects(hub, full, revision, &objects)?;
    let changed = changes.len();
    changes.sort_by(|a, b| path_of(a).cmp(path_of(b)));
    let commit = hub.commit(full, revision, commit::ndjson(message, "", &changes))?;
    let secs = start.elapsed().as_secs_f64();
    let uploaded = if sent == 0 {
        "no LFS bytes uploaded (the Hub had them)".to_string()
    } else {
        format!(
            "{} uploaded in {secs:.1} s ({}/s)",
            human(sent as f64),
            human(sent as f64 / secs.max(1e-3))
        )
    };
    println!(
        "launch: pushed {changed} new or changed file(s) of {} to {}/{full} at {revision}: {uploaded}; commit {}",
        files.len(),
        hub.endpoint,
        commit.url
    );
    Ok(())
}

/// Announces the push, then creates the repository and the branch when missing.
fn prepare_remote(
    hub: &mut Hub,
    files: &[files::LocalFile],
    full: &str,
    revision: &str,
    o: &PushOptions,
) -> Result<()> {
    let total: u64 = files.iter().map(|f| f.size).sum();
    println!(
        "launch: pushing {} ({} files, {}) to {}/{full} (revision {revision})",
        o.folder.display(),
        files.len(),
        human(total as f64),
        hub.endpoint
    );
    if hub.create_repo(full, o.private)? {
        println!(
            "launch: created {} repository {full}",
            if o.private { "private" } else { "public" }
        );
    }
    if revision != "main" {
        hub.create_branch(full, revision)?;
    }
    Ok(())
}

/// The files whose content differs from the Hub's (`remote`, in the order of
/// `files`), and the LFS objects among them to upload.
fn changes_of<'a>(
    files: &'a [files::LocalFile],
    remote: &[Remote],
) -> Result<(Vec<Change>, Vec<Object<'a>>)> {
    let mut changes = Vec::new();
    let mut lfs_files = Vec::new();
    for (f, r) in files.iter().zip(remote) {
        if r.ignored {
            continue;
        }
        if r.lfs {
            lfs_files.push((f, r));
            continue;
        }
        let bytes =
            std::fs::read(&f.abs).with_context(|| format!("cannot read {}", f.abs.display()))?;
        if r.oid.as_deref() != Some(git_blob_sha1(&bytes).as_str()) {
            changes.push(Change::Regular {
                path: f.path.clone(),
                bytes,
            });
        }
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let refs: Vec<&files::LocalFile> = lfs_files.iter().map(|(f, _)| *f).collect();
    let oids = files::sha256_all(&refs, threads)?;
    let mut objects = Vec::new();
    for ((f, r), oid) in lfs_files.iter().zip(oids) {
        if r.oid.as_deref() != Some(oid.as_str()) {
            changes.push(Change::Lfs {
                path: f.path.clone(),
                oid: oid.clone(),
                size: f.size,
            });
            objects.push(Object { file: f, oid });
        }
    }
    Ok((changes, objects))
}

/// Uploads the LFS objects with a progress bar; returns the bytes sent.
fn send_objects(hub: &mut Hub, full: &str, revision: &str, objects: &[Object]) -> Result<u64> {
    let progress = Progress::new(objects.iter().map(|o| o.file.size).sum());
    hub.http.progress = Some(progress.clone());
    let bar = (!objects.is_empty()).then(|| progress.show());
    let sent = transfer::upload(hub, full, revision, objects, env::threads());
    if let Some(bar) = bar {
        bar.finish();
    }
    sent
}

fn path_of(c: &Change) -> &str {
    match c {
        Change::Regular { path, .. } | Change::Lfs { path, .. } => path,
    }
}
