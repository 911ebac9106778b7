//! What a push never uploads, whichever path pushes (`launch push` or
//! `hub.push` after a run): git's metadata and the `huggingface_hub` cache
//! (as `upload_folder` leaves them out), environment files that hold
//! secrets, and the files only Ferrospeed itself reads (the output folder's
//! lock, the run secret, the export marker, finished markers, temporary
//! files of an atomic write).

/// Why a path is left out of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// `.git/` or `.cache/huggingface/`, left out silently as
    /// `huggingface_hub` does.
    Metadata,
    /// `.env` files: secrets.
    Secret,
    /// A file only Ferrospeed reads.
    Internal,
}

/// The tool's own file names, at any depth.
const INTERNAL: &[&str] = &[
    // The output folder's lock (launcher::lock::LOCK_FILE).
    ".lock",
    runconfig::contracts::finished::FINISHED,
    runconfig::contracts::export::MARKER,
];

/// Prefixes of the tool's own file names: the run secret, the cache's and
/// the exporter's records, and atomic writes in progress.
const INTERNAL_PREFIXES: &[&str] = &[".launch-secret-", ".ferrospeed-"];

/// Why `rel` (a `/`-separated path in the pushed folder) is never
/// uploaded, or `None` when it may be.
pub fn never_uploaded(rel: &str) -> Option<Reason> {
    let parts: Vec<&str> = rel.split('/').collect();
    if parts.contains(&".git") || rel.contains(".cache/huggingface") {
        return Some(Reason::Metadata);
    }
    let name = parts.last().copied().unwrap_or_default();
    if name == ".env" || name.starts_with(".env.") {
        return Some(Reason::Secret);
    }
    let temporary = name.starts_with('.') && name.contains(".tmp-");
    let internal = INTERNAL.contains(&name)
        || INTERNAL_PREFIXES.iter().any(|p| name.starts_with(p))
        || temporary;
    internal.then_some(Reason::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_git_and_the_tools_own_files_are_never_uploaded() {
        for (path, why) in [
            (".git/config", Reason::Metadata),
            ("sub/.git", Reason::Metadata),
            (".cache/huggingface/upload/x", Reason::Metadata),
            (".env", Reason::Secret),
            ("sub/.env.local", Reason::Secret),
            (".lock", Reason::Internal),
            (".launch-secret-job1", Reason::Internal),
            (".launch-secret-job1.tmp-42", Reason::Internal),
            (".ferrospeed-export.json", Reason::Internal),
            ("finished", Reason::Internal),
            ("sft/finished", Reason::Internal),
            (".config.json.tmp-7", Reason::Internal),
        ] {
            assert_eq!(never_uploaded(path), Some(why), "{path}");
        }
        for path in [
            "config.json",
            "model-00001-of-00002.safetensors",
            ".gitattributes",
            "README.md",
            "poetry.lock",
            "environment.yaml",
        ] {
            assert_eq!(never_uploaded(path), None, "{path}");
        }
    }
}
