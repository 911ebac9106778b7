//! Hugging Face repository ids, validated as the Hub does, and the namespace
//! rule: a `repo_id` that already has a namespace is never prefixed again.
//! `hub.repo_id` is checked with these rules when the config is loaded, and
//! `launch push` uses them before anything is sent.

use std::fmt;

/// A validated repository id; the namespace may still be unknown (then it is
/// the token owner's, asked from the Hub).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoId {
    /// User or organization, when known.
    pub namespace: Option<String>,
    /// Repository name.
    pub name: String,
}

impl fmt::Display for RepoId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{ns}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Why `part` is not a valid namespace or name, if it is not. The Hub's rules:
/// 1 to 96 characters among letters, digits, `-`, `_`, `.`; starting and
/// ending with a letter, digit or `_`; no `--` or `..`; not ending in `.git`.
fn problem(part: &str) -> Option<&'static str> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    if part.is_empty() {
        Some("it is empty")
    } else if part.len() > 96 {
        Some("it is longer than 96 characters")
    } else if !part.chars().all(|c| word(c) || c == '-' || c == '.') {
        Some("only letters, digits, '-', '_' and '.' are allowed")
    } else if !part.starts_with(word) || !part.ends_with(word) {
        Some("it cannot start or end with '-' or '.'")
    } else if part.contains("--") || part.contains("..") {
        Some("'--' and '..' are not allowed")
    } else if part.ends_with(".git") {
        Some("it cannot end with '.git'")
    } else {
        None
    }
}

/// Validates `repo_id` (`name` or `namespace/name`) and applies `namespace`
/// to an id that has none.
pub fn resolve(repo_id: &str, namespace: Option<&str>) -> Result<RepoId, String> {
    let id = repo_id.trim();
    let hint = "expected `name` or `namespace/name`, e.g. my-org/Llama-3.1-8B-SFT";
    if id.matches('/').count() > 1 {
        return Err(format!(
            "invalid repo id {id:?}: at most one '/' is allowed ({hint})"
        ));
    }
    let (ns, name) = match id.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, id),
    };
    if let Some(why) = problem(name) {
        return Err(format!(
            "invalid repo id {id:?}: the name {name:?} is not valid: {why} ({hint})"
        ));
    }
    if let Some(ns) = ns {
        if let Some(why) = problem(ns) {
            return Err(format!(
                "invalid repo id {id:?}: the namespace {ns:?} is not valid: {why} ({hint})"
            ));
        }
    }
    let namespace = namespace.map(str::trim).filter(|n| !n.is_empty());
    let ns = match (ns, namespace) {
        (Some(ns), Some(given)) if ns != given => {
            return Err(format!(
                "repo id {id:?} already names the namespace {ns:?}, but namespace is {given:?}: \
                 drop `namespace` or make them agree"
            ))
        }
        (Some(ns), _) => Some(ns.to_string()),
        (None, Some(given)) => {
            if let Some(why) = problem(given) {
                return Err(format!("invalid namespace {given:?}: {why}"));
            }
            Some(given.to_string())
        }
        (None, None) => None,
    };
    Ok(RepoId {
        namespace: ns,
        name: name.to_string(),
    })
}

/// `path` as a Hub repo id, when it reads as one: relative, not starting
/// with `.` or `~`, `name` or `namespace/name` by the Hub's rules. A local
/// path is made absolute when the config is loaded (unless it does not
/// exist and reads as an id), so a relative path left is an id.
pub fn hub_id(path: &std::path::Path) -> Option<&str> {
    let text = path.to_str()?;
    let local = path.is_absolute() || text.starts_with(['.', '~']);
    (!local && resolve(text, None).is_ok() && !text.contains(char::is_whitespace)).then_some(text)
}

/// Why `branch` cannot be a branch name, if it cannot: git's rules for a
/// reference (`git check-ref-format --branch`), which the Hub applies.
pub fn revision_problem(branch: &str) -> Option<&'static str> {
    let bad_char = |c: char| c.is_ascii_control() || " ~^:?*[\\".contains(c);
    if branch.trim().is_empty() {
        Some("it is empty")
    } else if branch.chars().any(bad_char) {
        Some("spaces, control characters and ~ ^ : ? * [ \\ are not allowed")
    } else if branch.contains("..") || branch.contains("@{") || branch == "@" {
        Some("'..', '@{' and a lone '@' are not allowed")
    } else if branch.starts_with('/') || branch.ends_with('/') || branch.contains("//") {
        Some("it cannot start or end with '/' or hold '//'")
    } else if branch.ends_with('.')
        || branch
            .split('/')
            .any(|part| part.starts_with('.') || part.ends_with(".lock"))
    {
        Some("it cannot end with '.', and no part may start with '.' or end with '.lock'")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_follow_git() {
        for good in ["main", "step-100", "v1.0", "runs/2024-05", "a_b"] {
            assert_eq!(revision_problem(good), None, "{good:?}");
        }
        for bad in [
            "", "a b", "a..b", "/a", "a/", "a//b", "a.", ".a", "a/.b", "x.lock", "a~1", "a^",
            "a:b", "a?", "a*", "a[", "a\\b", "@", "a@{1}", "a\tb",
        ] {
            assert!(revision_problem(bad).is_some(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn hub_ids_and_paths() {
        use std::path::Path;
        for id in ["meta-llama/Llama-3.1-8B", "gpt2", "org/x.y"] {
            assert_eq!(hub_id(Path::new(id)), Some(id), "{id:?}");
        }
        for path in [
            "/abs/model",
            "./model",
            "../m",
            "~/m",
            "a/b/c",
            "a b/c",
            ".hidden",
        ] {
            assert_eq!(hub_id(Path::new(path)), None, "{path:?}");
        }
    }

    #[test]
    fn namespace_is_never_doubled() {
        let r = resolve("org/name", Some("org")).unwrap();
        assert_eq!(r.to_string(), "org/name");
        assert_eq!(
            resolve("name", Some("org")).unwrap().to_string(),
            "org/name"
        );
        assert_eq!(resolve("name", None).unwrap().namespace, None);
        assert!(resolve("org/name", Some("other")).is_err());
    }

    #[test]
    fn hub_rules() {
        for bad in [
            "a/b/c",
            "",
            "-a",
            "a-",
            "a--b",
            "a..b",
            "a.git",
            "é",
            "a b",
            "org/",
            "/name",
            &"x".repeat(97),
        ] {
            assert!(resolve(bad, None).is_err(), "{bad:?} should be refused");
        }
        for good in [
            "a",
            "Foo-BAR_foo.bar123",
            "org/x.y",
            "_a_",
            "123",
            &"x".repeat(96),
        ] {
            assert!(resolve(good, None).is_ok(), "{good:?} should be accepted");
        }
    }
}
