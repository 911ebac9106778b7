//! Shared helpers for the end-to-end tests: the built binaries, scratch
//! folders, and process checks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>`, where `launch` and `trainer` are built.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf(); // target/<profile>/deps/..
    assert!(
        dir.join("launch").is_file(),
        "{} has no `launch`: build the binaries first (cargo build --release --workspace --bins)",
        dir.display()
    );
    dir
}

/// Path of a built binary.
pub fn bin(name: &str) -> PathBuf {
    bin_dir().join(name)
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// YAML naming the tiny model and the counting data of the repository by
/// absolute paths: with a `train.max_steps`, what `launch` needs to accept a
/// config whose trainer the test replaces.
pub fn runnable_yaml() -> String {
    let root = repo();
    format!(
        "model: {{ config: {} }}\ndata: {{ datasets: [{{ path: {} }}] }}\n",
        root.join("configs/models/tiny-llama.json").display(),
        root.join("data/sanity/counting.jsonl").display()
    )
}

/// A fresh scratch folder under target/e2e.
pub fn scratch(name: &str) -> PathBuf {
    let dir = bin_dir()
        .join("e2e")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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

/// Every `rank-*.log` under `dir`, with its contents (each line without the
/// timestamp `launch` writes before it).
pub fn rank_logs(dir: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rank_logs(&p));
        } else if p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("rank-"))
        {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            out.push((p.clone(), unstamped(&text)));
        }
    }
    out.sort();
    out
}

/// `text` without the RFC 3339 timestamp at the start of each line.
pub fn unstamped(text: &str) -> String {
    text.lines()
        .map(|l| match l.split_once(' ') {
            Some((t, rest)) if t.len() == 24 && t.ends_with('Z') && t.as_bytes()[10] == b'T' => {
                rest
            }
            _ => l,
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Writes an executable shell script.
pub fn script(path: &Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
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

/// The checkpoint folder of step `step` under the output folder `out`.
pub fn ckpt(out: &Path, step: u64) -> PathBuf {
    out.join(format!("checkpoints/step-{step:06}"))
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

/// The `train_loss` of each step record in a metrics.jsonl, by step (the
/// last record of a step wins, as after a resume).
pub fn losses(metrics: &Path) -> std::collections::BTreeMap<u64, f64> {
    std::fs::read_to_string(metrics)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|r| Some((r.get("step")?.as_u64()?, r.get("train_loss")?.as_f64()?)))
        .collect()
}

/// The tensors of a safetensors file as raw bytes, by name.
pub fn tensor_bytes(path: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(n, v)| (n, v.data().to_vec()))
        .collect()
}

/// The records of `<out>/metrics.jsonl`.
pub fn records(out: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `launch N configs/tiny-pretrain.yaml` writing to `out`, with `sets`.
pub fn tiny_pretrain(dir: &Path, world: usize, out: &Path, sets: &[&str]) -> Command {
    let mut c = launch(dir);
    c.arg(world.to_string())
        .arg(repo().join("configs/tiny-pretrain.yaml"))
        .current_dir(repo());
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

/// The repository's `.venv/bin/python` (made by scripts/bootstrap), with
/// `package` installed into it once per test binary when missing.
pub fn python_with(package: &str) -> PathBuf {
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let py = repo().join(".venv/bin/python");
    let _held = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let have = Command::new(&py)
        .args(["-c", &format!("import {package}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        let status = Command::new(&py)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                package,
            ])
            .status()
            .expect("run pip in .venv");
        assert!(status.success(), "pip install {package} failed");
    }
    py
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

/// The `fields` of each row of the pipeline ledger at `path`, joined by `:`
/// (strings unquoted); empty while the ledger does not exist.
pub fn ledger_rows(path: &Path, fields: &[&str]) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|r| {
            let values: Vec<String> = fields
                .iter()
                .map(|f| match &r[*f] {
                    serde_json::Value::String(s) => s.clone(),
                    v => v.to_string(),
                })
                .collect();
            values.join(":")
        })
        .collect()
}
