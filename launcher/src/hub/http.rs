//! HTTP to the Hub on ureq (rustls): retries with exponential backoff on
//! 408, 429, 5xx and on dropped connections, honouring `Retry-After`; Hub
//! error messages turned into sentences; the token redacted everywhere.

use super::progress::Progress;
pub use super::retry::RetryPolicy;
use super::retry::{retryable, transient};
use super::token::Token;
use anyhow::{anyhow, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A request body.
pub enum Body {
    /// No body.
    Empty,
    /// Bytes with their content type.
    Bytes(Vec<u8>, &'static str),
    /// `len` bytes of a file from `offset`, streamed, counted in the progress.
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
    },
}

/// One request: what it is for (in messages), where, and how.
pub struct Call {
    /// `GET`, `POST` or `PUT`.
    pub method: &'static str,
    /// Full URL.
    pub url: String,
    /// For messages: "commit to org/name", "upload part 3/16 of x.safetensors".
    pub what: String,
    /// Send the token (not to presigned upload URLs).
    pub auth: bool,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body,
}

/// A successful (2xx) response, or a status the caller asked to see.
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// The `ETag` header, if any.
    pub etag: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// Parses the body as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
            .map_err(|e| anyhow!("the Hub answered something that is not JSON: {e}"))
    }
}

/// An HTTP error status after retries, already phrased.
#[derive(Debug)]
pub struct StatusError {
    /// Status code.
    pub status: u16,
    /// The Hub's own message, if it sent one.
    pub message: String,
}

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}: {}", self.status, self.message)
    }
}

impl std::error::Error for StatusError {}

/// The client: one connection pool, the token, the retry policy.
pub struct Http {
    agent: ureq::Agent,
    token: Token,
    retry: RetryPolicy,
    /// Bytes sent in file bodies, for the progress bar.
    pub progress: Option<Arc<Progress>>,
}

/// A reader that counts what it reads into a shared counter.
struct Counted<R> {
    inner: R,
    counter: Option<Arc<Progress>>,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(p) = &self.counter {
            p.add(n as u64);
        }
        Ok(n)
    }
}

impl Http {
    /// A client for `token` with the retry policy.
    pub fn new(token: Token, retry: RetryPolicy) -> Http {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(600)))
            .max_idle_connections_per_host(32)
            .user_agent(concat!("ferrospeed-launch/", env!("CARGO_PKG_VERSION")))
            .build();
        Http {
            agent: config.into(),
            token,
            retry,
            progress: None,
        }
    }

    /// Sends `call`, retrying transient failures; a non-2xx status that is
    /// not retried (or still failing) becomes a [`StatusError`].
    pub fn send(&self, call: &Call) -> Result<Reply> {
        let mut attempt = 0;
        loop {
            let sent = Arc::new(AtomicU64::new(0));
            let since = std::time::Instant::now();
            let outcome = self.attempt(call, &sent);
            let status = outcome.as_ref().map_or(0, |r| r.0.status);
            // The query of a signed upload URL is left out.
            let url = call.url.split('?').next().unwrap_or_default();
            let (method, seconds) = (call.method, since.elapsed().as_secs_f64());
            tracing::debug!("hub: {method} {url} -> {status} in {seconds:.3} s");
            // Bytes of a failed attempt will be sent again: take them back.
            let undo = |p: &Option<Arc<Progress>>| {
                if let Some(p) = p {
                    p.sub(sent.load(Ordering::Relaxed));
                }
            };
            let (why, wait) = match outcome {
                Ok(reply) if (200..300).contains(&reply.0.status) => return Ok(reply.0),
                Ok((reply, retry_after)) if retryable(reply.status) => {
                    undo(&self.progress);
                    let why = format!("HTTP {}", reply.status);
                    (
                        why,
                        retry_after.map(|s| Duration::from_secs(s).min(self.retry.max_wait)),
                    )
                }
                Ok((reply, _)) => {
                    let e = StatusError {
                        status: reply.status,
                        message: self.token.redact(&hub_message(&reply)),
                    };
                    return Err(anyhow::Error::new(e).context(call.what.clone()));
                }
                Err(e) => {
                    undo(&self.progress);
                    if !transient(&e) {
                        return Err(anyhow!(
                            "{}: {}",
                            call.what,
                            self.token.redact(&e.to_string())
                        ));
                    }
                    (self.token.redact(&describe(&e)), None)
                }
            };
            if attempt >= self.retry.max_retries {
                return Err(anyhow!(
                    "{} failed after {} attempts, last: {why}",
                    call.what,
                    attempt + 1
                ));
            }
            let wait = wait.unwrap_or_else(|| self.retry.backoff(attempt));
            attempt += 1;
            eprintln!(
                "launch: hub: {} failed ({why}); retry {attempt}/{} in {:.1} s",
                call.what,
                self.retry.max_retries,
                wait.as_secs_f64()
            );
            std::thread::sleep(wait);
        }
    }

    /// One attempt: the reply and its `Retry-After` seconds.
    fn attempt(
        &self,
        call: &Call,
        sent: &Arc<AtomicU64>,
    ) -> Result<(Reply, Option<u64>), ureq::Error> {
        let mut builder = ureq::http::Request::builder()
            .method(call.method)
            .uri(&call.url);
        if call.auth {
            builder = builder.header("Authorization", self.token.bearer());
        }
        for (k, v) in &call.headers {
            builder = builder.header(*k, v);
        }
        let response = match &call.body {
            Body::Empty => self.agent.run(builder.body(())?),
            Body::Bytes(bytes, ctype) => {
                let builder = builder.header("Content-Type", *ctype);
                self.agent.run(builder.body(bytes.as_slice())?)
            }
            Body::File { path, offset, len } => {
                let mut file = File::open(path)?;
                file.seek(SeekFrom::Start(*offset))?;
                let reader = Counted {
                    inner: file.take(*len),
                    counter: self.progress.clone(),
                    read: Arc::clone(sent),
                };
                let builder = builder.header("Content-Length", len.to_string());
                self.agent
                    .run(builder.body(ureq::SendBody::from_owned_reader(reader))?)
            }
        };
        let mut response = response?;
        let status = response.status().as_u16();
        let header = |n: &str| {
            response
                .headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let etag = header("etag");
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok());
        let message = header("x-error-message");
        let mut body = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()?;
        if body.is_empty() {
            if let Some(m) = message {
                body = serde_json::json!({ "error": m }).to_string().into_bytes();
            }
        }
        Ok((Reply { status, etag, body }, retry_after))
    }
}

/// The Hub's error text: `{"error": ...}` or the raw body, shortened.
fn hub_message(reply: &Reply) -> String {
    let text = serde_json::from_slice::<serde_json::Value>(&reply.body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(&reply.body).trim().to_string());
    let text: String = text.chars().take(500).collect();
    if text.is_empty() {
        "(no message)".into()
    } else {
        text
    }
}

fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => format!("connection lost: {io}"),
        ureq::Error::Timeout(t) => format!("timed out ({t:?})"),
        ureq::Error::ConnectionFailed => "cannot connect".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        other => other.to_string(),
    }
}
