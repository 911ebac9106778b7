//! The `hub:` section: where and when the final weights are pushed; its
//! rules.

use crate::defaults::yes;
use crate::repo_id;
use serde::{Deserialize, Serialize};

/// When to push to the Hub.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum PushWhen {
    #[default]
    OnFinish,
    Never,
}

/// Hugging Face Hub repository for the final weights.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// `name` or `namespace/name`.
    pub repo_id: String,
    /// Prefixed to a repo_id that has no namespace yet.
    pub namespace: Option<String>,
    /// Whether a repository this run creates is private (default true; an
    /// existing repository keeps its visibility).
    #[serde(default = "yes")]
    pub private: bool,
    pub revision: Option<String>,
    pub commit_message: Option<String>,
    #[serde(default)]
    pub push: PushWhen,
}

impl HubConfig {
    /// The Hub keys' rules: a repository id and revision the Hub accepts.
    pub(crate) fn check(&self) -> Result<(), String> {
        repo_id::resolve(&self.repo_id, None).map_err(|e| format!("`hub.repo_id`: {e}"))?;
        repo_id::resolve(&self.repo_id, self.namespace.as_deref())
            .map_err(|e| format!("`hub.namespace`: {e}"))?;
        if let Some(rev) = self.revision.as_ref().filter(|r| !r.trim().is_empty()) {
            if let Some(why) = repo_id::revision_problem(rev) {
                return Err(format!(
                    "`hub.revision`: {rev:?} is not a branch name: {why}"
                ));
            }
        }
        Ok(())
    }
}
