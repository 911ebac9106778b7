//! What the Hub says about a repository before a byte is downloaded: the
//! commit a revision points at, the files it holds, and per file the blob
//! name (`X-Linked-Etag`, else `ETag`), the size and where the bytes are.

use super::super::names;
use super::super::retry::{retryable, transient, RetryPolicy};
use super::super::token::Token;
use super::cache::Kind;
use anyhow::{anyhow, Result};
use std::time::Duration;

/// A refusal no retry changes: a status and the Hub's `X-Error-Code`.
#[derive(Debug)]
pub struct Refused {
    pub status: u16,
    /// `RepoNotFound`, `RevisionNotFound`, `EntryNotFound`, `GatedRepo`, ...
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for Refused {}

/// The Hub cannot be reached at all (no route, no name, refused).
#[derive(Debug)]
pub struct Unreachable(pub String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

/// One file of a commit, as its `HEAD` describes it.
#[derive(Debug, Clone)]
pub struct Meta {
    pub etag: String,
    pub size: u64,
    /// Where to `GET` the bytes, and whether the token goes there.
    pub url: String,
    pub auth: bool,
}

/// The Hub at `endpoint`, with the token when there is one.
pub struct Remote {
    pub endpoint: String,
    pub token: Option<Token>,
    pub retry: RetryPolicy,
    agent: ureq::Agent,
}

pub type Response = ureq::http::Response<ureq::Body>;

impl Remote {
    pub fn new(endpoint: String, token: Option<Token>, retry: RetryPolicy) -> Remote {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .user_agent(concat!("ferrospeed-launch/", env!("CARGO_PKG_VERSION")))
            .build();
        Remote {
            endpoint,
            token,
            retry,
            agent: config.into(),
        }
    }

    /// Sends `method url` (with `range` from that byte when given), retrying
    /// what is worth it; any other status comes back for the caller.
    pub fn request(&self, method: &str, url: &str, auth: bool, range: u64) -> Result<Response> {
        let mut attempt = 0;
        loop {
            let mut b = ureq::http::Request::builder().method(method).uri(url);
            if let Some(t) = self.token.as_ref().filter(|_| auth) {
                b = b.header("Authorization", t.bearer());
            }
            if range > 0 {
                b = b.header("Range", format!("bytes={range}-"));
            }
            let why = match self
                .agent
                .run(b.header("Accept-Encoding", "identity").body(())?)
            {
                Ok(r) if !retryable(r.status().as_u16()) => return Ok(r),
                Ok(r) => format!("HTTP {}", r.status().as_u16()),
                Err(e) if no_route(&e) => {
                    return Err(Unreachable(format!("cannot reach {}: {e}", self.endpoint)).into())
                }
                Err(e) if transient(&e) => e.to_string(),
                Err(e) => return Err(anyhow!("{method} {url}: {e}")),
            };
            if attempt >= self.retry.max_retries {
                return Err(anyhow!(
                    "{method} {url} failed {} times, last: {why}",
                    attempt + 1
                ));
            }
            let wait = self.retry.backoff(attempt);
            attempt += 1;
            eprintln!(
                "launch: hub: {method} {url}: {why}; retry {attempt}/{} in {:.1} s",
                self.retry.max_retries,
                wait.as_secs_f64()
            );
            std::thread::sleep(wait);
        }
    }

    /// The commit `rev` points at and every file path of it.
    pub fn info(&self, kind: Kind, id: &str, rev: &str) -> Result<(String, Vec<String>)> {
        let url = format!(
            "{}/api/{}/{id}/revision/{}",
            self.endpoint,
            kind.plural(),
            escape(rev)
        );
        let mut r = self.request("GET", &url, true, 0)?;
        refused(&r)?;
        let body = r.body_mut().with_config().limit(64 << 20).read_to_vec()?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| anyhow!("the Hub's answer about {id} is not JSON: {e}"))?;
        let commit = v["sha"].as_str().unwrap_or_default().to_string();
        if commit.is_empty() {
            return Err(anyhow!("the Hub named no commit for {id} at {rev}"));
        }
        names::commit(id, &commit)?;
        let files = v["siblings"].as_array().into_iter().flatten();
        let files: Vec<String> = files
            .filter_map(|s| s["rfilename"].as_str().map(str::to_string))
            .collect();
        // Each name becomes a path under snapshots/: check them all first.
        files.iter().try_for_each(|f| names::file(id, f))?;
        Ok((commit, files))
    }

    /// `HEAD` of `file` at `commit`: its blob name, size and location.
    pub fn head(&self, kind: Kind, id: &str, commit: &str, file: &str) -> Result<Meta> {
        let url = format!(
            "{}/{}{id}/resolve/{commit}/{file}",
            self.endpoint,
            kind.url_prefix()
        );
        let mut r = self.request("HEAD", &url, true, 0)?;
        let mut location = url.clone();
        if let Some(to) = header(&r, "location").filter(|l| l.starts_with('/')) {
            // A renamed repository: the Hub points at the new name.
            location = format!("{}{to}", self.endpoint);
            r = self.request("HEAD", &location, true, 0)?;
        }
        refused(&r)?;
        let etag = header(&r, "x-linked-etag")
            .or_else(|| header(&r, "etag"))
            .map(|e| e.trim_start_matches("W/").trim_matches('"').to_string())
            .ok_or_else(|| anyhow!("the Hub sent no ETag for {file} of {id}"))?;
        // The blob name becomes a path under blobs/ and .locks/: check it first.
        names::blob(id, file, &etag)?;
        let size = header(&r, "x-linked-size")
            .or_else(|| header(&r, "content-length"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let (url, auth) = match header(&r, "location").filter(|_| r.status().is_redirection()) {
            Some(to) => (to, false),
            None => (location, true),
        };
        Ok(Meta {
            etag,
            size,
            url,
            auth,
        })
    }
}

/// Whether `e` says the Hub's host cannot be found or connected to at all
/// (a failed name lookup surfaces as an I/O error).
fn no_route(e: &ureq::Error) -> bool {
    matches!(e, ureq::Error::HostNotFound | ureq::Error::ConnectionFailed)
        || e.to_string().contains("failed to lookup address")
}

/// A header as text.
pub fn header(r: &Response, name: &str) -> Option<String> {
    r.headers().get(name)?.to_str().ok().map(str::to_string)
}

/// A 4xx answer as [`Refused`].
pub fn refused(r: &Response) -> Result<()> {
    let status = r.status().as_u16();
    if status < 400 {
        return Ok(());
    }
    Err(Refused {
        status,
        code: header(r, "x-error-code").unwrap_or_default(),
        message: header(r, "x-error-message").unwrap_or_default(),
    }
    .into())
}

/// A revision in a URL path: `/` as `%2F`, as the Hub expects.
fn escape(rev: &str) -> String {
    rev.replace('%', "%25").replace('/', "%2F")
}
