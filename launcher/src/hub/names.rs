//! Names that come from a Hub server (or a cache it filled) and become
//! paths in the cache: commit ids, blob names and file names. A server
//! behind `HF_ENDPOINT` may be hostile, so each name is checked before
//! anything is joined to a path or created: a commit id is 40 hex digits,
//! a blob name 40 or 64 (git's sha1, LFS's sha256), a file name a relative
//! path of plain components.

use std::fmt;

/// A name the Hub sent that cannot safely become a path.
#[derive(Debug)]
pub struct BadName {
    /// The repository the name came from.
    pub repo: String,
    /// What the name was meant to be, e.g. "commit id (`sha`)".
    pub what: String,
    /// The name as received.
    pub name: String,
    /// What such a name must look like.
    pub rule: &'static str,
}

impl fmt::Display for BadName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `{:?}` keeps control characters of a hostile name on one line.
        write!(
            f,
            "{}: the Hub sent {:?} as {}; {}, so it was refused and nothing was written \
             (is HF_ENDPOINT a Hub you trust?)",
            self.repo, self.name, self.what, self.rule
        )
    }
}

impl std::error::Error for BadName {}

fn is_hex(s: &str, lengths: &[usize]) -> bool {
    lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn refuse(repo: &str, what: String, name: &str, rule: &'static str) -> Result<(), BadName> {
    Err(BadName {
        repo: repo.to_string(),
        what,
        name: name.to_string(),
        rule,
    })
}

/// A commit id: exactly 40 hex digits.
pub fn commit(repo: &str, sha: &str) -> Result<(), BadName> {
    match is_hex(sha, &[40]) {
        true => Ok(()),
        false => refuse(
            repo,
            "its commit id".into(),
            sha,
            "a commit id is 40 hex digits",
        ),
    }
}

/// A blob name (`X-Linked-Etag` or `ETag`) of `file`: 40 or 64 hex digits.
pub fn blob(repo: &str, file: &str, etag: &str) -> Result<(), BadName> {
    match is_hex(etag, &[40, 64]) {
        true => Ok(()),
        false => refuse(
            repo,
            format!("the blob name (ETag) of {file}"),
            etag,
            "a blob name is 40 or 64 hex digits",
        ),
    }
}

/// Whether `name` is a relative `/`-separated path of plain components:
/// not absolute, no empty, `.` or `..` component, no backslash, no NUL or
/// other control character.
pub fn is_plain_path(name: &str) -> bool {
    !name.is_empty()
        && !name.chars().any(|c| c == '\\' || c.is_control())
        && name.split('/').all(|p| !matches!(p, "" | "." | ".."))
}

/// A file name of a repository listing (or a dataset card).
pub fn file(repo: &str, name: &str) -> Result<(), BadName> {
    match is_plain_path(name) {
        true => Ok(()),
        false => refuse(
            repo,
            "a file name".into(),
            name,
            "a file name is a relative path without empty, `.` or `..` parts, \
             backslashes or control characters",
        ),
    }
}

/// A revision (branch, tag, `refs/pr/N` or commit) from the config, which
/// names a file under `refs/` of the cache.
pub fn revision(repo: &str, rev: &str) -> Result<(), BadName> {
    match is_plain_path(rev) {
        true => Ok(()),
        false => refuse(
            repo,
            "a revision".into(),
            rev,
            "a revision is a branch, tag or commit without empty, `.` or `..` parts",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_ids_are_forty_hex_digits() {
        assert!(commit("o/m", &"a1".repeat(20)).is_ok());
        for bad in [
            "../../x",
            "",
            &"a".repeat(39),
            &"g".repeat(40),
            &"a".repeat(64),
        ] {
            assert!(commit("o/m", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn blob_names_are_sha1_or_sha256_hex() {
        assert!(blob("o/m", "f", &"0".repeat(40)).is_ok());
        assert!(blob("o/m", "f", &"F".repeat(64)).is_ok());
        for bad in ["../../../../victim/x", "", &"a".repeat(41), "W/\"abc\""] {
            assert!(blob("o/m", "f", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn file_names_are_plain_relative_paths() {
        for good in ["config.json", "data/train-00000.parquet", "a/.b/c", "..x"] {
            assert!(file("o/m", good).is_ok(), "{good:?}");
        }
        for bad in [
            "/abs/train.jsonl",
            "../x",
            "a/../b",
            "a//b",
            "a/./b",
            "a/",
            "",
            ".",
            "a\\b",
            "a\0b",
            "a\nb",
        ] {
            assert!(file("o/m", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_refusal_is_one_line_naming_the_repository_and_the_name() {
        let e = file("acme/chat", "x\n/../y").unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
        assert!(e.starts_with("acme/chat: "), "{e}");
        assert!(e.contains(r#""x\n/../y""#), "{e}");
        assert!(revision("o/m", "refs/pr/1").is_ok());
        assert!(revision("o/m", "../../x").is_err());
    }
}
