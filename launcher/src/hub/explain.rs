//! Hub refusals (401, 403, 404) as sentences a user can act on, naming where
//! the token came from but never the token.

use super::http::StatusError;
use super::token::Source;
use anyhow::anyhow;

/// Turns Hub refusals into sentences a user can act on.
pub struct Explainer<'a> {
    /// The Hub's URL.
    pub endpoint: &'a str,
    /// Where the token came from.
    pub source: &'a Source,
    /// How to use another token, in words.
    pub another: &'a str,
}

impl Explainer<'_> {
    /// `e` as a sentence when it is a 401, 403 or 404 of the Hub.
    pub fn explain(&self, e: anyhow::Error, repo: &str, ns: Option<&str>) -> anyhow::Error {
        let Some(s) = e.downcast_ref::<StatusError>() else {
            return e;
        };
        let (endpoint, source) = (self.endpoint, self.source);
        match s.status {
            401 => anyhow!(
                "the Hub at {endpoint} rejected the token from {source} (401 Unauthorized: {}); \
                 check that it is valid and not expired (`hf auth whoami`), or {}",
                s.message,
                self.another
            ),
            403 => anyhow!(
                "the token from {source} may not write to {repo} on {endpoint} (403 Forbidden: {}); \
                 use a token with write access to the namespace {}",
                s.message,
                ns.unwrap_or("of the repository")
            ),
            404 => anyhow!("{e:#}; does {repo} exist on {endpoint}, and can the token from {source} see it?"),
            _ => e,
        }
    }
}
