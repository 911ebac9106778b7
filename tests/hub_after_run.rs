//! The `hub:` section of a run: after a successful run, `launch` pushes
//! `<output_dir>/final`; a repo_id that has a namespace is never prefixed again.
//! The trainer is replaced by `true` (FERROSPEED_TRAINER): the run "succeeds"
//! at once and leaves the `final/` folder the test wrote.

mod common;

use common::*;

fn config(home: &TempDir, hub_section: &str) -> std::path::PathBuf {
    let out = home.join("output");
    make_final(&out.join("final"));
    let yaml = format!(
        "run_name: hubtest\n{}train:\n  micro_batch_size: 1\n  max_steps: 1\ncheckpoint:\n  output_dir: {}\n{hub_section}",
        runnable_yaml(),
        out.display()
    );
    let path = home.join("run.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn run(
    hub: &LocalHub,
    home: &TempDir,
    cfg: &std::path::Path,
    token_env: (&str, &str),
) -> std::process::Output {
    let logs = home.join("logs");
    launch_clean(
        &["1", cfg.to_str().unwrap()],
        &[
            ("HF_ENDPOINT", &hub.url),
            token_env,
            ("FERROSPEED_TRAINER", "/bin/true"),
            ("FERROSPEED_LOG_DIR", logs.to_str().unwrap()),
        ],
        &home.0,
    )
}

#[test]
fn repo_id_with_namespace_and_namespace_key_lands_at_org_name() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("home");
    let cfg = config(
        &home,
        "hub:\n  repo_id: acme/tiny-sft\n  namespace: acme\n  commit_message: Final weights\n",
    );
    let out = run(&hub, &home, &cfg, ("HF_TOKEN", TOKEN));
    assert!(out.status.success(), "{}", text(&out));
    assert_same_files(
        &home.join("output/final"),
        &hub.tree("acme/tiny-sft", "main"),
    );
    assert!(
        !hub.dir.join("store/repos/acme/acme").exists(),
        "namespace doubled"
    );
    assert!(!hub.log().contains("acme/acme"), "{}", hub.log());
    let commits =
        std::fs::read_to_string(hub.dir.join("store/repos/acme/tiny-sft/commits.jsonl")).unwrap();
    assert!(commits.contains("Final weights"), "{commits}");
    // The token is in no output and no log of the run.
    assert!(!text(&out).contains(TOKEN));
    for f in list(&home.join("logs")) {
        let body = std::fs::read_to_string(home.join("logs").join(&f)).unwrap_or_default();
        assert!(!body.contains(TOKEN), "token in logs/{f}");
    }
}

#[test]
fn a_name_with_the_namespace_key_is_prefixed_once() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("home");
    let cfg = config(&home, "hub:\n  repo_id: tiny-sft\n  namespace: acme\n");
    let out = run(&hub, &home, &cfg, ("HF_TOKEN", TOKEN));
    assert!(out.status.success(), "{}", text(&out));
    assert_same_files(
        &home.join("output/final"),
        &hub.tree("acme/tiny-sft", "main"),
    );
}

#[test]
fn push_never_skips_the_upload_and_a_failed_push_fails_the_run() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("home");
    let never = config(&home, "hub:\n  repo_id: acme/x\n  push: never\n");
    let out = run(&hub, &home, &never, ("HF_TOKEN", TOKEN));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        hub.log().is_empty(),
        "push: never contacted the Hub:\n{}",
        hub.log()
    );

    // The token is checked before the run; a push that fails after it (the
    // Hub answers 500 to every commit) fails the run, and final/ stays.
    let hub = LocalHub::start(&["--fault", "500:commit:100"]);
    let home = TempDir::new("home");
    let cfg = config(&home, "hub:\n  repo_id: acme/x\n");
    let out = run(&hub, &home, &cfg, ("FERROSPEED_HUB_RETRIES", "0"));
    assert_eq!(
        out.status.code(),
        Some(2),
        "no token: refused before the run"
    );
    let out = launch_clean(
        &["1", cfg.to_str().unwrap()],
        &[
            ("HF_ENDPOINT", &hub.url),
            ("HF_TOKEN", TOKEN),
            ("FERROSPEED_HUB_RETRIES", "0"),
            ("FERROSPEED_TRAINER", "/bin/true"),
        ],
        &home.0,
    );
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("500"), "{all}");
    assert!(home.join("output/final/config.json").is_file(), "{all}");
}
