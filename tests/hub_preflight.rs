//! The Hub is checked before training, not after: a bad `hub.repo_id` is a
//! config error (`launch check` finds it), and `launch N` refuses, before
//! any rank starts, a run that could not push at the end: no token, a token
//! the Hub rejects, a token that may not write to the namespace.
//! Repositories are created private unless `hub.private: false`.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A run config pushing with `hub_section`; the trainer is a script that
/// leaves `trained` in the home folder (and nothing else).
fn config(home: &TempDir, hub_section: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let trainer = home.join("trainer");
    std::fs::write(&trainer, "#!/bin/sh\ntouch \"$HOME/trained\"\n").unwrap();
    std::fs::set_permissions(&trainer, std::fs::Permissions::from_mode(0o755)).unwrap();
    let yaml = format!(
        "run_name: preflight\n{}train: {{ max_steps: 1 }}\ncheckpoint:\n  output_dir: {}\nhub:\n{hub_section}",
        runnable_yaml(),
        home.join("out").display()
    );
    let path = home.join("run.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

/// `launch ARGS` against `hub` with the script trainer and `env`.
fn run(hub: &LocalHub, home: &TempDir, args: &[&str], env: &[(&str, &str)]) -> Output {
    let (logs, trainer) = (home.join("logs"), home.join("trainer"));
    let mut all = vec![
        ("HF_ENDPOINT", hub.url.as_str()),
        ("FERROSPEED_TRAINER", trainer.to_str().unwrap()),
        ("FERROSPEED_LOG_DIR", logs.to_str().unwrap()),
        ("FERROSPEED_HUB_RETRIES", "1"),
    ];
    all.extend_from_slice(env);
    launch_clean(args, &all, &home.0)
}

/// Exit 2 with one error line holding every part of `expected`; no rank
/// started, no output_dir made, no token shown. Returns the error line.
fn refused_before_ranks(out: &Output, home: &Path, expected: &[&str]) -> String {
    let all = text(out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    let errors: Vec<&str> = all.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "one message: {all}");
    for part in expected {
        assert!(errors[0].contains(part), "expected {part:?} in: {all}");
    }
    assert!(!all.contains("panicked"), "{all}");
    for secret in [TOKEN, READ_TOKEN, "hf_WrongToken42"] {
        assert!(!all.contains(secret), "a token leaked: {all}");
    }
    assert!(!home.join("trained").exists(), "a rank ran: {all}");
    assert!(!home.join("logs").exists(), "rank logs were made: {all}");
    assert!(!home.join("out").exists(), "the output_dir was made: {all}");
    errors[0].to_string()
}

#[test]
fn a_bad_repo_id_is_refused_by_check_and_launch_before_any_rank_starts() {
    let hub = LocalHub::start(&[]);
    for (repo_id, why) in [
        ("acme/a/b", "at most one '/'"),
        ("acme/-model", "cannot start or end with '-' or '.'"),
        ("acme/model.git", "cannot end with '.git'"),
    ] {
        let home = TempDir::new("home");
        let cfg = config(&home, &format!("  repo_id: {repo_id}\n"));
        let expected = ["run.yaml: `hub.repo_id`: invalid repo id", repo_id, why];
        let check = run(&hub, &home, &["check", cfg.to_str().unwrap()], &[]);
        refused_before_ranks(&check, &home.0, &expected);
        let train = run(
            &hub,
            &home,
            &["1", cfg.to_str().unwrap()],
            &[("HF_TOKEN", TOKEN)],
        );
        refused_before_ranks(&train, &home.0, &expected);
    }
    assert!(
        hub.log().is_empty(),
        "the Hub was not asked:\n{}",
        hub.log()
    );
}

#[test]
fn no_token_is_refused_before_any_rank_starts() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("home");
    let cfg = config(&home, "  repo_id: acme/m\n");
    let cfg = cfg.to_str().unwrap();
    let out = run(&hub, &home, &["1", cfg], &[]);
    let e = refused_before_ranks(
        &out,
        &home.0,
        &[
            "hub: no Hugging Face token found",
            "HF_TOKEN",
            "hf auth login",
            "hub.push: never",
        ],
    );
    assert!(
        e.contains(".cache/huggingface/token"),
        "says where it looked: {e}"
    );
    // HF_HUB_OFFLINE skips asking the Hub, not the need for a token.
    let out = run(&hub, &home, &["1", cfg], &[("HF_HUB_OFFLINE", "1")]);
    refused_before_ranks(&out, &home.0, &["no Hugging Face token found"]);
    assert!(hub.log().is_empty(), "{}", hub.log());
    // `launch check` does not look for a token.
    let out = run(&hub, &home, &["check", cfg], &[]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_token_the_hub_rejects_is_refused_before_any_rank_starts() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("home");
    let cfg = config(&home, "  repo_id: acme/m\n");
    let out = run(
        &hub,
        &home,
        &["1", cfg.to_str().unwrap()],
        &[("HF_TOKEN", "hf_WrongToken42")],
    );
    refused_before_ranks(
        &out,
        &home.0,
        &["rejected the token from HF_TOKEN", "401", "hf auth login"],
    );
}

#[test]
fn a_token_that_may_not_write_the_namespace_is_refused_before_any_rank_starts() {
    let hub = LocalHub::start(&["--org", "viewers=alice:read"]);
    for (token, repo, why) in [
        (READ_TOKEN, "rita/m", "may not write to rita/m on"),
        (READ_TOKEN, "rita/m", "it is a read-only token"),
        (TOKEN, "globex/m", "globex is not the token owner's namespace (alice, member of the organizations acme, viewers)"),
        (TOKEN, "viewers/m", "alice has the role `read` in the organization viewers"),
    ] {
        let home = TempDir::new("home");
        let cfg = config(&home, &format!("  repo_id: {repo}\n"));
        let out = run(&hub, &home, &["1", cfg.to_str().unwrap()], &[("HF_TOKEN", token)]);
        refused_before_ranks(&out, &home.0, &["hub: the token from HF_TOKEN", why]);
    }
    // The local Hub agrees: a reader of an organization may not create there.
    let home = TempDir::new("home");
    make_final(&home.join("final"));
    let dir = home.join("final");
    let push = ["push", dir.to_str().unwrap(), "--repo", "viewers/m"];
    let out = launch_clean(
        &push,
        &[("HF_ENDPOINT", &hub.url), ("HF_TOKEN", TOKEN)],
        &home.0,
    );
    assert!(
        !out.status.success() && text(&out).contains("403"),
        "{}",
        text(&out)
    );
}

/// `GET /api/models/REPO` without a token: 200 for public, 404 for private.
fn anonymous_status(hub: &LocalHub, repo: &str) -> u16 {
    http(&hub.url, "GET", &format!("/api/models/{repo}"), &[], b"").0
}

/// `private` of REPO, asked with alice's token.
fn private_flag(hub: &LocalHub, repo: &str) -> bool {
    let auth = format!("Bearer {TOKEN}");
    let (status, _, body) = http(
        &hub.url,
        "GET",
        &format!("/api/models/{repo}"),
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    v["private"].as_bool().unwrap()
}

#[test]
fn repositories_are_created_private_unless_hub_private_is_false() {
    let hub = LocalHub::start(&[]);
    for (section, repo, private) in [
        ("  repo_id: acme/secret\n", "acme/secret", true),
        (
            "  repo_id: acme/open\n  private: false\n",
            "acme/open",
            false,
        ),
    ] {
        let home = TempDir::new("home");
        let cfg = config(&home, section);
        make_final(&home.join("out/final"));
        let out = run(
            &hub,
            &home,
            &["1", cfg.to_str().unwrap()],
            &[("HF_TOKEN", TOKEN)],
        );
        let all = text(&out);
        assert!(out.status.success(), "{all}");
        assert!(
            all.contains(&format!("may write to {repo}")),
            "checked first: {all}"
        );
        assert!(home.join("trained").exists(), "{all}");
        assert_eq!(private_flag(&hub, repo), private, "{repo}");
        assert_eq!(
            anonymous_status(&hub, repo),
            if private { 404 } else { 200 }
        );
    }
    // `launch push` too, unless --public.
    let home = TempDir::new("home");
    make_final(&home.join("final"));
    let dir = home.join("final");
    let env = [("HF_ENDPOINT", hub.url.as_str()), ("HF_TOKEN", TOKEN)];
    for (extra, repo, private) in [
        (None, "acme/pushed", true),
        (Some("--public"), "acme/shown", false),
    ] {
        let mut args = vec!["push", dir.to_str().unwrap(), "--repo", repo];
        args.extend(extra);
        let out = launch_clean(&args, &env, &home.0);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(private_flag(&hub, repo), private, "{repo}");
    }
}
