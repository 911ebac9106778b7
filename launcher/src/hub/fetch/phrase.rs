//! Why a Hub id could not be resolved, in one line that names the key, the
//! repository and what to do.

use super::super::names::BadName;
use super::remote::{Refused, Unreachable};
use super::repo::{Ctx, Offline, Wanted};
use anyhow::{anyhow, Error};

/// The whole story of `e` for the id of `key`.
pub fn error(key: &str, w: &Wanted, ctx: &Ctx, e: Error) -> Error {
    let id = &w.id;
    let endpoint = ctx
        .remote
        .as_ref()
        .map_or_else(crate::hub::env::endpoint, |r| r.endpoint.clone());
    let page = format!("{endpoint}/{}{id}", w.kind.url_prefix());
    let token = "a token is read from HF_TOKEN or the token file (`hf auth login`)";
    let sent = ctx.remote.as_ref().is_some_and(|r| r.token.is_some());
    let absent = match sent {
        true => "(the token was sent, so it does not exist, or it is private to an account this token cannot read; check the spelling)",
        false => "(a private one needs a token: a token is read from HF_TOKEN or the token file (`hf auth login`))",
    };
    if let Some(r) = e.downcast_ref::<Refused>() {
        let why = match (r.status, r.code.as_str()) {
            (401, _) => format!(
                "the Hub refused access to {id} (HTTP 401): it is private or gated and no valid token was sent; \
                 if it is gated, request access on {page}; {token}"
            ),
            (403, _) | (_, "GatedRepo") => format!(
                "{id} is gated and this token has no access to it (HTTP {}): request access on {page}; {token}",
                r.status
            ),
            (404, "RevisionNotFound") => format!(
                "{id} has no revision {:?} ({}: a branch, tag or commit)",
                w.revision,
                match key {
                    "model.adapter" => "`model.adapter_revision`",
                    _ => "`model.revision` or the entry's `revision`",
                }
            ),
            (404, "EntryNotFound") => format!("a file is missing from {id}@{}: {}", w.revision, r.message),
            (404, _) if w.kind == super::cache::Kind::Dataset => {
                format!("{id} is not a dataset repository on {endpoint} {absent}")
            }
            (404, _) => {
                format!("{id} is not a local folder and not a repository on {endpoint} {absent}")
            }
            _ => format!("the Hub refused {id}: {r}"),
        };
        return anyhow!("`{key}`: {why}");
    }
    if let Some(bad) = e.downcast_ref::<BadName>() {
        return anyhow!("`{key}`: {bad}");
    }
    if let Some(o) = e.downcast_ref::<Offline>() {
        let mode = match ctx.remote {
            None => "offline (HF_HUB_OFFLINE is set)",
            Some(_) => "the Hub could not be reached",
        };
        return anyhow!("`{key}`: {mode} and {o}; unset HF_HUB_OFFLINE, or download it first");
    }
    if let Some(u) = e.downcast_ref::<Unreachable>() {
        return anyhow!(
            "`{key}`: {u}, and {id}@{} is not in the cache at {} (set HF_ENDPOINT, or HF_HUB_OFFLINE=1 to use the cache only)",
            w.revision,
            ctx.root.display()
        );
    }
    match format!("{e:#}") {
        named if named.starts_with(id.as_str()) => anyhow!("`{key}`: {named}"),
        other => anyhow!("`{key}`: {id}: {other}"),
    }
}
