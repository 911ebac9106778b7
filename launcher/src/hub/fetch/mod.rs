//! Models (their tokenizers, the adapters a run starts from) and datasets
//! named by Hub id, brought into the Hugging Face cache the Python tools
//! share before any rank starts, and the config handed to the ranks
//! rewritten to the snapshot folders (a dataset's `files` to its split's
//! files there). A config that
//! names only local paths costs nothing here: no client, no request.

pub mod cache;
mod dataset;
mod get;
mod locate;
mod phrase;
mod remote;
mod repo;
mod select;
mod verify;

use super::{env, retry::RetryPolicy, token};
use anyhow::Result;
use cache::Kind;
use locate::one;
pub use locate::Mode;
use repo::{Ctx, Wanted};
use runconfig::Config;
use select::{model_files, with_tokenizer, Need};

/// Where the resolved snapshot goes in the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// `model.path` (`Need::Model`), `model.tokenizer` (`Need::Tokenizer`)
    /// or `model.adapter` (`Need::Adapter`).
    Model(Need),
    /// `data.datasets[i]`: its `files` become the split's files.
    Dataset(usize),
}

/// One Hub id of the config: its key, the repository, where it goes.
struct Item {
    key: String,
    wanted: Wanted,
    target: Target,
}

fn items(cfg: &Config) -> Vec<Item> {
    let m = &cfg.model;
    let model = |key: &str, id: &str, revision: &str, need| Item {
        key: key.to_string(),
        wanted: Wanted {
            kind: Kind::Model,
            id: id.to_string(),
            revision: revision.to_string(),
        },
        target: Target::Model(need),
    };
    let mut out = Vec::new();
    if let Some(id) = m.hub_path() {
        out.push(model("model.path", id, m.revision(), Need::Model));
    }
    if let Some(id) = m.hub_tokenizer() {
        out.push(model("model.tokenizer", id, m.revision(), Need::Tokenizer));
    }
    if let Some(id) = m.hub_adapter() {
        out.push(model(
            "model.adapter",
            id,
            m.adapter_revision(),
            Need::Adapter,
        ));
    }
    for (i, d) in cfg.data.datasets.iter().enumerate() {
        if let Some(id) = &d.hub {
            out.push(Item {
                key: format!("data.datasets[{i}].hub"),
                wanted: Wanted {
                    kind: Kind::Dataset,
                    id: id.clone(),
                    revision: d.revision().to_string(),
                },
                target: Target::Dataset(i),
            });
        }
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
        let found = match item.target {
            Target::Dataset(i) => dataset::resolve(&ctx, &cfg.data.datasets[i], &item.wanted, mode),
            Target::Model(need) => {
                let own_tokenizer = need == Need::Model && cfg.model.tokenizer.is_none();
                let pick = move |files: &[String], _: &dyn Fn(&str) -> Option<String>| {
                    model_files(files, need).and_then(|f| with_tokenizer(f, own_tokenizer))
                };
                let w = &item.wanted;
                let eager = match need {
                    Need::Adapter => ["adapter_config.json"],
                    _ => ["config.json"],
                };
                repo::list(&ctx, w).and_then(|l| one(&ctx, w, &l, mode, &pick, &eager))
            }
        };
        let (located, what) = found.map_err(|e| phrase::error(&item.key, &item.wanted, &ctx, e))?;
        lines.push(format!("`{}`: {what}", item.key));
        match item.target {
            Target::Model(Need::Model) => cfg.model.path = Some(located.snapshot),
            Target::Model(Need::Adapter) => cfg.model.adapter = Some(located.snapshot),
            Target::Model(_) => cfg.model.tokenizer = Some(located.snapshot),
            Target::Dataset(i) => cfg.data.datasets[i].files = dataset::data_files(&located),
        }
    }
    Ok(lines)
}

/// Gives `to` (the same config at another world size) the snapshots that
/// [`resolve`] found for `from`.
pub fn adopt(from: &Config, to: &mut Config) {
    to.model.path.clone_from(&from.model.path);
    to.model.tokenizer.clone_from(&from.model.tokenizer);
    to.model.adapter.clone_from(&from.model.adapter);
    for (t, f) in to.data.datasets.iter_mut().zip(&from.data.datasets) {
        t.files.clone_from(&f.files);
    }
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
