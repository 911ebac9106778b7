//! `launch push` against the local Hub: stored bytes, second push, flaky network.

mod common;

use common::*;
use std::time::Instant;

fn push(
    hub: &LocalHub,
    home: &TempDir,
    folder: &std::path::Path,
    repo: &str,
) -> std::process::Output {
    launch_clean(
        &["push", folder.to_str().unwrap(), "--repo", repo],
        &[("HF_ENDPOINT", &hub.url), ("HF_TOKEN", TOKEN)],
        &home.0,
    )
}

#[test]
fn pushed_files_are_byte_identical_and_a_second_push_uploads_nothing() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("home");
    let final_dir = home.join("output/run/final");
    make_final(&final_dir);

    let out = push(&hub, &home, &final_dir, "acme/tiny-llama-sft");
    assert!(out.status.success(), "{}", text(&out));
    assert_same_files(&final_dir, &hub.tree("acme/tiny-llama-sft", "main"));
    let log = hub.log();
    assert!(
        log.contains("PUT /lfs/part/"),
        "the large shard should go multipart:\n{log}"
    );
    assert!(
        log.contains("PUT /lfs/upload/"),
        "small shards go in one PUT:\n{log}"
    );

    let seen = hub.log().lines().count();
    let out = push(&hub, &home, &final_dir, "acme/tiny-llama-sft");
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("nothing to push"), "{}", text(&out));
    let again = hub.log_since(seen);
    assert!(
        !again
            .iter()
            .any(|l| l.starts_with("PUT ") || l.contains("/commit/")),
        "second push sent data:\n{again:#?}"
    );
    assert!(!text(&out).contains(TOKEN));
}

#[test]
fn only_changed_files_are_sent() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("home");
    let final_dir = home.join("final");
    make_final(&final_dir);
    assert!(push(&hub, &home, &final_dir, "acme/m").status.success());

    std::fs::write(
        final_dir.join("model-00003-of-00003.safetensors"),
        bytes(99, 300_000),
    )
    .unwrap();
    std::fs::write(final_dir.join("config.json"), "{\"hidden_size\":128}").unwrap();
    let seen = hub.log().lines().count();
    let out = push(&hub, &home, &final_dir, "acme/m");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("pushed 2 new or changed file(s) of 8"),
        "{}",
        text(&out)
    );
    let puts: Vec<String> = hub
        .log_since(seen)
        .into_iter()
        .filter(|l| l.starts_with("PUT "))
        .collect();
    assert_eq!(
        puts.len(),
        1,
        "only the changed shard is uploaded: {puts:#?}"
    );
    assert!(puts[0].ends_with(" 200 300000"), "{puts:?}");
    assert_same_files(&final_dir, &hub.tree("acme/m", "main"));
}

#[test]
fn a_push_through_dropped_connections_and_server_errors_completes() {
    let hub = LocalHub::start(&[
        "--fault",
        "drop:upload:4",
        "--fault",
        "drop:complete:1",
        "--fault",
        "500:batch:1",
        "--fault",
        "503:preupload:1",
        "--fault",
        "429:commit:1",
        "--fault",
        "drop:commit:1",
        "--fault",
        "slow:create:1",
        "--retry-after",
        "1",
        "--slow-ms",
        "300",
    ]);
    let home = TempDir::new("home");
    let final_dir = home.join("final");
    make_final(&final_dir);
    let start = Instant::now();
    let out = push(&hub, &home, &final_dir, "acme/flaky");
    let took = start.elapsed().as_secs_f64();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert_same_files(&final_dir, &hub.tree("acme/flaky", "main"));
    let log = hub.log();
    assert_eq!(log.matches("DROPPED").count(), 6, "{log}");
    assert!(all.contains("connection lost"), "{all}");
    assert!(
        all.contains("HTTP 429") && all.contains("in 1.0 s"),
        "Retry-After is honoured: {all}"
    );
    assert!(
        took >= 1.0,
        "the 429's Retry-After: 1 was not waited for ({took:.2} s)"
    );
    assert!(!all.contains(TOKEN));
}

#[test]
fn a_branch_is_created_and_committed_to() {
    let hub = LocalHub::start(&[]);
    let home = TempDir::new("home");
    let final_dir = home.join("final");
    make_final(&final_dir);
    let out = launch_clean(
        &[
            "push",
            final_dir.to_str().unwrap(),
            "--repo",
            "tiny",
            "--revision",
            "step-100",
            "--private",
            "-m",
            "Step 100",
        ],
        &[("HF_ENDPOINT", &hub.url), ("HF_TOKEN", TOKEN)],
        &home.0,
    );
    assert!(out.status.success(), "{}", text(&out));
    // No namespace: the token owner's, asked from the Hub.
    assert_same_files(&final_dir, &hub.tree("alice/tiny", "step-100"));
    let commits =
        std::fs::read_to_string(hub.dir.join("store/repos/alice/tiny/commits.jsonl")).unwrap();
    assert!(commits.contains("\"summary\":\"Step 100\""), "{commits}");
    let meta = std::fs::read_to_string(hub.dir.join("store/repos/alice/tiny/repo.json")).unwrap();
    assert!(meta.contains("\"private\":true"), "{meta}");
}
