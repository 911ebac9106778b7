//! `launch N -- PROGRAM`: ranks, logs, fail-fast, signals, restarts, no orphans.

mod common;
use common::*;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn read_pids(dir: &std::path::Path, n: usize) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pids: Vec<i32> = (0..n)
            .filter_map(|r| std::fs::read_to_string(dir.join(format!("pid-{r}"))).ok())
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        if pids.len() == n {
            return pids;
        }
        assert!(Instant::now() < deadline, "ranks did not all start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_rank_gets_its_environment_and_log() {
    let dir = scratch("env");
    let out = launch(&dir)
        .args(["3", "--run-name", "envtest", "--", "sh", "-c"])
        .arg("echo rank=$RANK local=$LOCAL_RANK world=$WORLD_SIZE lw=$LOCAL_WORLD_SIZE port=$MASTER_PORT attempt=$FERROSPEED_ATTEMPT; echo to-stderr-$RANK >&2")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("[rank0] rank=0 local=0 world=3 lw=3"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("rank=1"),
        "only rank 0 is echoed: {stdout}"
    );
    let logs = rank_logs(&dir.join("logs/envtest"));
    assert_eq!(logs.len(), 3);
    for (r, (path, body)) in logs.iter().enumerate() {
        assert!(path.ends_with(format!("rank-{r}.log")));
        assert!(
            body.contains(&format!("rank={r} local={r} world=3 lw=3 port=")),
            "{body}"
        );
        assert!(body.contains("attempt=0"));
        assert!(
            body.contains(&format!("to-stderr-{r}")),
            "stderr goes to the log too: {body}"
        );
    }
}

#[test]
fn one_failing_rank_brings_the_group_down_and_leaves_no_process() {
    let dir = scratch("failfast");
    let prog = script(
        &dir.join("rank.sh"),
        "echo $$ > pid-$RANK\nif [ \"$RANK\" = 2 ]; then sleep 0.5; echo 'disk on fire' ; exit 3; fi\nexec sleep 60",
    );
    let start = Instant::now();
    let mut child = launch(&dir)
        .args(["4", "--"])
        .arg(&prog)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let pids = read_pids(&dir, 4);
    let status = wait_within(&mut child, Duration::from_secs(20));
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "group took {:?} to stop",
        start.elapsed()
    );
    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.contains("rank 2 exited with status 3"), "{err}");
    assert!(
        err.contains("disk on fire"),
        "the failing rank's last lines are shown: {err}"
    );
    for pid in pids {
        assert!(!alive(pid), "rank process {pid} survived");
        assert!(!alive(-pid), "a process of rank group {pid} survived");
    }
}

#[test]
fn sigint_stops_every_rank_and_logs_keep_their_output() {
    let dir = scratch("sigint");
    let prog = script(
        &dir.join("rank.sh"),
        "echo $$ > pid-$RANK\necho started $RANK\nexec sleep 60",
    );
    let mut child = launch(&dir)
        .args(["3", "--"])
        .arg(&prog)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pids = read_pids(&dir, 3);
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: signalling the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_within(&mut child, Duration::from_secs(15));
    assert_eq!(status.code(), Some(130), "128 + SIGINT");
    for pid in pids {
        assert!(!alive(-pid), "rank group {pid} survived SIGINT");
    }
    let logs = rank_logs(&dir.join("logs"));
    assert_eq!(logs.len(), 3);
    for (r, (_, body)) in logs.iter().enumerate() {
        assert!(body.contains(&format!("started {r}")), "{body}");
    }
}

#[test]
fn a_group_that_fails_once_is_restarted() {
    let dir = scratch("restart");
    let out = launch(&dir)
        .args([
            "2",
            "--max-restarts",
            "1",
            "--run-name",
            "flaky",
            "--",
            "sh",
            "-c",
        ])
        .arg("echo attempt $FERROSPEED_ATTEMPT; [ \"$FERROSPEED_ATTEMPT\" = 1 ] || exit 5")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("restarting the group (restart 1 of 1)"),
        "{}",
        text(&out)
    );
    let folders = std::fs::read_dir(dir.join("logs/flaky")).unwrap().count();
    assert_eq!(folders, 2, "each attempt has its own log folder");
    let logs = rank_logs(&dir.join("logs/flaky"));
    assert!(logs
        .iter()
        .any(|(p, b)| p.to_string_lossy().contains("restart1") && b.contains("attempt 1")));

    // Without restarts the same program fails.
    let out = launch(&dir)
        .args([
            "2",
            "--",
            "sh",
            "-c",
            "[ \"$FERROSPEED_ATTEMPT\" = 1 ] || exit 5",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("exited with status 5"));
}

#[test]
fn trainer_ranks_reach_each_other_through_the_store() {
    let dir = scratch("probe");
    let out = launch(&dir)
        .args(["4", "--"])
        .arg(bin("trainer"))
        .arg("probe")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("[rank0] probe: rank 0/4 all-reduce ok (sum 6)"),
        "{}",
        text(&out)
    );
}
