//! The download side, as the Hub serves it: the recursive tree listing,
//! `HEAD`/`GET .../resolve/REV/PATH` with `X-Repo-Commit`, `ETag`,
//! `X-Linked-Etag`, `X-Linked-Size`, a redirect to a signed object URL for
//! LFS files, and `Range` requests.

use crate::http::{Request, Response};
use crate::router::Hub;
use crate::store::{namespace, rev_dir, RefState, Store};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::path::PathBuf;

/// An error with the Hub's `X-Error-Code` header.
pub fn coded(status: u16, code: &str, message: &str) -> Response {
    Response::error(status, message).with_header("X-Error-Code", code)
}

/// The part of `bytes` a `Range: bytes=A-[B]` header asks for, as a response.
fn ranged(req: &Request, bytes: Vec<u8>, head: bool) -> Response {
    let total = bytes.len() as u64;
    let range = req
        .header("range")
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .map(|(a, b)| (a.trim().parse::<u64>().ok(), b.trim().parse::<u64>().ok()));
    let (status, start, end) = match range {
        Some((Some(a), b)) if a < total => (206, a, b.unwrap_or(total - 1).min(total - 1)),
        Some((Some(_), _)) if total > 0 => {
            return Response::error(416, "Requested range not satisfiable")
                .with_header("Content-Range", &format!("bytes */{total}"))
        }
        _ => (200, 0, total.saturating_sub(1)),
    };
    let body = if total == 0 {
        vec![]
    } else {
        bytes[start as usize..=end as usize].to_vec()
    };
    let mut r = Response {
        status,
        headers: vec![
            ("Content-Type".into(), "application/octet-stream".into()),
            ("Accept-Ranges".into(), "bytes".into()),
        ],
        body,
    };
    if status == 206 {
        r = r.with_header("Content-Range", &format!("bytes {start}-{end}/{total}"));
    }
    if head {
        let n = r.body.len().to_string();
        r.body.clear();
        r = r.with_header("Content-Length", &n);
    }
    r
}

fn read_file(path: &Path) -> Result<Vec<u8>, Response> {
    std::fs::read(path)
        .map_err(|e| Response::error(500, &format!("cannot read a stored file: {e}")))
}

impl Hub {
    /// The revision `rev` (branch or head commit) of a repository the caller may see.
    pub fn readable(
        &self,
        req: &Request,
        ns: &str,
        name: &str,
        rev: &str,
    ) -> Result<(String, RefState), Response> {
        let private = self.store.is_private(ns, name);
        if !self.store.exists(ns, name) || (private && !self.auth.reader(req, ns)) {
            let who = format!("{}/{name}", namespace(ns));
            return Err(coded(
                404,
                "RepoNotFound",
                &format!("Repository not found: {who}"),
            ));
        }
        self.store
            .revision(ns, name, rev)
            .ok_or_else(|| coded(404, "RevisionNotFound", &format!("Invalid rev id: {rev}")))
    }

    /// `GET /api/{models,datasets}/NS/NAME/tree/REV[/PATH]?recursive=true`.
    pub fn tree(
        &self,
        req: &Request,
        ns: &str,
        name: &str,
        rest: &[&str],
    ) -> Result<Response, Response> {
        let (rev, prefix) = rest
            .split_first()
            .map_or(("main", String::new()), |(r, p)| (*r, p.join("/")));
        let (_, state) = self.readable(req, ns, name, rev)?;
        let recursive = matches!(req.query("recursive"), Some("true" | "True" | "1"));
        let under = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        let mut dirs = BTreeSet::new();
        let mut out: Vec<Value> = Vec::new();
        for (path, e) in state.files.iter().filter(|(p, _)| p.starts_with(&under)) {
            let rel = &path[under.len()..];
            let parts: Vec<&str> = rel.split('/').collect();
            for i in 1..parts.len() {
                dirs.insert(format!("{under}{}", parts[..i].join("/")));
            }
            if !recursive && parts.len() > 1 {
                continue;
            }
            let mut item = json!({ "type": "file", "oid": e.oid, "size": e.size, "path": path });
            if e.lfs {
                item["lfs"] = json!({ "oid": e.oid, "size": e.size, "pointerSize": 134 });
            }
            out.push(item);
        }
        let depth = |d: &str| d[under.len()..].matches('/').count();
        for d in dirs.iter().filter(|d| recursive || depth(d) == 0) {
            out.push(json!({ "type": "directory", "oid": "0".repeat(40), "size": 0, "path": d }));
        }
        Ok(Response::json(200, &Value::Array(out)))
    }

    /// `HEAD`/`GET /[datasets/]NS/NAME/resolve/REV/PATH`.
    pub fn resolve(
        &self,
        req: &Request,
        ns: &str,
        name: &str,
        rev: &str,
        path: &str,
    ) -> Result<Response, Response> {
        let (branch, state) = self.readable(req, ns, name, rev)?;
        self.auth.gate(req, ns, name)?;
        let Some(e) = state.files.get(path) else {
            return Err(
                coded(404, "EntryNotFound", &format!("Entry not found: {path}"))
                    .with_header("X-Repo-Commit", &state.commit),
            );
        };
        let head = req.method == "HEAD";
        let r = if e.lfs {
            let url = format!(
                "{}/lfs/objects/{}?sig={}",
                self.cdn,
                e.oid,
                self.lfs.sign(&format!("get {}", e.oid))
            );
            Response {
                status: 302,
                headers: vec![],
                body: vec![],
            }
            .with_header("Location", &url)
            .with_header("X-Linked-Etag", &format!("\"{}\"", e.oid))
            .with_header("X-Linked-Size", &e.size.to_string())
            .with_header("ETag", &format!("\"{}\"", e.oid))
        } else {
            let bytes = read_file(&self.store.file_path(ns, name, &branch, path))?;
            ranged(req, bytes, head).with_header("ETag", &format!("\"{}\"", e.oid))
        };
        Ok(self
            .hostile
            .resolve(r.with_header("X-Repo-Commit", &state.commit)))
    }

    /// `HEAD`/`GET /lfs/objects/OID?sig=...`: a signed object URL, like a CDN's.
    pub fn lfs_object(&self, req: &Request, oid: &str) -> Result<Response, Response> {
        self.lfs.check_sig(req, &format!("get {oid}"))?;
        let bytes = read_file(&self.store.object_path(oid))?;
        Ok(ranged(req, bytes, req.method == "HEAD").with_header("ETag", &format!("\"{oid}\"")))
    }
}

impl Store {
    /// The branch named `rev`, or the branch whose head commit is `rev`:
    /// (branch name, state).
    pub fn revision(&self, ns: &str, name: &str, rev: &str) -> Option<(String, RefState)> {
        if let Some(state) = self.branch(ns, name, rev) {
            return Some((rev.to_string(), state));
        }
        let refs = fs::read_dir(self.repo(ns, name).join("refs")).ok()?;
        refs.flatten().find_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let branch = file
                .strip_suffix(".json")?
                .replace("%2F", "/")
                .replace("%25", "%");
            let state = self.branch(ns, name, &branch)?;
            (state.commit == rev).then_some((branch, state))
        })
    }

    /// Where file `path` of branch `branch` is stored (the branch name escaped).
    pub fn file_path(&self, ns: &str, name: &str, branch: &str, path: &str) -> PathBuf {
        self.repo(ns, name)
            .join("tree")
            .join(rev_dir(branch))
            .join(path)
    }
}
