//! Multipart uploads of the local Hub: signed part URLs, parts written in
//! place at their offsets, and the completion that checks the part count,
//! the ETags, the size and the sha256 of the assembled object.

use crate::http::{Request, Response};
use crate::lfs::{random_hex, receive, Lfs, Multipart};
use crate::store::Store;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs::{self, File};
use std::io::Read;
use std::path::PathBuf;

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
    pub(crate) fn start_multipart(&self, store: &Store, base: &str, oid: &str, size: u64) -> Value {
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
}
