//! Pushing a folder to the Hugging Face Hub: the protocol `huggingface_hub`
//! speaks (create repo, preupload, Git LFS batch with basic and multipart
//! transfers, NDJSON commit), without Xet, robust to flaky networks.

mod api;
mod args;
mod commit;
mod env;
mod files;
mod http;
mod lfs;
mod progress;
mod push;
mod repo_id;
mod token;
mod transfer;

use anyhow::Result;
use runconfig::HubConfig;
use std::path::Path;

pub use push::PushOptions;

/// `launch push DIR --repo NS/NAME [...]`.
pub fn push_command(args: &[String]) -> Result<()> {
    match args::parse(args)? {
        Some(options) => push::push(&options),
        None => {
            print!("{}", args::HELP);
            Ok(())
        }
    }
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
    })
}
