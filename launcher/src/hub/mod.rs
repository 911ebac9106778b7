//! The Hugging Face Hub. Pushing a folder: the protocol `huggingface_hub`
//! speaks (create repo, preupload, Git LFS batch with basic and multipart
//! transfers, NDJSON commit), without Xet, robust to flaky networks.
//! Fetching models by id into the shared cache: [`fetch`].

mod api;
mod args;
mod commit;
mod env;
mod exclude;
mod explain;
pub mod fetch;
mod files;
mod http;
mod lfs;
mod names;
mod preflight;
mod progress;
mod push;
mod retry;
mod splits;
mod token;
mod transfer;
mod whoami;

use anyhow::Result;
use runconfig::HubConfig;
use std::path::Path;

pub use args::PushArgs;
pub use push::PushOptions;

/// `launch push DIR --repo NS/NAME [...]`.
pub fn push_command(options: &PushOptions) -> Result<()> {
    push::push(options)
}

/// Before the ranks of a run that pushes at the end start: the token exists,
/// the Hub accepts it and it may write to the namespace (exit 2 otherwise).
pub fn preflight(hub: &HubConfig) -> Result<()> {
    preflight::check(hub)
}

/// Pushes `<output_dir>/final` after a successful run, as `hub:` asks.
pub fn push_after_run(hub: &HubConfig, folder: &Path) -> Result<()> {
    push::push(&PushOptions {
        folder: folder.to_path_buf(),
        repo_id: hub.repo_id.clone(),
        namespace: hub.namespace.clone(),
        token: None,
        private: hub.private,
        revision: hub.revision.clone(),
        commit_message: hub.commit_message.clone(),
        // The run wrote final/: a link in it that leaves it was planted.
        follow_links: false,
    })
}
