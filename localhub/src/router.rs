//! Routes a request to its endpoint, applying injected faults first, and
//! writes one log line per request.

use crate::auth::Auth;
use crate::faults::{Faults, Kind};
use crate::http::{json_body, Reply, Request, Response};
use crate::lfs::Lfs;
use crate::store::Store;
use std::fs::File;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Everything the server knows.
pub struct Hub {
    /// Repositories and objects on disk.
    pub store: Store,
    /// Tokens and organizations.
    pub auth: Auth,
    /// LFS uploads.
    pub lfs: Lfs,
    /// Injected faults.
    pub faults: Faults,
    /// Names it lies about (`--hostile`).
    pub hostile: crate::hostile::Hostile,
    /// Files of at least this size go through LFS.
    pub lfs_threshold: u64,
    /// Request log (`METHOD PATH STATUS BYTES`), if asked for.
    pub log: Option<Mutex<File>>,
    /// Requests served, but for `GET /_localhub/requests` that reads it.
    pub requests: AtomicU64,
    /// The origin LFS downloads are redirected to (another port, like a CDN).
    pub cdn: String,
}

/// Dataset paths (`/api/datasets/NS/NAME/...`, `/datasets/NS/NAME/...`)
/// rewritten onto the model routes with the store key `datasets/NS`.
fn fold_datasets(s: &mut Vec<String>) {
    let at = match (s.first().map(String::as_str), s.get(1).map(String::as_str)) {
        (Some("api"), Some("datasets")) => 1,
        (Some("datasets"), _) => 0,
        _ => return,
    };
    if s.len() < at + 3 {
        return;
    }
    let ns = s.remove(at + 1);
    s[at] = format!("datasets/{ns}");
    if at == 1 {
        s.insert(1, "models".into());
    }
}

/// The route name faults refer to.
fn route_of(method: &str, s: &[String]) -> &'static str {
    let seg = |i: usize| s.get(i).map(String::as_str).unwrap_or("");
    match (method, seg(0), seg(1)) {
        ("PUT", "lfs", _) => "upload",
        ("POST", "lfs", "complete") => "complete",
        (_, "api", "whoami-v2") => "whoami",
        (_, "api", "repos") => "create",
        ("GET" | "HEAD", "lfs", "objects") => "download",
        ("GET" | "HEAD", _, _) if seg(2) == "resolve" => "resolve",
        (_, "api", "models") => match seg(4) {
            "tree" => "tree",
            "preupload" => "preupload",
            "commit" => "commit",
            "branch" => "branch",
            _ => "info",
        },
        (_, _, n) if n.ends_with(".git") => match seg(5) {
            "verify" => "verify",
            _ => "batch",
        },
        _ => "other",
    }
}

impl Hub {
    /// Handles one request.
    pub fn handle(&self, req: &mut Request) -> Reply {
        fold_datasets(&mut req.segments);
        self.hostile.unlie(&mut req.segments);
        if req.segments == ["_localhub", "requests"] {
            let n = self.requests.load(Ordering::SeqCst);
            return Reply::Send(Response::json(200, &serde_json::json!({ "requests": n })));
        }
        self.requests.fetch_add(1, Ordering::SeqCst);
        let route = route_of(&req.method, &req.segments);
        let length = req.header("content-length").unwrap_or("-").to_string();
        let mut note = match req.header("range") {
            Some(range) => format!(" ({range})"),
            None => String::new(),
        };
        let reply = match self.faults.hit(&req.method, route) {
            Some(Kind::Drop) => {
                let half = length.parse::<u64>().map_or(64 * 1024, |n| n / 2);
                let _ = std::io::copy(&mut (&mut req.body).take(half), &mut std::io::sink());
                Reply::Drop
            }
            Some(Kind::Status(code)) => {
                note += " (fault)";
                Reply::Send(Response::error(code, "injected server error"))
            }
            Some(Kind::TooMany) => {
                note += " (fault)";
                Reply::Send(
                    Response::error(429, "Too many requests, retry later")
                        .with_header("Retry-After", &self.faults.retry_after_s.to_string()),
                )
            }
            Some(Kind::Slow) => {
                std::thread::sleep(self.faults.slow);
                note += " (slow)";
                Reply::Send(self.dispatch(req))
            }
            Some(Kind::Stall) => {
                note += " (stalled)";
                Reply::Stall(self.dispatch(req), self.faults.slow)
            }
            None => Reply::Send(self.dispatch(req)),
        };
        if let Some(log) = &self.log {
            let status = match &reply {
                Reply::Send(r) | Reply::Stall(r, _) => r.status.to_string(),
                Reply::Drop => "DROPPED".into(),
            };
            let line = format!("{} {} {status} {length}{note}\n", req.method, req.raw_path);
            let _ = log.lock().unwrap().write_all(line.as_bytes());
        }
        reply
    }

