//! Faults between ranks, end to end: a frozen rank is named within
//! `comm_timeout_s` and the group stopped; a rank that fails for a real
//! reason is reported as the root cause, not the peer that then lost it.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// `launch 2 configs/tiny-pretrain.yaml` on the cpu backend, writing to `out`.
fn tiny(dir: &Path, out: &Path, sets: &[&str]) -> Command {
    let mut c = launch(dir);
    c.arg("2")
        .arg(repo_root().join("configs/tiny-pretrain.yaml"))
        .current_dir(repo_root());
    let out = format!("checkpoint.output_dir={}", out.display());
    let base = ["train.threads=1", "logging.every_steps=1", "comm=cpu", &out];
    for s in base.iter().chain(sets) {
        c.args(["--set", s]);
    }
    c
}

/// The line `launch` reports the failure with.
fn headline(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("launch: error: "))
        .unwrap_or_else(|| panic!("no error line in: {stderr}"))
}

/// The process of rank `rank` under `launch`.
fn rank_pid(launch: u32, rank: &str) -> i32 {
    children(launch)
        .into_iter()
        .find(|&p| env_of(p, "RANK").as_deref() == Some(rank))
        .expect("the rank runs")
}

/// Runs `launch 2` with `sets`, stops rank 1 with SIGSTOP after step 3, and
/// returns how launch ended and what it said on stderr.
fn freeze_rank1(dir: &Path, out: &Path, sets: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = tiny(dir, out, sets)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(180);
    while losses(&out.join("metrics.jsonl")).len() < 3 {
        assert!(Instant::now() < deadline, "training did not reach step 3");
        std::thread::sleep(Duration::from_millis(20));
    }
    let rank1 = rank_pid(child.id(), "1");
    // SAFETY: signalling a rank process of this test.
    unsafe { libc::kill(rank1, libc::SIGSTOP) };
    let status = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        wait_within(&mut child, Duration::from_secs(240))
    }));
    // SAFETY: as above; the stopped rank must not outlive the test.
    unsafe {
        libc::kill(rank1, libc::SIGCONT);
        libc::kill(rank1, libc::SIGKILL);
    }
    let status = status.expect("a frozen rank hangs the run");
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    (status, err)
}

/// Whether `line` names rank 1 as the rank that stopped the run.
fn names_frozen_rank1(line: &str) -> bool {
    line.contains("rank 1 did not arrive") || line.contains("rank 1 sent no heartbeat for 3 s")
}

#[test]
fn a_frozen_rank_is_named_and_the_group_stopped() {
    let dir = scratch("frozen");
    let sets = [
        "train.max_steps=100000",
        "comm_timeout_s=3",
        "launcher.grace_period_s=2",
    ];
    let (status, err) = freeze_rank1(&dir, &dir.join("out"), &sets);
    assert_eq!(status.code(), Some(1), "{err}");
    let head = headline(&err);
    assert!(head.starts_with("launch: error: rank 1 "), "{err}");
    assert!(names_frozen_rank1(head), "{err}");
}

#[test]
fn a_group_with_a_frozen_rank_is_restarted_and_finishes() {
    let dir = scratch("frozen-restart");
    let out = dir.join("out");
    let sets = [
        "train.max_steps=40",
        "checkpoint.every_steps=5",
        "comm_timeout_s=3",
        "launcher.grace_period_s=2",
        "launcher.max_restarts=1",
    ];
    let (status, err) = freeze_rank1(&dir, &out, &sets);
    assert!(status.success(), "{err}");
    let named = err.lines().find(|l| l.starts_with("launch: rank 1 "));
    assert!(named.is_some_and(names_frozen_rank1), "{err}");
    assert!(
        err.contains("launch: restarting the group (restart 1 of 1)"),
        "{err}"
    );
    assert_eq!(losses(&out.join("metrics.jsonl")).keys().max(), Some(&40));
}

#[test]
fn the_rank_that_failed_is_blamed_not_the_peer_that_lost_it() {
    let dir = scratch("rootcause");
    // Rank 1 may write no file over 50 KB (RLIMIT_FSIZE, as on a full
    // disk): its checkpoint shard fails with "File too large", rank 0's not.
    let trainer = script(
        &dir.join("trainer.sh"),
        &format!(
            "if [ \"$RANK\" = 1 ]; then trap '' XFSZ; ulimit -f 100; fi\nexec {}",
            bin("trainer").display()
        ),
    );
    let sets = [
        "train.max_steps=4",
        "checkpoint.every_steps=2",
        "data.cache=false",
    ];
    let out = tiny(&dir, &dir.join("out"), &sets)
        .env("FERROSPEED_TRAINER", &trainer)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let head = headline(&err);
    assert!(
        head.starts_with("launch: error: rank 1 exited with status 1: trainer rank 1: error: "),
        "{err}"
    );
    assert!(head.contains("File too large"), "{err}");
    assert!(
        err.contains("\n  other ranks: rank 0 exited with status 1 (lost rank 1)"),
        "{err}"
    );
}

#[test]
fn a_comm_timeout_that_is_not_positive_is_a_config_error() {
    let dir = scratch("timeout0");
    let out = launch(&dir)
        .args(["check"])
        .arg(repo_root().join("configs/tiny-pretrain.yaml"))
        .args(["--set", "comm_timeout_s=0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out)
            .contains("`comm_timeout_s` must be a positive number of seconds (default 600), got 0"),
        "{}",
        text(&out)
    );
}
