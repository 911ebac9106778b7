//! What the Hub's `whoami-v2` says about a token, and whether that token may
//! write to a namespace. Read as `huggingface_hub` and the Hub's web client
//! read it: `name`, `orgs[].name` with `orgs[].roleInOrg` (admin, write,
//! contributor or read), and `auth.accessToken.role` (write, read or
//! fineGrained; a fine-grained token lists its permissions per entity in
//! `auth.accessToken.fineGrained.scoped[].{entity.name, permissions}`).

use anyhow::{Context, Result};
use serde_json::Value;

/// The token's owner and what the token may do.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The owner's user name (their own namespace).
    pub name: String,
    /// The owner's organizations and their role in each, when the Hub says.
    pub orgs: Vec<(String, Option<String>)>,
    /// `write`, `read`, `fineGrained`, or unknown.
    pub role: Option<String>,
    /// A fine-grained token's permissions, by entity (user, org or repo).
    pub scoped: Vec<(String, Vec<String>)>,
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

impl Identity {
    /// Reads a `whoami-v2` answer.
    pub fn parse(v: &Value) -> Result<Identity> {
        let name = text(&v["name"]).context("the Hub's whoami answer has no `name`")?;
        let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
        let orgs = list(&v["orgs"])
            .iter()
            .filter_map(|o| Some((text(&o["name"])?, text(&o["roleInOrg"]))))
            .collect();
        let token = &v["auth"]["accessToken"];
        let scoped = list(&token["fineGrained"]["scoped"])
            .iter()
            .filter_map(|s| {
                let perms = list(&s["permissions"]).iter().filter_map(text).collect();
                Some((text(&s["entity"]["name"])?, perms))
            })
            .collect();
        Ok(Identity {
            name,
            orgs,
            role: text(&token["role"]),
            scoped,
        })
    }

    /// Why this token cannot write to `repo` (`namespace/name`), if the
    /// answer shows it cannot. What the answer does not say is not held
    /// against the token: the push itself would then tell.
    pub fn write_problem(&self, repo: &str) -> Option<String> {
        let ns = repo.split_once('/').map_or(repo, |(ns, _)| ns);
        match self.role.as_deref() {
            Some("read") => return Some("it is a read-only token".into()),
            Some("fineGrained") => {
                let may = |(entity, perms): &(String, Vec<String>)| {
                    (entity == ns || entity == repo) && perms.iter().any(|p| p == "repo.write")
                };
                if !self.scoped.iter().any(may) {
                    return Some(format!(
                        "the fine-grained token has no `repo.write` permission for {ns}"
                    ));
                }
            }
            _ => {}
        }
        if ns == self.name {
            return None;
        }
        match self.orgs.iter().find(|(org, _)| org == ns) {
            Some((_, Some(role))) if role == "read" => Some(format!(
                "{} has the role `read` in the organization {ns}",
                self.name
            )),
            Some(_) => None,
            None => {
                let orgs: Vec<&str> = self.orgs.iter().map(|(o, _)| o.as_str()).collect();
                let of = match orgs.is_empty() {
                    true => "no organization".to_string(),
                    false => format!("the organizations {}", orgs.join(", ")),
                };
                Some(format!(
                    "{ns} is not the token owner's namespace ({}, member of {of})",
                    self.name
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn who(role: &str, scoped: Value) -> Identity {
        Identity::parse(&json!({
            "type": "user", "name": "alice",
            "orgs": [{"name": "acme", "roleInOrg": "write"}, {"name": "viewers", "roleInOrg": "read"},
                     {"name": "builders", "roleInOrg": "contributor"}],
            "auth": {"type": "access_token", "accessToken": {
                "displayName": "t", "role": role, "fineGrained": {"scoped": scoped, "global": []}}}
        }))
        .unwrap()
    }

    #[test]
    fn roles_decide_where_a_token_may_write() {
        let w = who("write", json!([]));
        for ok in ["alice/m", "acme/m", "builders/m"] {
            assert_eq!(w.write_problem(ok), None, "{ok}");
        }
        let e = w.write_problem("viewers/m").unwrap();
        assert!(e.contains("role `read` in the organization viewers"), "{e}");
        let e = w.write_problem("globex/m").unwrap();
        assert!(e.contains("globex is not the token owner's namespace (alice, member of the organizations acme, viewers, builders)"), "{e}");
        let e = who("read", json!([])).write_problem("alice/m").unwrap();
        assert!(e.contains("read-only"), "{e}");
    }

    #[test]
    fn fine_grained_tokens_need_repo_write_on_the_namespace_or_repo() {
        let scoped = json!([
            {"entity": {"type": "user", "name": "alice"}, "permissions": ["repo.content.read"]},
            {"entity": {"type": "org", "name": "acme"}, "permissions": ["repo.content.read", "repo.write"]},
            {"entity": {"type": "model", "name": "alice/one"}, "permissions": ["repo.write"]}
        ]);
        let f = who("fineGrained", scoped);
        assert_eq!(f.write_problem("acme/m"), None);
        assert_eq!(f.write_problem("alice/one"), None);
        let e = f.write_problem("alice/two").unwrap();
        assert!(e.contains("no `repo.write` permission for alice"), "{e}");
    }
}
