//! Stopping `launch` stops what it started: a SIGTERM becomes a SIGKILL
//! of the ranks after `launcher.grace_period_s`, whatever a rank does
//! with the SIGTERM, and a killed `launch export` leaves no worker.

mod common;
use common::*;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// The pid a started process wrote to `file` (waited for up to 60 s).
fn pid_in(file: &Path) -> i32 {
    let t0 = Instant::now();
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if let Ok(pid) = text.trim().parse() {
            return pid;
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "nothing started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `pid` (or the group `-pid`) runs: a zombie waiting for its
/// new parent to reap it has ended.
fn running(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|s| s.split_whitespace().next());
    match pid < 0 {
        true => alive(pid),
        false => alive(pid) && state.is_some_and(|s| s != "Z"),
    }
}

/// Whether process `pid` (or group, when negative) ends within `limit`;
/// SIGKILLs it when it does not, so that no test leaves it behind.
fn ends_within(pid: i32, limit: Duration) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if !running(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: killing a process this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    false
}

#[test]
fn sigterm_kills_a_rank_that_ignores_it_once_the_grace_period_is_over() {
    let dir = scratch("stop-sigterm");
    let config = format!(
        "run_name: stop\n{}train: {{ max_steps: 1 }}\ncheckpoint: {{ output_dir: out }}\nlauncher: {{ grace_period_s: 1 }}\n",
        runnable_yaml()
    );
    std::fs::write(dir.join("c.yaml"), config).unwrap();
    // A rank stuck where it never acts on SIGTERM (as one still loading).
    let trainer = script(
        &dir.join("trainer"),
        "trap '' TERM\necho $$ > rank-pid\nexec sleep 60",
    );
    let mut child = launch(&dir)
        .args(["1", "c.yaml"])
        .env("FERROSPEED_TRAINER", trainer)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rank = pid_in(&dir.join("rank-pid"));
    let t0 = Instant::now();
    // SAFETY: signalling the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = wait_within(&mut child, Duration::from_secs(20));
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "killed after the 1 s grace period, not when the rank chose to end: {:?}",
        t0.elapsed()
    );
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    assert!(
        ends_within(-rank, Duration::from_secs(2)),
        "the rank is gone"
    );
}

#[test]
fn a_killed_launch_export_leaves_no_worker() {
    let dir = scratch("stop-export");
    // A checkpoint folder as `launch export` accepts one; the worker (the
    // trainer, replaced) takes its time.
    std::fs::create_dir_all(dir.join("ck")).unwrap();
    std::fs::write(dir.join("ck/COMPLETE"), "").unwrap();
    let worker = script(&dir.join("worker"), "echo $$ > worker-pid\nexec sleep 60");
    let mut child = launch(&dir)
        .args(["export", "ck", "exported"])
        .env("FERROSPEED_TRAINER", worker)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let worker = pid_in(&dir.join("worker-pid"));
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    assert!(
        ends_within(worker, Duration::from_secs(5)),
        "the export worker {worker} outlived launch export"
    );
}
