//! A minimal HTTP/1.1 server on `std::net`: one thread per connection,
//! keep-alive, `Content-Length` and chunked request bodies. Hand-written so
//! that faults (a connection dropped in the middle of a body) are exact.

pub use crate::body::Body;
use crate::body::{read_line, Chunked};
use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};

/// One parsed request; `body` streams the request body.
pub struct Request<'a> {
    /// `GET`, `POST`, `PUT`...
    pub method: String,
    /// Percent-decoded path segments (without the query).
    pub segments: Vec<String>,
    /// The raw path, as sent, without the query.
    pub raw_path: String,
    /// Decoded query pairs.
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The request body.
    pub body: Body<'a>,
}

impl Request<'_> {
    /// The first header with this (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first query value with this name.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Reads the whole body, refusing more than `limit` bytes.
    pub fn read_body(&mut self, limit: usize) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        (&mut self.body)
            .take(limit as u64 + 1)
            .read_to_end(&mut out)?;
        if out.len() > limit {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "body too large"));
        }
        Ok(out)
    }
}

/// What a handler answers.
pub enum Reply {
    /// A response to send.
    Send(Response),
    /// Close the connection without answering (a fault).
    Drop,
    /// Send the head and half of the body, hold the connection for the
    /// time given, then close it (a fault).
    Stall(Response, std::time::Duration),
}

/// A complete response.
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: value.to_string().into_bytes(),
        }
    }

    /// An error in the Hub's shape: `{"error": message}`, with `X-Error-Message`.
    pub fn error(status: u16, message: &str) -> Response {
        let mut r = Response::json(status, &serde_json::json!({ "error": message }));
        r.headers
            .push(("X-Error-Message".into(), message.replace(['\r', '\n'], " ")));
        r
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Decodes `%XX` escapes (and `+` in queries when `plus` is set).
pub fn percent_decode(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), b.get(i + 2).and_then(|c| hex(*c))) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' && plus { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Serves one connection until it closes: parse, handle, answer, repeat.
pub fn serve_connection(stream: TcpStream, handle: &dyn Fn(&mut Request) -> Reply) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::with_capacity(256 * 1024, stream);
    loop {
        let line = match read_line(&mut reader) {
            Ok(l) if l.is_empty() => continue,
            Ok(l) => l,
            Err(_) => return,
        };
        let mut parts = line.split(' ');
        let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
            return;
        };
        let method = method.to_string();
        let (raw_path, raw_query) = target.split_once('?').unwrap_or((target, ""));
        let raw_path = raw_path.to_string();
        let query = parse_query(raw_query);
        let Ok(headers) = read_headers(&mut reader) else {
            return;
        };
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v): &(String, String)| v.clone())
        };
        let close = get("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"));
        let chunked =
            get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
        let length: u64 = get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
            let _ = writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let segments = raw_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| percent_decode(s, false))
            .collect();
        let body = if chunked {
            Body::Chunked(Chunked::new(&mut reader))
        } else {
            Body::Fixed((&mut reader).take(length))
        };
        let mut req = Request {
            method,
            segments,
            raw_path,
            query,
            headers,
            body,
        };
        let mut resp = match handle(&mut req) {
            Reply::Send(resp) => resp,
            Reply::Stall(resp, hold) => {
                let _ = write_partial(&mut writer, &resp, true, resp.body.len() / 2);
                std::thread::sleep(hold);
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Reply::Drop => {
                // A fault: the connection dies with the body half read.
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        };
        if req.method == "HEAD" && !resp.body.is_empty() {
            let n = resp.body.len().to_string();
            resp.body.clear();
            resp.headers.push(("Content-Length".into(), n));
        }
        // Keep the connection in step: drain what the handler left unread.
        let drained = io::copy(&mut req.body, &mut io::sink()).is_ok();
        let close = close || !drained;
        if write_response(&mut writer, &resp, close).is_err() || close {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// The decoded `key=value` pairs of a query string.
fn parse_query(raw_query: &str) -> Vec<(String, String)> {
    raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect()
}

/// The header lines up to the empty line, names in lower case.
fn read_headers(reader: &mut BufReader<TcpStream>) -> io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let h = read_line(reader)?;
        if h.is_empty() {
            return Ok(headers);
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
}

fn write_response(w: &mut TcpStream, resp: &Response, close: bool) -> io::Result<()> {
    write_partial(w, resp, close, resp.body.len())
}

/// The head and the first `body` bytes of the body, in one write.
fn write_partial(w: &mut TcpStream, resp: &Response, close: bool, body: usize) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    // A HEAD answer names the length of the body it does not send.
    if !resp.headers.iter().any(|(k, _)| k == "Content-Length") {
        head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut all = head.into_bytes();
    all.extend_from_slice(&resp.body[..body]);
    w.write_all(&all)?;
    w.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        206 => "Partial Content",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Parses a JSON request body (at most 64 MiB).
pub fn json_body(req: &mut Request) -> Result<serde_json::Value, Response> {
    let bytes = req
        .read_body(64 << 20)
        .map_err(|e| Response::error(400, &format!("cannot read body: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| Response::error(400, &format!("body is not JSON: {e}")))
}
