//! The Git LFS side: the batch endpoint, signed upload URLs (basic and
//! multipart, like S3 presigned URLs: no Authorization header), multipart
//! completion and verify. Every object is checked for size and sha256
//! before it is stored.

use crate::http::{Request, Response};
use crate::store::Store;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Mutex;

/// LFS state: the URL-signing secret and multipart uploads in progress.
pub struct Lfs {
    secret: String,
    pub(crate) uploads: Mutex<HashMap<String, Multipart>>,
    /// Objects of at least this many bytes go multipart (when offered).
    pub multipart_threshold: u64,
    /// Part size of multipart uploads.
    pub chunk_size: u64,
}

pub(crate) fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::getrandom(&mut b).expect("random bytes");
    hex::encode(b)
}

/// Whether `s` looks like a sha256 hex digest.
pub fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

/// Reads the rest of `body` into `file` from `offset`, hashing it; returns
/// (bytes read, sha256 hex). A short body is an error.
pub(crate) fn receive(
    body: &mut impl Read,
    file: &File,
    mut offset: u64,
    hasher: &mut Option<Sha256>,
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let start = offset;
    loop {
        let n = body.read(&mut buf)?;
        if n == 0 {
            return Ok(offset - start);
        }
        if let Some(h) = hasher.as_mut() {
            h.update(&buf[..n]);
        }
        file.write_all_at(&buf[..n], offset)?;
        offset += n as u64;
    }
}

impl Lfs {
    /// A fresh state with a random signing secret.
    pub fn new(multipart_threshold: u64, chunk_size: u64) -> Lfs {
        Lfs {
            secret: random_hex(32),
            uploads: Mutex::new(HashMap::new()),
            multipart_threshold,
            chunk_size: chunk_size.max(1),
        }
    }

    pub(crate) fn sign(&self, what: &str) -> String {
        hex::encode(Sha256::digest(
            format!("{}\0{what}", self.secret).as_bytes(),
        ))
    }

    pub(crate) fn check_sig(&self, req: &Request, what: &str) -> Result<(), Response> {
        match req.query("sig") {
            Some(s) if s == self.sign(what) => Ok(()),
            _ => Err(Response::error(403, "Request signature does not match")),
        }
    }

    /// `POST /{ns}/{name}.git/info/lfs/objects/batch`, body already parsed.
    pub fn batch(&self, store: &Store, base: &str, repo: &str, body: &Value) -> Response {
        if body["operation"] != "upload" {
            return Response::error(422, "operation must be \"upload\"");
        }
        let transfers: Vec<&str> = body["transfers"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_else(|| vec!["basic"]);
        if !transfers.contains(&"basic") && !transfers.contains(&"multipart") {
            return Response::error(422, "no supported transfer (basic, multipart) offered");
        }
        if !body["hash_algo"].is_null() && body["hash_algo"] != "sha256" {
            return Response::error(422, "hash_algo must be sha256");
        }
        let Some(objects) = body["objects"].as_array() else {
            return Response::error(422, "objects must be a list");
        };
        let mut out = Vec::new();
        let mut any_multipart = false;
        for o in objects {
            let (Some(oid), Some(size)) = (o["oid"].as_str(), o["size"].as_u64()) else {
                return Response::error(422, "each object needs a string oid and an integer size");
            };
            if !is_sha256(oid) {
                out.push(json!({"oid": oid, "size": size, "error": {"code": 422, "message": "oid must be a sha256 hex digest"}}));
                continue;
            }
            if store.object_size(oid) == Some(size) {
                out.push(json!({ "oid": oid, "size": size }));
                continue;
            }
            let verify = json!({ "href": format!("{base}/{repo}.git/info/lfs/objects/verify"), "header": {} });
            let multipart =
                size >= self.multipart_threshold && size > 0 && transfers.contains(&"multipart");
            let upload = if multipart || !transfers.contains(&"basic") {
                any_multipart = true;
                self.start_multipart(store, base, oid, size)
            } else {
                let what = format!("{oid}:{size}");
                json!({ "href": format!("{base}/lfs/upload/{oid}?size={size}&sig={}", self.sign(&what)) })
            };
            out.push(json!({ "oid": oid, "size": size, "authenticated": true,
                             "actions": { "upload": upload, "verify": verify } }));
        }
        let transfer = if any_multipart { "multipart" } else { "basic" };
        Response::json(
            200,
            &json!({ "transfer": transfer, "objects": out, "hash_algo": "sha256" }),
        )
        .with_header("Content-Type", "application/vnd.git-lfs+json")
    }

    /// `PUT /lfs/upload/{oid}?size=N&sig=S`: the whole object in one body.
    pub fn upload(&self, store: &Store, req: &mut Request, oid: &str) -> Response {
        let size: u64 = req
            .query("size")
            .and_then(|s| s.parse().ok())
            .unwrap_or(u64::MAX);
        if let Err(r) = self.check_sig(req, &format!("{oid}:{size}")) {
            return r;
        }
        if let Some(len) = req
            .header("content-length")
            .and_then(|v| v.parse::<u64>().ok())
        {
            if len != size {
                return Response::error(
                    400,
                    &format!("Content-Length {len} does not match the announced size {size}"),
                );
            }
        }
        let tmp = store.incoming().join(format!("{oid}.{}", random_hex(6)));
        let result = (|| {
            let file = File::create(&tmp)?;
            let mut hasher = Some(Sha256::new());
            let n = receive(&mut req.body, &file, 0, &mut hasher)?;
            Ok::<_, std::io::Error>((n, hex::encode(hasher.unwrap().finalize())))
        })();
        let reply = match result {
            Err(e) => Response::error(400, &format!("upload body could not be read: {e}")),
            Ok((n, _)) if n != size => {
                Response::error(400, &format!("received {n} bytes, expected {size}"))
            }
            Ok((_, sha)) if sha != oid => {
                Response::error(400, &format!("sha256 mismatch: got {sha}, expected {oid}"))
            }
            Ok(_) => match fs::rename(&tmp, store.object_path(oid)) {
                Ok(()) => return Response::json(200, &json!({})),
                Err(e) => Response::error(500, &format!("cannot store object: {e}")),
            },
        };
        let _ = fs::remove_file(&tmp);
        reply
    }

    /// `POST /{ns}/{name}.git/info/lfs/objects/verify` with `{oid, size}`.
    pub fn verify(&self, store: &Store, body: &Value) -> Response {
        let (Some(oid), Some(size)) = (body["oid"].as_str(), body["size"].as_u64()) else {
            return Response::error(422, "verify needs oid and size");
        };
        match store.object_size(oid) {
            Some(s) if s == size => Response::json(200, &json!({})),
            _ => Response::error(
                404,
                &format!("object {oid} ({size} bytes) was not uploaded"),
            ),
        }
    }
}

/// A multipart upload in progress (its handling is in `multipart.rs`).
pub(crate) struct Multipart {
    pub(crate) oid: String,
    pub(crate) size: u64,
    pub(crate) chunk: u64,
    pub(crate) etags: Vec<Option<String>>,
    pub(crate) file: PathBuf,
}
