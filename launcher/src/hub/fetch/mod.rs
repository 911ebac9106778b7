//! Models (and their tokenizers) named by Hub id, brought into the Hugging
//! Face cache the Python tools share before any rank starts, and the config
//! handed to the ranks rewritten to the snapshot folders. A config that
//! names only local paths costs nothing here: no client, no request.

pub mod cache;
mod get;
mod phrase;
mod remote;
mod repo;
mod select;
mod verify;

use super::progress::human;
use super::{env, retry::RetryPolicy, token};
use anyhow::Result;
use cache::Kind;
use repo::{Ctx, Located, Wanted};
use runconfig::Config;
use select::{model_files, Need};
use std::path::PathBuf;

/// Download what is missing (a run), or only say what would be downloaded
/// (`launch check`: config.json alone is fetched, to plan memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Download,
    Plan,
}

/// One Hub id of the config: its key, the repository, what it must hold.
struct Item {
    key: &'static str,
    wanted: Wanted,
    need: Need,
}

fn items(cfg: &Config) -> Vec<Item> {
    let m = &cfg.model;
    let model = |key, id: &str, need| Item {
        key,
        wanted: Wanted {
            kind: Kind::Model,
            id: id.to_string(),
            revision: m.revision().to_string(),
        },
        need,
    };
    let mut out = Vec::new();
    if let Some(id) = m.hub_path() {
        out.push(model("model.path", id, Need::Model));
    }
    if let Some(id) = m.hub_tokenizer() {
        out.push(model("model.tokenizer", id, Need::Tokenizer));
    }
    out
}

/// Resolves every Hub id of `cfg` in the cache (downloading in `Download`
/// mode) and points the config at the snapshots. Returns one line per id
/// saying what is cached and what is (or would be) downloaded.
pub fn resolve(cfg: &mut Config, mode: Mode) -> Result<Vec<String>> {
    let items = items(cfg);
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let ctx = context()?;
    let mut lines = Vec::new();
    for item in &items {
        let (snapshot, line) =
            one(&ctx, item, mode).map_err(|e| phrase::error(item.key, &item.wanted, &ctx, e))?;
        lines.push(line);
        match item.key {
            "model.path" => cfg.model.path = Some(snapshot),
            _ => cfg.model.tokenizer = Some(snapshot),
        }
    }
    Ok(lines)
}

/// Gives `to` (the same config at another world size) the snapshots that
/// [`resolve`] found for `from`.
pub fn adopt(from: &Config, to: &mut Config) {
    to.model.path.clone_from(&from.model.path);
    to.model.tokenizer.clone_from(&from.model.tokenizer);
}

fn context() -> Result<Ctx> {
    let root = env::hub_cache().ok_or_else(|| {
        anyhow::anyhow!(
            "cannot place the Hugging Face cache: set HF_HOME or HF_HUB_CACHE (HOME is not set)"
        )
    })?;
    let remote = (!env::offline()).then(|| {
        remote::Remote::new(
            env::endpoint(),
            token::lookup().map(|(t, _)| t),
            RetryPolicy::from_env(),
        )
    });
    Ok(Ctx {
        root,
        remote,
        threads: env::threads(),
    })
}

/// Resolves one id: its snapshot folder and the line that describes it.
fn one(ctx: &Ctx, item: &Item, mode: Mode) -> Result<(PathBuf, String)> {
    let w = &item.wanted;
    let need = item.need;
    let pick = |files: &[String], _: &dyn Fn(&str) -> Option<String>| model_files(files, need);
    let mut located = repo::locate(ctx, w, &pick)?;
    let what = format!(
        "`{}`: {}@{} (commit {})",
        item.key,
        w.id,
        w.revision,
        &located.commit[..12.min(located.commit.len())]
    );
    if mode == Mode::Download || located.missing.is_empty() {
        repo::bring_in(ctx, w, &located)?;
        let line = format!(
            "{what}: {} file(s) in {}",
            located.files.len(),
            located.snapshot.display()
        );
        return Ok((located.snapshot, line));
    }
    // Plan: config.json now (it is small and the memory plan reads it).
    let later: Vec<String> = located
        .missing
        .iter()
        .filter(|f| *f != "config.json")
        .cloned()
        .collect();
    located.missing.retain(|f| f == "config.json");
    repo::bring_in(ctx, w, &located)?;
    located.missing = later;
    Ok((located.snapshot.clone(), plan_line(ctx, w, &located, &what)))
}

/// "N of M files cached, K to download (size)", sizes asked with `HEAD`.
fn plan_line(ctx: &Ctx, w: &Wanted, located: &Located, what: &str) -> String {
    let cached = located.files.len() - located.missing.len();
    let size = match repo::describe(ctx, w, located) {
        Ok(metas) => human(metas.iter().map(|(_, m)| m.size).sum::<u64>() as f64),
        Err(_) => "size unknown offline".into(),
    };
    format!(
        "{what}: {cached} of {} file(s) cached; `launch` would download {} ({size}): {}",
        located.files.len(),
        located.missing.len(),
        located.missing.join(", ")
    )
}
