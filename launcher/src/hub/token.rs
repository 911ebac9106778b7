//! Finding the Hugging Face token, and keeping it out of every message.
//!
//! Order, as `huggingface_hub` does it: an explicit `--token`, then
//! `HF_TOKEN`, then the file `$HF_TOKEN_PATH`, then `$HF_HOME/token`, then
//! `~/.cache/huggingface/token` (`$XDG_CACHE_HOME/huggingface/token` when set).

use anyhow::{bail, Result};
use std::fmt;
use std::path::PathBuf;

/// A token. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a token string (trimmed).
    pub fn new(text: &str) -> Option<Token> {
        let t = text.trim();
        (!t.is_empty()).then(|| Token(t.to_string()))
    }

    /// The `Authorization` header value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.0)
    }

    /// Replaces every occurrence of the token in `text` with `hf_***`.
    pub fn redact(&self, text: &str) -> String {
        text.replace(&self.0, "hf_***")
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("hf_***")
    }
}

/// Where a token was found, for messages ("from HF_TOKEN").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--token`.
    Explicit,
    /// The `HF_TOKEN` variable.
    Env,
    /// A token file.
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Explicit => f.write_str("--token"),
            Source::Env => f.write_str("HF_TOKEN"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The token files to try, in order.
pub fn token_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Some(p) = env("HF_TOKEN_PATH") {
        files.push(PathBuf::from(p));
    }
    let home = env("HOME").map(PathBuf::from);
    if let Some(h) = super::env::hf_home() {
        files.push(h.join("token"));
    }
    if let Some(h) = home {
        let default = h.join(".cache/huggingface/token");
        if !files.contains(&default) {
            files.push(default);
        }
    }
    files
}

/// Finds the token: explicit, `HF_TOKEN`, then the token files.
pub fn find(explicit: Option<&str>) -> Result<(Token, Source)> {
    if let Some(t) = explicit {
        return match Token::new(t) {
            Some(t) => Ok((t, Source::Explicit)),
            None => bail!("--token is empty"),
        };
    }
    match lookup() {
        Some(found) => Ok(found),
        None => bail!(
            "no Hugging Face token found: pass --token, set HF_TOKEN, or log in with `hf auth login` \
             ({})",
            searched()
        ),
    }
}

/// The token of `HF_TOKEN`, else of the first token file that holds one.
pub fn lookup() -> Option<(Token, Source)> {
    if let Some(t) = env("HF_TOKEN").as_deref().and_then(Token::new) {
        return Some((t, Source::Env));
    }
    token_files().into_iter().find_map(|f| {
        let t = Token::new(&std::fs::read_to_string(&f).ok()?)?;
        Some((t, Source::File(f)))
    })
}

/// Where [`lookup`] looks, in words.
pub fn searched() -> String {
    let tried: Vec<String> = token_files()
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    format!("looked in HF_TOKEN and in {}", tried.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_never_shows() {
        let t = Token::new(" hf_abcdef \n").unwrap();
        assert_eq!(format!("{t} {t:?}"), "hf_*** Token(***)");
        assert_eq!(t.redact("x hf_abcdef y"), "x hf_*** y");
        assert_eq!(t.bearer(), "Bearer hf_abcdef");
        assert!(Token::new("  ").is_none());
    }
}
