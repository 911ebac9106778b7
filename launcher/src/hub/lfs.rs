//! Git LFS uploads: the batch request, then basic (one PUT) or multipart
//! (one PUT per part, each retried on its own, then a completion POST)
//! transfers on a pool of threads, then verify.

use super::api::Hub;
use super::files::LocalFile;
use super::http::{Body, Call};
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

const LFS_JSON: &str = "application/vnd.git-lfs+json";

/// An object to upload: a file and its sha256.
pub struct Object<'a> {
    /// The file.
    pub file: &'a LocalFile,
    /// Its sha256, hex.
    pub oid: String,
}

/// What the batch endpoint asks for one object.
enum Plan {
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

/// A multipart upload in flight.
struct Upload<'a> {
    object: &'a Object<'a>,
    href: String,
    verify: Option<Value>,
    left: AtomicUsize,
    etags: Mutex<Vec<Option<String>>>,
}

/// One unit of work for the pool.
enum Job {
    Basic {
        object: usize,
        href: String,
        verify: Option<Value>,
    },
    Part {
        upload: usize,
        n: usize,
        href: String,
        offset: u64,
        len: u64,
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
fn batch(hub: &Hub, repo: &str, revision: &str, objects: &[Object]) -> Result<Vec<Plan>> {
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

fn verify(hub: &Hub, object: &Object, action: &Option<Value>) -> Result<()> {
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

fn complete(hub: &Hub, up: &Upload) -> Result<()> {
    let etags = up.etags.lock().unwrap().clone();
    let parts: Vec<Value> = etags
        .into_iter()
        .enumerate()
        .map(|(i, e)| json!({ "partNumber": i + 1, "etag": e.unwrap_or_default() }))
        .collect();
    let body = json!({ "oid": up.object.oid, "parts": parts });
    hub.http.send(&Call {
        method: "POST",
        url: up.href.clone(),
        what: format!("complete the upload of {}", up.object.file.path),
        auth: false,
        headers: vec![("Accept", LFS_JSON.into())],
        body: Body::Bytes(body.to_string().into_bytes(), LFS_JSON),
    })?;
    verify(hub, up.object, &up.verify)
}

/// Uploads the objects the Hub lacks on `threads` threads; returns how many
/// bytes had to be sent.
pub fn upload(
    hub: &Hub,
    repo: &str,
    revision: &str,
    objects: &[Object],
    threads: usize,
) -> Result<u64> {
    let plans = batch(hub, repo, revision, objects)?;
    let (mut jobs, mut uploads, mut bytes) = (Vec::new(), Vec::new(), 0);
    for (i, (object, plan)) in objects.iter().zip(plans).enumerate() {
        match plan {
            Plan::Present => continue,
            Plan::Basic { href, verify } => jobs.push(Job::Basic {
                object: i,
                href,
                verify,
            }),
            Plan::Multipart {
                href,
                chunk,
                parts,
                verify,
            } => {
                let u = uploads.len();
                for (n, part_href) in parts.iter().enumerate() {
                    let offset = n as u64 * chunk;
                    let len = chunk.min(object.file.size - offset);
                    jobs.push(Job::Part {
                        upload: u,
                        n,
                        href: part_href.clone(),
                        offset,
                        len,
                    });
                }
                uploads.push(Upload {
                    object,
                    href,
                    verify,
                    left: AtomicUsize::new(parts.len()),
                    etags: Mutex::new(vec![None; parts.len()]),
                });
            }
        }
        bytes += object.file.size;
    }
    if let Some(p) = &hub.http.progress {
        p.set_total(bytes);
    }
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, jobs.len().max(1)) {
            s.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) else {
                        break;
                    };
                    if let Err(e) = run_job(hub, objects, &uploads, job) {
                        failed.store(true, Ordering::Relaxed);
                        first_error.lock().unwrap().get_or_insert(e);
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap() {
        Some(e) => Err(e),
        None => Ok(bytes),
    }
}

fn put(
    hub: &Hub,
    href: &str,
    what: String,
    file: &LocalFile,
    offset: u64,
    len: u64,
) -> Result<Option<String>> {
    let reply = hub.http.send(&Call {
        method: "PUT",
        url: href.to_string(),
        what,
        auth: false,
        headers: vec![],
        body: Body::File {
            path: file.abs.clone(),
            offset,
            len,
        },
    })?;
    Ok(reply.etag)
}

fn run_job(hub: &Hub, objects: &[Object], uploads: &[Upload], job: &Job) -> Result<()> {
    match job {
        Job::Basic {
            object,
            href,
            verify: v,
        } => {
            let o = &objects[*object];
            put(
                hub,
                href,
                format!("upload {}", o.file.path),
                o.file,
                0,
                o.file.size,
            )?;
            verify(hub, o, v)
        }
        Job::Part {
            upload,
            n,
            href,
            offset,
            len,
        } => {
            let up = &uploads[*upload];
            let parts = up.etags.lock().unwrap().len();
            let what = format!("upload part {}/{parts} of {}", n + 1, up.object.file.path);
            let etag = put(hub, href, what.clone(), up.object.file, *offset, *len)?
                .filter(|e| !e.is_empty())
                .ok_or_else(|| anyhow!("{what}: the Hub returned no ETag"))?;
            up.etags.lock().unwrap()[*n] = Some(etag);
            if up.left.fetch_sub(1, Ordering::SeqCst) == 1 {
                complete(hub, up)?;
            }
            Ok(())
        }
    }
}
