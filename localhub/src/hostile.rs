//! A hostile Hub, to test what a client does with names it must not trust:
//! `--hostile etag=VALUE` answers every `resolve` with that blob name
//! (`ETag` and `X-Linked-Etag`), `--hostile sha=VALUE` names that commit in
//! every repository info, `--hostile sibling=NAME` lists one more file in it.
//! Values such as `../../../../victim/x` or `/abs/train.jsonl` aim outside
//! the client's cache.

use crate::http::Response;
use anyhow::{bail, Result};
use serde_json::{json, Value};

/// What the server lies about.
#[derive(Debug, Default)]
pub struct Hostile {
    etag: Option<String>,
    sha: Option<String>,
    siblings: Vec<String>,
}

impl Hostile {
    /// Parses `KIND=VALUE` rules (`etag`, `sha`, `sibling`).
    pub fn parse(specs: &[String]) -> Result<Hostile> {
        let mut h = Hostile::default();
        for spec in specs {
            match spec.split_once('=') {
                Some(("etag", v)) => h.etag = Some(v.to_string()),
                Some(("sha", v)) => h.sha = Some(v.to_string()),
                Some(("sibling", v)) => h.siblings.push(v.to_string()),
                _ => bail!("--hostile {spec}: expected etag=VALUE, sha=VALUE or sibling=NAME"),
            }
        }
        Ok(h)
    }

    /// A repository info answer as this server tells it.
    pub fn info(&self, mut v: Value) -> Value {
        if let Some(sha) = &self.sha {
            v["sha"] = json!(sha);
        }
        if let Some(list) = v["siblings"].as_array_mut() {
            for name in &self.siblings {
                list.push(json!({ "rfilename": name, "size": 10 }));
            }
        }
        v
    }

    /// A `resolve` request at the commit it made up (`NS/NAME/resolve/SHA/...`,
    /// SHA split at its `/`) turned into one at `main`, so that a client
    /// that trusts the commit gets files to write.
    pub fn unlie(&self, segments: &mut Vec<String>) {
        let Some(sha) = &self.sha else { return };
        let parts: Vec<&str> = sha.split('/').collect();
        let at_sha = segments.get(2).is_some_and(|s| s == "resolve")
            && segments.len() > 3 + parts.len()
            && segments[3..3 + parts.len()].iter().eq(parts.iter());
        if at_sha {
            segments.splice(3..3 + parts.len(), ["main".to_string()]);
        }
    }

    /// A `resolve` answer with the blob name replaced.
    pub fn resolve(&self, mut r: Response) -> Response {
        if let Some(etag) = &self.etag {
            for (name, value) in r.headers.iter_mut() {
                if name.eq_ignore_ascii_case("etag") || name.eq_ignore_ascii_case("x-linked-etag") {
                    *value = format!("\"{etag}\"");
                }
            }
        }
        r
    }
}
