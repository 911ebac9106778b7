//! Injected faults: `KIND:ROUTE:COUNT` rules, each hitting the first COUNT
//! requests of its route (`500:upload:2`, `429:preupload:1`, `drop:upload:3`,
//! `slow:commit:1`, `stall:download:1`).

use anyhow::{bail, Context, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What happens to a request that a rule hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Answer this status (500, 502, 503, 504, 408) without doing the work.
    Status(u16),
    /// Answer 429 with `Retry-After`.
    TooMany,
    /// Read half of the body, then close the connection without answering.
    Drop,
    /// Sleep before handling the request normally.
    Slow,
    /// Answer a `GET` normally but send only half of the body, then hold
    /// the connection for the `slow` delay and close it (a download that
    /// dies half way).
    Stall,
}

/// The routes rules can name.
pub const ROUTES: &[&str] = &[
    "any",
    "api",
    "whoami",
    "create",
    "branch",
    "preupload",
    "batch",
    "upload",
    "complete",
    "verify",
    "commit",
    "info",
    "tree",
    "resolve",
    "download",
];

/// One rule, with how many hits it has left.
#[derive(Debug)]
pub struct Rule {
    kind: Kind,
    route: String,
    left: AtomicU64,
}

/// All rules, and the knobs they share.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<Rule>,
    /// `Retry-After` seconds sent with a 429.
    pub retry_after_s: u64,
    /// Delay of a `slow` fault.
    pub slow: Duration,
}

impl Faults {
    /// Parses `KIND:ROUTE:COUNT` rules.
    pub fn parse(specs: &[String], retry_after_s: u64, slow: Duration) -> Result<Faults> {
        let mut rules = Vec::new();
        for spec in specs {
            let parts: Vec<&str> = spec.split(':').collect();
            let [kind, route, count] = parts[..] else {
                bail!("--fault {spec}: expected KIND:ROUTE:COUNT, e.g. drop:upload:3");
            };
            let kind = match kind {
                "429" => Kind::TooMany,
                "drop" => Kind::Drop,
                "slow" => Kind::Slow,
                "stall" => Kind::Stall,
                k => match k.parse::<u16>() {
                    Ok(s @ (408 | 500..=599)) => Kind::Status(s),
                    _ => bail!("--fault {spec}: KIND is 408, 429, 5xx, drop, slow or stall"),
                },
            };
            if !ROUTES.contains(&route) {
                bail!("--fault {spec}: ROUTE is one of {}", ROUTES.join(", "));
            }
            let count = count
                .parse()
                .with_context(|| format!("--fault {spec}: COUNT must be a number"))?;
            rules.push(Rule {
                kind,
                route: route.to_string(),
                left: AtomicU64::new(count),
            });
        }
        Ok(Faults {
            rules,
            retry_after_s,
            slow,
        })
    }

    /// The fault, if any, for a `method` request to `route`; uses up one
    /// hit (a `stall` rule hits `GET` requests only).
    pub fn hit(&self, method: &str, route: &str) -> Option<Kind> {
        for r in &self.rules {
            let applies = r.route == "any"
                || r.route == route
                || (r.route == "api" && !matches!(route, "upload" | "complete"));
            if !applies || (r.kind == Kind::Stall && method != "GET") {
                continue;
            }
            let took = r
                .left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if took {
                return Some(r.kind);
            }
        }
        None
    }
}
