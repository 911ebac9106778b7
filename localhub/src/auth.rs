//! Users, their tokens, and who may write where.

use crate::http::{Request, Response};
use crate::store::namespace;
use anyhow::{bail, Result};
use std::collections::HashMap;

/// A user known to this Hub.
#[derive(Debug, Clone)]
pub struct User {
    /// The user's name (their own namespace).
    pub name: String,
    /// Whether the token may write.
    pub write: bool,
}

/// The roles a member may have in an organization, as on the Hub.
const ROLES: [&str; 4] = ["admin", "write", "contributor", "read"];

/// Tokens and organizations.
#[derive(Debug, Default)]
pub struct Auth {
    tokens: HashMap<String, User>,
    /// Organization -> (member, role).
    orgs: HashMap<String, Vec<(String, String)>>,
    /// Gated repository (`NS/NAME`, `datasets/NS/NAME`) -> users granted access.
    gated: HashMap<String, Vec<String>>,
}

impl Auth {
    /// `--token USER=TOKEN` (write), `--read-token USER=TOKEN` (read only),
    /// `--org ORG=USER[:ROLE],USER[:ROLE]` (role admin, write (default),
    /// contributor or read).
    /// `--gated REPO=USER,USER`: files of REPO are served only to the listed
    /// users (401 without a token, 403 to others).
    pub fn new(
        write: &[String],
        read: &[String],
        orgs: &[String],
        gated: &[String],
    ) -> Result<Auth> {
        let mut auth = Auth::default();
        for (specs, can_write) in [(write, true), (read, false)] {
            for spec in specs {
                let Some((user, token)) = spec.split_once('=') else {
                    bail!("--token {spec}: expected USER=TOKEN");
                };
                auth.tokens.insert(
                    token.to_string(),
                    User {
                        name: user.to_string(),
                        write: can_write,
                    },
                );
            }
        }
        for spec in orgs {
            let Some((org, members)) = spec.split_once('=') else {
                bail!("--org {spec}: expected ORG=USER[:ROLE],USER[:ROLE]");
            };
            let mut list = Vec::new();
            for m in members.split(',') {
                let (user, role) = m.split_once(':').unwrap_or((m, "write"));
                if !ROLES.contains(&role) {
                    bail!(
                        "--org {spec}: role {role:?} is not one of {}",
                        ROLES.join(", ")
                    );
                }
                list.push((user.to_string(), role.to_string()));
            }
            auth.orgs.insert(org.to_string(), list);
        }
        for spec in gated {
            let (repo, users) = spec.split_once('=').unwrap_or((spec, ""));
            let users = users
                .split(',')
                .filter(|u| !u.is_empty())
                .map(str::to_string);
            auth.gated.insert(repo.to_string(), users.collect());
        }
        Ok(auth)
    }

    /// The caller, from `Authorization: Bearer TOKEN`; 401 when absent or unknown.
    pub fn user(&self, req: &Request) -> Result<User, Response> {
        let header = req.header("authorization").unwrap_or("");
        let Some(token) = header.strip_prefix("Bearer ") else {
            return Err(Response::error(
                401,
                "Invalid credentials in Authorization header",
            ));
        };
        self.tokens
            .get(token.trim())
            .cloned()
            .ok_or_else(|| Response::error(401, "Invalid credentials in Authorization header"))
    }

    /// The caller, who must be allowed to write in `namespace`; 403 otherwise.
    /// `owner` is who created the repository written to (None when one is
    /// being created): an organization's contributors may create
    /// repositories and write to those they created; admins and writers
    /// write to all; readers to none.
    pub fn writer(
        &self,
        req: &Request,
        namespace: &str,
        owner: Option<&str>,
    ) -> Result<User, Response> {
        let namespace = crate::store::namespace(namespace);
        let user = self.user(req)?;
        if !user.write {
            return Err(Response::error(
                403,
                "You don't have the rights to write with this token: it is read-only",
            ));
        }
        let allowed = user.name == namespace
            || match self.role(&user.name, namespace) {
                Some("admin" | "write") => true,
                Some("contributor") => owner.is_none_or(|o| o == user.name),
                _ => false,
            };
        if !allowed {
            return Err(Response::error(
                403,
                &format!("You don't have the rights to write in the namespace {namespace}"),
            ));
        }
        Ok(user)
    }

    /// Whether the repository (`ns` a store key) is gated.
    pub fn is_gated(&self, ns: &str, name: &str) -> bool {
        self.gated.contains_key(&format!("{ns}/{name}"))
    }

    /// Refuses the files of a gated repository (`ns` is a store key) to
    /// callers without access, with the Hub's `GatedRepo` error.
    pub fn gate(&self, req: &Request, ns: &str, name: &str) -> Result<(), Response> {
        let Some(users) = self.gated.get(&format!("{ns}/{name}")) else {
            return Ok(());
        };
        let id = format!("{}/{name}", namespace(ns));
        let code = |status, msg: String| {
            Err(Response::error(status, &msg).with_header("X-Error-Code", "GatedRepo"))
        };
        match self.user(req) {
            Err(_) => code(401, format!("Access to repository {id} is restricted. You must have access to it and be authenticated to access it. Please log in.")),
            Ok(u) if users.contains(&u.name) => Ok(()),
            Ok(_) => code(403, format!("Access to repository {id} is restricted and you are not in the authorized list. Visit its page to ask for access.")),
        }
    }

    /// Whether the caller may see private repositories of `namespace`.
    pub fn reader(&self, req: &Request, namespace: &str) -> bool {
        let namespace = crate::store::namespace(namespace);
        self.user(req)
            .is_ok_and(|u| u.name == namespace || self.role(&u.name, namespace).is_some())
    }

    /// `user`'s role in the organization `org`, if a member.
    fn role(&self, user: &str, org: &str) -> Option<&str> {
        let members = self.orgs.get(org)?;
        members
            .iter()
            .find(|(u, _)| u == user)
            .map(|(_, r)| r.as_str())
    }

    /// The organizations `user` belongs to, with the role in each.
    pub fn orgs_of(&self, user: &str) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .orgs
            .keys()
            .filter_map(|o| Some((o.clone(), self.role(user, o)?.to_string())))
            .collect();
        v.sort();
        v
    }
}
