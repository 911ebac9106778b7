//! Before any rank starts: a run that pushes its weights at the end must have
//! a token, and (unless `HF_HUB_OFFLINE`) the Hub must accept that token and
//! let it write to the repository's namespace. Otherwise the run would train
//! for hours and only then fail.

use super::api::Hub;
use super::env;
use super::explain::Explainer;
use super::http::StatusError;
use super::token;
use anyhow::{anyhow, bail, Result};
use runconfig::{repo_id, HubConfig};

/// Checks what the push after the run will need; prints where it will go.
pub fn check(hub: &HubConfig) -> Result<()> {
    let repo = repo_id::resolve(&hub.repo_id, hub.namespace.as_deref())
        .map_err(|e| anyhow!("hub: {e}"))?;
    let Some((token, source)) = token::lookup() else {
        bail!(
            "hub: no Hugging Face token found, and `hub.push: on_finish` needs one to push final/ \
             after training: set HF_TOKEN or log in with `hf auth login` ({}), \
             or set hub.push: never",
            token::searched()
        );
    };
    if env::offline() {
        println!(
            "launch: hub: HF_HUB_OFFLINE is set: the token from {source} is not checked with the Hub"
        );
        return Ok(());
    }
    let redactor = token.clone();
    let api = Hub::from_env(token);
    let endpoint = api.endpoint.clone();
    let ctx = Explainer {
        endpoint: &endpoint,
        source: &source,
        another: "set HF_TOKEN to another or log in again with `hf auth login`",
    };
    let who = match api.whoami() {
        Ok(who) => who,
        Err(e)
            if e.downcast_ref::<StatusError>()
                .is_some_and(|s| s.status == 401) =>
        {
            let e = ctx.explain(e, &repo.to_string(), None);
            bail!(redactor.redact(&format!("hub: {e:#}")))
        }
        Err(e) => bail!(redactor.redact(&format!(
            "hub: cannot check the token from {source} with the Hub at {endpoint}: {e:#}; \
             check the network and HF_ENDPOINT, or set hub.push: never"
        ))),
    };
    let ns = repo.namespace.clone().unwrap_or_else(|| who.name.clone());
    let full = format!("{ns}/{}", repo.name);
    if let Some(why) = who.write_problem(&full) {
        bail!(
            "hub: the token from {source} may not write to {full} on {endpoint}: {why}; \
             use a token with write access to {ns}, change hub.repo_id, or set hub.push: never"
        );
    }
    println!(
        "launch: hub: the token from {source} ({}) may write to {full} on {endpoint}; \
         final/ is pushed there after training",
        who.name
    );
    Ok(())
}
