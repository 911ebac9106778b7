//! Users, their tokens, and who may write where.

use crate::http::{Request, Response};
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

/// Tokens and organizations.
#[derive(Debug, Default)]
pub struct Auth {
    tokens: HashMap<String, User>,
    orgs: HashMap<String, Vec<String>>,
}

impl Auth {
    /// `--token USER=TOKEN` (write), `--read-token USER=TOKEN` (read only),
    /// `--org ORG=USER,USER`.
    pub fn new(write: &[String], read: &[String], orgs: &[String]) -> Result<Auth> {
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
                bail!("--org {spec}: expected ORG=USER,USER");
            };
            auth.orgs.insert(
                org.to_string(),
                members.split(',').map(str::to_string).collect(),
            );
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
    pub fn writer(&self, req: &Request, namespace: &str) -> Result<User, Response> {
        let user = self.user(req)?;
        if !user.write {
            return Err(Response::error(
                403,
                "You don't have the rights to write with this token: it is read-only",
            ));
        }
        if user.name != namespace
            && !self
                .orgs
                .get(namespace)
                .is_some_and(|m| m.contains(&user.name))
        {
            return Err(Response::error(
                403,
                &format!("You don't have the rights to write in the namespace {namespace}"),
            ));
        }
        Ok(user)
    }

    /// The organizations `user` belongs to.
    pub fn orgs_of(&self, user: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .orgs
            .iter()
            .filter(|(_, m)| m.iter().any(|u| u == user))
            .map(|(o, _)| o.clone())
            .collect();
        v.sort();
        v
    }
}
