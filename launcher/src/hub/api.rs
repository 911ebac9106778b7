//! The Hub's repository endpoints: whoami, create repo (`exist_ok`), create
//! branch, preupload (upload mode and remote oid of each file), commit.

use super::files::LocalFile;
use super::http::{Body, Call, Http, Reply, RetryPolicy, StatusError};
use super::token::Token;
use super::whoami::Identity;
use anyhow::{bail, Context, Result};
use base64::Engine;
use serde_json::{json, Value};

/// A Hub at an endpoint, with a token.
pub struct Hub {
    /// Requests, retries, token.
    pub http: Http,
    /// `https://huggingface.co` or `$HF_ENDPOINT`, without a trailing `/`.
    pub endpoint: String,
}

/// How the Hub wants a file, and what it already has at that path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// Through LFS (else inline in the commit).
    pub lfs: bool,
    /// The file's oid on the Hub at this revision, if it exists there.
    pub oid: Option<String>,
    /// The Hub's `.gitignore` excludes it.
    pub ignored: bool,
}

/// A commit the Hub made.
#[derive(Debug, Clone)]
pub struct Commit {
    /// Where to see it.
    pub url: String,
}

/// Percent-encodes a path segment (everything but unreserved characters).
pub fn quote(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn status_of(e: &anyhow::Error) -> Option<u16> {
    e.downcast_ref::<StatusError>().map(|s| s.status)
}

impl Hub {
    /// The Hub of `$HF_ENDPOINT`, with `token` and the retry policy of the
    /// environment.
    pub fn from_env(token: Token) -> Hub {
        Hub {
            http: Http::new(token, RetryPolicy::from_env()),
            endpoint: super::env::endpoint(),
        }
    }

    fn call(&self, method: &'static str, path: &str, what: String, body: Body) -> Call {
        Call {
            method,
            url: format!("{}{path}", self.endpoint),
            what,
            auth: true,
            headers: vec![],
            body,
        }
    }

    fn json(value: &Value) -> Body {
        Body::Bytes(value.to_string().into_bytes(), "application/json")
    }

    /// Who owns the token and what it may do (`whoami-v2`).
    pub fn whoami(&self) -> Result<Identity> {
        let reply = self.http.send(&self.call(
            "GET",
            "/api/whoami-v2",
            "ask the Hub who owns the token".into(),
            Body::Empty,
        ))?;
        Identity::parse(&reply.json()?)
    }

    /// Whether `repo` exists and the token can see it.
    pub fn repo_exists(&self, repo: &str) -> Result<bool> {
        let call = self.call(
            "GET",
            &format!("/api/models/{repo}"),
            format!("look up {repo}"),
            Body::Empty,
        );
        match self.http.send(&call) {
            Ok(_) => Ok(true),
            Err(e) if status_of(&e) == Some(404) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates `repo` (`ns/name`); an existing one is fine. Returns whether it
    /// was created.
    pub fn create_repo(&self, repo: &str, private: bool) -> Result<bool> {
        let (ns, name) = repo
            .split_once('/')
            .context("repo id without a namespace")?;
        let visibility = if private { "private" } else { "public" };
        let body =
            json!({ "name": name, "organization": ns, "type": "model", "visibility": visibility });
        let call = self.call(
            "POST",
            "/api/repos/create",
            format!("create {repo}"),
            Self::json(&body),
        );
        match self.http.send(&call) {
            Ok(_) => Ok(true),
            Err(e) if status_of(&e) == Some(409) => Ok(false),
            // Without the right to create, the repository may still exist and be writable.
            Err(e) if matches!(status_of(&e), Some(401..=403)) => match self.repo_exists(repo) {
                Ok(true) => Ok(false),
                _ => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Creates branch `branch` of `repo` from its default branch; an existing one is fine.
    pub fn create_branch(&self, repo: &str, branch: &str) -> Result<()> {
        let path = format!("/api/models/{repo}/branch/{}", quote(branch));
        let call = self.call(
            "POST",
            &path,
            format!("create branch {branch} of {repo}"),
            Self::json(&json!({})),
        );
        match self.http.send(&call) {
            Ok(_) => Ok(()),
            Err(e) if status_of(&e) == Some(409) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Asks, 256 files at a time, how each file must be uploaded and what the
    /// Hub already has at its path.
    pub fn preupload(
        &self,
        repo: &str,
        revision: &str,
        files: &[LocalFile],
    ) -> Result<Vec<Remote>> {
        let mut out = Vec::with_capacity(files.len());
        for chunk in files.chunks(256) {
            let items: Vec<Value> = chunk
                .iter()
                .map(|f| {
                    json!({ "path": f.path, "size": f.size,
                            "sample": base64::engine::general_purpose::STANDARD.encode(&f.sample) })
                })
                .collect();
            let path = format!("/api/models/{repo}/preupload/{}", quote(revision));
            let reply = self.http.send(&self.call(
                "POST",
                &path,
                format!("preupload to {repo}"),
                Self::json(&json!({ "files": items })),
            ))?;
            let v = reply.json()?;
            let Some(answers) = v["files"].as_array() else {
                bail!("malformed preupload answer from the Hub: no `files` list");
            };
            for f in chunk {
                let a = answers
                    .iter()
                    .find(|a| a["path"] == f.path.as_str())
                    .with_context(|| format!("the Hub's preupload answer lacks {}", f.path))?;
                let lfs = match a["uploadMode"].as_str() {
                    Some("lfs") => f.size > 0, // empty files are always regular
                    Some("regular") => false,
                    other => bail!("the Hub answered upload mode {other:?} for {}", f.path),
                };
                out.push(Remote {
                    lfs,
                    oid: a["oid"].as_str().map(str::to_string),
                    ignored: a["shouldIgnore"].as_bool().unwrap_or(false),
                });
            }
        }
        Ok(out)
    }

    /// Posts an NDJSON commit body to `revision` of `repo`.
    pub fn commit(&self, repo: &str, revision: &str, ndjson: Vec<u8>) -> Result<Commit> {
        let path = format!("/api/models/{repo}/commit/{}", quote(revision));
        let call = self.call(
            "POST",
            &path,
            format!("commit to {repo}"),
            Body::Bytes(ndjson, "application/x-ndjson"),
        );
        let reply: Reply = self.http.send(&call)?;
        let v = reply.json()?;
        Ok(Commit {
            url: v["commitUrl"].as_str().unwrap_or("").to_string(),
        })
    }
}
