//! Processes of the end-to-end tests: `launch` and its ranks, waiting,
//! signals, and what a finished command printed.

use super::{bin, losses, repo_root};
use std::path::Path;
use std::process::Command;

/// `launch` run in `dir`, with its logs under `dir/logs`.
pub fn launch(dir: &Path) -> Command {
    let mut c = Command::new(bin("launch"));
    c.current_dir(dir)
        .env("FERROSPEED_LOG_DIR", dir.join("logs"))
        .env_remove("FERROSPEED_RUN_ID")
        .env_remove("FERROSPEED_LOG")
        .env_remove("RUST_LOG");
    c
}

/// Whether a process (or, with a negative id, a process group) still exists.
pub fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Waits for `child` up to `limit`; panics (after killing it) if it does not end.
pub fn wait_within(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("launch did not end within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A TCP port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// stdout + stderr of a finished command, as text.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `c`, asserts that it succeeded, and returns its stdout + stderr.
pub fn run_ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

/// Pids of the processes whose parent is `pid` (Linux /proc).
pub fn children(pid: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok());
        if ppid == Some(pid) {
            out.push(p);
        }
    }
    out
}

/// Waits until `out`'s metrics have reached `step` (at most `limit`).
pub fn reach_step(out: &Path, step: u64, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    while losses(&out.join("metrics.jsonl"))
        .keys()
        .max()
        .copied()
        .unwrap_or(0)
        < step
    {
        assert!(
            std::time::Instant::now() < deadline,
            "training did not reach step {step}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// SIGKILLs the rank `rank` among the children of the launcher `parent`.
pub fn kill_rank(parent: u32, rank: usize) {
    let pid = children(parent)
        .into_iter()
        .find(|&p| env_of(p, "RANK") == Some(rank.to_string()))
        .unwrap_or_else(|| panic!("rank {rank} runs under {parent}"));
    // SAFETY: killing a rank process this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// The environment variable `name` of process `pid`.
pub fn env_of(pid: i32, name: &str) -> Option<String> {
    let raw = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    raw.split(|&b| b == 0)
        .map(|kv| String::from_utf8_lossy(kv).into_owned())
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")).map(str::to_string))
}

/// `launch N configs/tiny-pretrain.yaml` writing to `out`, with `sets`.
pub fn tiny_pretrain(dir: &Path, world: usize, out: &Path, sets: &[&str]) -> Command {
    let mut c = launch(dir);
    c.arg(world.to_string())
        .arg(repo_root().join("configs/tiny-pretrain.yaml"))
        .current_dir(repo_root());
    c.args([
        "--set",
        "train.threads=1",
        "--set",
        "logging.every_steps=1",
        "--set",
        "comm=cpu",
        "--set",
        "train.micro_batch_size=4",
        "--set",
        "export.dtype=f32",
    ]);
    c.arg("--set")
        .arg(format!("checkpoint.output_dir={}", out.display()));
    for s in sets {
        c.args(["--set", s]);
    }
    c
}

/// Spawns `c` (stdout piped, stderr dropped), sends the launcher SIGINT once
/// `out`'s metrics.jsonl has `steps` losses, and waits for it.
pub fn ctrl_c_after_steps(
    c: &mut Command,
    out: &Path,
    steps: usize,
) -> (std::process::ExitStatus, std::process::Child) {
    use std::time::{Duration, Instant};
    let mut child = c
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while losses(&out.join("metrics.jsonl")).len() < steps {
        assert!(Instant::now() < deadline, "training did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: signalling the launcher this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    (child.wait().unwrap(), child)
}
