//! LFS transfers on a pool of threads: basic (one PUT of the whole file) or
//! multipart (one PUT per part, each retried on its own; the thread that
//! finishes the last part posts the completion), then verify.

use super::api::Hub;
use super::files::LocalFile;
use super::http::{Body, Call};
use super::lfs::{batch, verify, Object, Plan, LFS_JSON};
use anyhow::{anyhow, Result};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

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
