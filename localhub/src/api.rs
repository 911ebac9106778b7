//! The `/api/...` endpoints: whoami, create repo, branches, repo info,
//! preupload, commit, validate-yaml.

use crate::commit;
use crate::http::{json_body, Request, Response};
use crate::router::Hub;
use crate::store::namespace;
use base64::Engine;
use serde_json::{json, Value};

/// The Hub's repository name rules: 1-96 chars of `[A-Za-z0-9_.-]`,
/// starting and ending with a letter, digit or `_`, no `--` or `..`, no `.git` suffix.
pub fn valid_name(part: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    !part.is_empty()
        && part.len() <= 96
        && part.chars().all(|c| word(c) || c == '-' || c == '.')
        && part.starts_with(word)
        && part.ends_with(word)
        && !part.contains("--")
        && !part.contains("..")
        && !part.ends_with(".git")
}

impl Hub {
    /// `GET /api/whoami-v2`.
    pub fn whoami(&self, req: &Request) -> Result<Response, Response> {
        let user = self.auth.user(req)?;
        let orgs: Vec<Value> = self
            .auth
            .orgs_of(&user.name)
            .into_iter()
            .map(|(o, role)| json!({ "type": "org", "name": o, "roleInOrg": role }))
            .collect();
        let role = if user.write { "write" } else { "read" };
        Ok(Response::json(
            200,
            &json!({
                "type": "user", "name": user.name, "orgs": orgs,
                "auth": { "type": "access_token", "accessToken": { "role": role } }
            }),
        ))
    }

    /// `POST /api/repos/create` with `{name, organization, private | visibility, type}`.
    pub fn create_repo(&self, req: &mut Request, base: &str) -> Result<Response, Response> {
        let user = self.auth.user(req)?;
        let body = json_body(req)?;
        let Some(name) = body["name"].as_str() else {
            return Err(Response::error(400, "`name` is required"));
        };
        let org = body["organization"].as_str().unwrap_or(&user.name);
        let ns = match body["type"].as_str() {
            None | Some("model") => org.to_string(),
            Some("dataset") => format!("datasets/{org}"),
            Some(_) => {
                return Err(Response::error(
                    400,
                    "this local Hub hosts model and dataset repositories",
                ))
            }
        };
        if !valid_name(name) || !valid_name(org) {
            return Err(Response::error(
                400,
                &format!("invalid repository name {ns}/{name}"),
            ));
        }
        self.auth.writer(req, &ns, None)?;
        let private = body["private"].as_bool().unwrap_or(false) || body["visibility"] == "private";
        let url = format!("{base}/{ns}/{name}");
        match self.store.create(&ns, name, private, &user.name) {
            Ok(true) => Ok(Response::json(
                200,
                &json!({ "url": url, "name": format!("{ns}/{name}") }),
            )),
            Ok(false) => Err(Response::json(
                409,
                &json!({ "error": "You already created this model repo", "url": url }),
            )),
            Err(e) => Err(Response::error(500, &format!("{e:#}"))),
        }
    }

    /// Checks the repository exists and the caller may write to it.
    fn writable(&self, req: &Request, ns: &str, name: &str) -> Result<(), Response> {
        self.auth
            .writer(req, ns, self.store.owner(ns, name).as_deref())?;
        if !self.store.exists(ns, name) {
            return Err(Response::error(404, "Repository not found"));
        }
        Ok(())
    }

    /// `GET /api/models/{ns}/{name}[/revision/{rev}]`.
    pub fn info(
        &self,
        req: &Request,
        ns: &str,
        name: &str,
        rev: &str,
    ) -> Result<Response, Response> {
        let (_, state) = self.readable(req, ns, name, rev)?;
        let private = self.store.is_private(ns, name);
        let id = format!("{}/{name}", namespace(ns));
        let siblings: Vec<Value> = state
            .files
            .iter()
            .map(|(p, e)| {
                let mut s = json!({ "rfilename": p, "size": e.size });
                if e.lfs {
                    s["lfs"] = json!({ "size": e.size, "sha256": e.oid, "pointerSize": 134 });
                }
                s
            })
            .collect();
        let info = json!({
            "id": id, "modelId": id, "sha": state.commit,
            "private": private, "siblings": siblings,
            "gated": if self.auth.is_gated(ns, name) { json!("manual") } else { json!(false) },
        });
        Ok(Response::json(200, &self.hostile.info(info)))
    }

