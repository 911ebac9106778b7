//! Git LFS: the batch request (what to upload, and how: basic or multipart)
//! and the verify call. The transfers themselves are in `transfer`.

use super::api::Hub;
use super::files::LocalFile;
use super::http::{Body, Call};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

pub(super) const LFS_JSON: &str = "application/vnd.git-lfs+json";

/// An object to upload: a file and its sha256.
pub struct Object<'a> {
    /// The file.
    pub file: &'a LocalFile,
    /// Its sha256, hex.
    pub oid: String,
}

/// What the batch endpoint asks for one object.
pub(super) enum Plan {
    /// The Hub has it already.
    Present,
    /// One PUT of the whole file.
    Basic { href: String, verify: Option<Value> },
    /// PUT each part, then POST the completion to `href`.
    Multipart {
        href: String,
        chunk: u64,
        parts: Vec<String>,
        verify: Option<Value>,
    },
}

/// Replaces the public Hub's address in a URL by a custom endpoint (as
/// `huggingface_hub` does behind a proxy or mirror).
fn fix_endpoint(url: &str, endpoint: &str) -> String {
    if endpoint == "https://huggingface.co" {
        url.to_string()
    } else {
        url.replace("https://huggingface.co", endpoint)
    }
}

/// Asks the batch endpoint about `objects`, 256 at a time.
pub(super) fn batch(
    hub: &Hub,
    repo: &str,
    revision: &str,
    objects: &[Object],
) -> Result<Vec<Plan>> {
    let mut plans = Vec::with_capacity(objects.len());
    for chunk in objects.chunks(256) {
        let body = json!({
            "operation": "upload",
            "transfers": ["basic", "multipart"],
            "objects": chunk.iter().map(|o| json!({ "oid": o.oid, "size": o.file.size })).collect::<Vec<_>>(),
            "hash_algo": "sha256",
            "ref": { "name": revision },
        });
        let call = Call {
            method: "POST",
            url: format!("{}/{repo}.git/info/lfs/objects/batch", hub.endpoint),
            what: format!("LFS batch for {repo}"),
            auth: true,
            headers: vec![("Accept", LFS_JSON.into())],
            body: Body::Bytes(body.to_string().into_bytes(), LFS_JSON),
        };
        let v = hub.http.send(&call)?.json()?;
        let answers = v["objects"]
            .as_array()
            .context("malformed LFS batch answer: no `objects`")?;
        for o in chunk {
            let a = answers
                .iter()
                .find(|a| a["oid"] == o.oid.as_str())
                .with_context(|| format!("the LFS batch answer lacks {}", o.file.path))?;
            if let Some(err) = a.get("error") {
                bail!(
                    "the Hub refused {}: {} (code {})",
                    o.file.path,
                    err["message"],
                    err["code"]
                );
            }
            plans.push(plan(hub, o, a)?);
        }
    }
    Ok(plans)
}

fn plan(hub: &Hub, o: &Object, a: &Value) -> Result<Plan> {
    let Some(upload) = a["actions"].get("upload") else {
        return Ok(Plan::Present);
    };
    let href = fix_endpoint(
        upload["href"]
            .as_str()
            .context("upload action without href")?,
        &hub.endpoint,
    );
    let verify = a["actions"].get("verify").cloned();
    let header = &upload["header"];
    let Some(chunk) = header.get("chunk_size") else {
        return Ok(Plan::Basic { href, verify });
    };
    let chunk: u64 = chunk
        .as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| chunk.as_u64())
        .filter(|c| *c > 0)
        .context("malformed multipart answer: bad chunk_size")?;
    let mut parts: Vec<(u64, String)> = header
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|(k, v)| Some((k.parse().ok()?, fix_endpoint(v.as_str()?, &hub.endpoint))))
        .collect();
    parts.sort();
    if parts.len() as u64 != o.file.size.div_ceil(chunk) {
        bail!(
            "the Hub asked for {} parts of {} bytes for {} ({} bytes)",
            parts.len(),
            chunk,
            o.file.path,
            o.file.size
        );
    }
    Ok(Plan::Multipart {
        href,
        chunk,
        parts: parts.into_iter().map(|(_, u)| u).collect(),
        verify,
    })
}

pub(super) fn verify(hub: &Hub, object: &Object, action: &Option<Value>) -> Result<()> {
    let Some(action) = action else { return Ok(()) };
    let href = fix_endpoint(
        action["href"]
            .as_str()
            .context("verify action without href")?,
        &hub.endpoint,
    );
    let body = json!({ "oid": object.oid, "size": object.file.size });
    hub.http.send(&Call {
        method: "POST",
        url: href,
        what: format!("verify {}", object.file.path),
        auth: true,
        headers: vec![("Accept", LFS_JSON.into())],
        body: Body::Bytes(body.to_string().into_bytes(), LFS_JSON),
    })?;
    Ok(())
}
