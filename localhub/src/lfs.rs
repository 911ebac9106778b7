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

/// A multipart upload in progress.
struct Multipart {
    oid: String,
    size: u64,
    chunk: u64,
    etags: Vec<Option<String>>,
    file: PathBuf,
}

/// LFS state: the URL-signing secret and multipart uploads in progress.
pub struct Lfs {
    secret: String,
    uploads: Mutex<HashMap<String, Multipart>>,
    /// Objects of at least this many bytes go multipart (when offered).
    pub multipart_threshold: u64,
    /// Part size of multipart uploads.
    pub chunk_size: u64,
}

fn random_hex(n: usize) -> String {
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
fn receive(
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

fn sha256_file(path: &PathBuf) -> std::io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
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

    fn sign(&self, what: &str) -> String {
        hex::encode(Sha256::digest(
            format!("{}\0{what}", self.secret).as_bytes(),
        ))
    }

    fn check_sig(&self, req: &Request, what: &str) -> Result<(), Response> {
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

    fn start_multipart(&self, store: &Store, base: &str, oid: &str, size: u64) -> Value {
        let id = random_hex(12);
        let parts = size.div_ceil(self.chunk_size);
        let mut header = serde_json::Map::new();
        header.insert("chunk_size".into(), json!(self.chunk_size.to_string()));
        for p in 1..=parts {
            let sig = self.sign(&format!("{id}:{p}"));
            header.insert(
                format!("{p:05}"),
                json!(format!("{base}/lfs/part/{id}/{p}?sig={sig}")),
            );
        }
        self.uploads.lock().unwrap().insert(
            id.clone(),
            Multipart {
                oid: oid.into(),
                size,
                chunk: self.chunk_size,
                etags: vec![None; parts as usize],
                file: store.incoming().join(&id),
            },
        );
        let sig = self.sign(&format!("{id}:complete"));
        json!({ "href": format!("{base}/lfs/complete/{id}?sig={sig}"), "header": header })
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

    /// `PUT /lfs/part/{id}/{n}?sig=S`: one part of a multipart upload.
    pub fn part(&self, req: &mut Request, id: &str, part: &str) -> Response {
        if let Err(r) = self.check_sig(req, &format!("{id}:{part}")) {
            return r;
        }
        let (file, offset, expect) = {
            let uploads = self.uploads.lock().unwrap();
            let Some(up) = uploads.get(id) else {
                return Response::error(404, "no such upload");
            };
            let n: u64 = part.parse().unwrap_or(0);
            let parts = up.etags.len() as u64;
            if n == 0 || n > parts {
                return Response::error(400, "part number out of range");
            }
            let expect = if n < parts {
                up.chunk
            } else {
                up.size - up.chunk * (parts - 1)
            };
            (up.file.clone(), up.chunk * (n - 1), expect)
        };
        let result = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&file)
            .and_then(|f| receive(&mut req.body, &f, offset, &mut None));
        match result {
            Err(e) => Response::error(400, &format!("part body could not be read: {e}")),
            Ok(n) if n != expect => Response::error(
                400,
                &format!("part {part}: received {n} bytes, expected {expect}"),
            ),
            Ok(_) => {
                let etag = format!("\"{}\"", random_hex(16));
                let mut uploads = self.uploads.lock().unwrap();
                if let Some(up) = uploads.get_mut(id) {
                    up.etags[part.parse::<usize>().unwrap() - 1] = Some(etag.clone());
                }
                Response::json(200, &json!({})).with_header("ETag", &etag)
            }
        }
    }

    /// `POST /lfs/complete/{id}?sig=S` with `{oid, parts: [{partNumber, etag}]}`.
    pub fn complete(&self, store: &Store, req: &Request, id: &str, body: &Value) -> Response {
        if let Err(r) = self.check_sig(req, &format!("{id}:complete")) {
            return r;
        }
        let (oid, size, file) = {
            let uploads = self.uploads.lock().unwrap();
            let Some(up) = uploads.get(id) else {
                return Response::error(404, "no such upload");
            };
            if body["oid"].as_str() != Some(up.oid.as_str()) {
                return Response::error(400, "completion oid does not match the upload");
            }
            let Some(parts) = body["parts"].as_array() else {
                return Response::error(400, "completion needs a `parts` list");
            };
            if parts.len() != up.etags.len() {
                return Response::error(
                    400,
                    &format!("expected {} parts, got {}", up.etags.len(), parts.len()),
                );
            }
            for (i, p) in parts.iter().enumerate() {
                if p["partNumber"].as_u64() != Some(i as u64 + 1) {
                    return Response::error(400, "parts must be numbered 1..n in order");
                }
                if up.etags[i].is_none() || p["etag"].as_str() != up.etags[i].as_deref() {
                    return Response::error(
                        400,
                        &format!("part {}: etag does not match an uploaded part", i + 1),
                    );
                }
            }
            (up.oid.clone(), up.size, up.file.clone())
        };
        let len = fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        match sha256_file(&file) {
            Ok(sha) if sha == oid && len == size => {}
            Ok(sha) => {
                return Response::error(
                    400,
                    &format!(
                        "assembled object: sha256 {sha}, {len} bytes; expected {oid}, {size} bytes"
                    ),
                )
            }
            Err(e) => {
                return Response::error(500, &format!("cannot read the assembled object: {e}"))
            }
        }
        if let Err(e) = fs::rename(&file, store.object_path(&oid)) {
            return Response::error(500, &format!("cannot store object: {e}"));
        }
        self.uploads.lock().unwrap().remove(id);
        Response::json(200, &json!({}))
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