    /// `POST /api/models/{ns}/{name}/branch/{branch}`.
    pub fn branch(
        &self,
        req: &mut Request,
        ns: &str,
        name: &str,
        branch: &str,
    ) -> Result<Response, Response> {
        self.writable(req, ns, name)?;
        if branch.is_empty()
            || branch.starts_with('/')
            || branch.contains("..")
            || branch.contains(' ')
        {
            return Err(Response::error(
                400,
                &format!("invalid branch name {branch:?}"),
            ));
        }
        match self.store.create_branch(ns, name, branch) {
            Ok(true) => Ok(Response::json(200, &json!({}))),
            Ok(false) => Err(Response::error(409, "Reference already exists")),
            Err(e) => Err(Response::error(500, &format!("{e:#}"))),
        }
    }

    /// `POST /api/models/{ns}/{name}/preupload/{rev}` with `{files: [{path, sample, size}]}`.
    pub fn preupload(
        &self,
        req: &mut Request,
        ns: &str,
        name: &str,
        rev: &str,
    ) -> Result<Response, Response> {
        self.writable(req, ns, name)?;
        let Some(state) = self.store.branch(ns, name, rev) else {
            return Err(Response::error(404, &format!("Invalid rev id: {rev}")));
        };
        let body = json_body(req)?;
        let Some(files) = body["files"].as_array() else {
            return Err(Response::error(400, "`files` must be a list"));
        };
        let mut out = Vec::new();
        for f in files {
            let (Some(path), Some(sample), Some(size)) =
                (f["path"].as_str(), f["sample"].as_str(), f["size"].as_u64())
            else {
                return Err(Response::error(
                    400,
                    "each file needs `path` (string), `sample` (base64) and `size` (integer)",
                ));
            };
            commit::check_path(path).map_err(|e| Response::error(400, &e))?;
            let sample = base64::engine::general_purpose::STANDARD
                .decode(sample)
                .map_err(|_| Response::error(400, &format!("{path}: `sample` is not base64")))?;
            if sample.len() > 512 || (sample.len() as u64) > size {
                return Err(Response::error(
                    400,
                    &format!("{path}: `sample` must be the first 512 bytes at most"),
                ));
            }
            let mode = commit::upload_mode(path, size, &sample, self.lfs_threshold);
            let mut item = json!({ "path": path, "uploadMode": mode, "shouldIgnore": false });
            if let Some(e) = state.files.get(path).filter(|e| e.lfs == (mode == "lfs")) {
                item["oid"] = json!(e.oid);
            }
            out.push(item);
        }
        Ok(Response::json(
            200,
            &json!({ "files": out, "commitOid": state.commit }),
        ))
    }

    /// `POST /api/models/{ns}/{name}/commit/{rev}` with an NDJSON body.
    pub fn commit(
        &self,
        req: &mut Request,
        base: &str,
        ns: &str,
        name: &str,
        rev: &str,
    ) -> Result<Response, Response> {
        self.writable(req, ns, name)?;
        let ctype = req.header("content-type").unwrap_or("");
        if !ctype.starts_with("application/x-ndjson") {
            return Err(Response::error(
                415,
                "the commit body must be sent as application/x-ndjson",
            ));
        }
        if req.query("create_pr").is_some() {
            return Err(Response::error(
                400,
                "pull requests are not supported by this local Hub",
            ));
        }
        let Some(state) = self.store.branch(ns, name, rev) else {
            return Err(Response::error(404, &format!("Invalid rev id: {rev}")));
        };
        let body = req
            .read_body(512 << 20)
            .map_err(|e| Response::error(400, &format!("cannot read body: {e}")))?;
        let parsed = commit::parse(&body, &self.store, self.lfs_threshold)
            .map_err(|e| Response::error(400, &e))?;
        if parsed.parent.as_ref().is_some_and(|p| *p != state.commit) {
            return Err(Response::error(
                412,
                "A commit has happened since. Please refresh and try again.",
            ));
        }
        match self
            .store
            .commit(ns, name, rev, parsed.ops, &parsed.summary)
        {
            Ok(oid) => Ok(Response::json(
                200,
                &json!({
                    "success": true, "commitOid": oid,
                    "commitUrl": format!("{base}/{ns}/{name}/commit/{oid}"), "pullRequestUrl": null
                }),
            )),
            Err(e) => Err(Response::error(400, &format!("{e:#}"))),
        }
    }
}