    fn dispatch(&self, req: &mut Request) -> Response {
        let base = format!("http://{}", req.header("host").unwrap_or("127.0.0.1"));
        let s: Vec<String> = req.segments.clone();
        let s: Vec<&str> = s.iter().map(String::as_str).collect();
        let method = req.method.clone();
        let result = match (method.as_str(), &s[..]) {
            ("GET", ["api", "whoami-v2"]) => self.whoami(req),
            ("POST", ["api", "repos", "create"]) => self.create_repo(req, &base),
            ("POST", ["api", "validate-yaml"]) => Ok(Response::json(
                200,
                &serde_json::json!({ "errors": [], "warnings": [] }),
            )),
            ("GET", ["api", "models", ns, name]) => self.info(req, ns, name, "main"),
            ("GET", ["api", "models", ns, name, "revision", rev @ ..]) => {
                self.info(req, ns, name, &rev.join("/"))
            }
            ("GET", ["api", "models", ns, name, "tree", rest @ ..]) => {
                self.tree(req, ns, name, rest)
            }
            ("GET" | "HEAD", [ns, name, "resolve", rev, path @ ..]) if !path.is_empty() => {
                self.resolve(req, ns, name, rev, &path.join("/"))
            }
            ("GET" | "HEAD", ["lfs", "objects", oid]) => self.lfs_object(req, oid),
            ("POST", ["api", "models", ns, name, "preupload", rev @ ..]) => {
                self.preupload(req, ns, name, &rev.join("/"))
            }
            ("POST", ["api", "models", ns, name, "commit", rev @ ..]) => {
                self.commit(req, &base, ns, name, &rev.join("/"))
            }
            ("POST", ["api", "models", ns, name, "branch", b @ ..]) => {
                self.branch(req, ns, name, &b.join("/"))
            }
            ("POST", [ns, git, "info", "lfs", "objects", what]) if git.ends_with(".git") => {
                self.lfs_api(req, &base, ns, git.trim_end_matches(".git"), what)
            }
            ("PUT", ["lfs", "upload", oid]) => Ok(self.lfs.upload(&self.store, req, oid)),
            ("PUT", ["lfs", "part", id, n]) => Ok(self.lfs.part(req, id, n)),
            ("POST", ["lfs", "complete", id]) => {
                json_body(req).map(|body| self.lfs.complete(&self.store, req, id, &body))
            }
            _ => Err(Response::error(
                404,
                &format!("no route for {method} {}", req.raw_path),
            )),
        };
        result.unwrap_or_else(|e| e)
    }

    fn lfs_api(
        &self,
        req: &mut Request,
        base: &str,
        ns: &str,
        name: &str,
        what: &str,
    ) -> Result<Response, Response> {
        let accept = req.header("accept").unwrap_or("");
        if what == "batch" && !accept.contains("application/vnd.git-lfs+json") {
            return Err(Response::error(
                406,
                "the batch API needs Accept: application/vnd.git-lfs+json",
            ));
        }
        self.auth
            .writer(req, ns, self.store.owner(ns, name).as_deref())?;
        if !self.store.exists(ns, name) {
            return Err(Response::error(404, "Repository not found"));
        }
        let body = json_body(req)?;
        match what {
            "batch" => Ok(self
                .lfs
                .batch(&self.store, base, &format!("{ns}/{name}"), &body)),
            "verify" => Ok(self.lfs.verify(&self.store, &body)),
            _ => Err(Response::error(404, "unknown LFS endpoint")),
        }
    }
}
