//! A pipeline's launcher holds no memory per job, and no trainer of a
//! finished stage outlives it (read from /proc while the pipeline runs).

mod common;
use common::*;
use std::path::Path;

const STAGES: usize = 10;

/// A pipeline of `STAGES` two-step sanity SFT stages `st00`.. in `dir`.
fn ten_stages(dir: &Path) -> std::path::PathBuf {
    let config = repo_root().join("configs/sanity.yaml");
    let mut text = String::from("pipeline: mem\noutput_dir: out\nstages:\n");
    for i in 0..STAGES {
        text += &format!("  - name: st{i:02}\n    config: {}\n    set: {{ train.sanity_steps: null, train.epochs: null, train.max_steps: 2 }}\n", config.display());
    }
    let path = dir.join("p.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The ledger's `(stage, status)` rows (empty before the first save).
fn statuses(dir: &Path) -> Vec<(String, String)> {
    ledger_rows(&dir.join("out/pipeline.jsonl"), &["stage", "status"])
        .into_iter()
        .map(|r| {
            let (stage, status) = r.split_once(':').unwrap();
            (stage.to_string(), status.to_string())
        })
        .collect()
}

/// VmRSS of `pid` in KiB (None once it has exited).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Live `trainer` processes: pid, and their command line, environment and
/// working directory as one text.
fn trainers() -> Vec<(i32, String)> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() != "trainer" {
            continue;
        }
        let read = |f: &str| {
            String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/{f}")).unwrap_or_default())
                .into_owned()
        };
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap_or_default();
        found.push((
            pid,
            format!("{} {} {}", read("cmdline"), read("environ"), cwd.display()),
        ));
    }
    found
}

/// The pids among `procs` whose text names `needle`.
fn naming(procs: &[(i32, String)], needle: &str) -> Vec<i32> {
    procs
        .iter()
        .filter(|p| p.1.contains(needle))
        .map(|p| p.0)
        .collect()
}

#[test]
fn ten_stages_leave_the_launcher_flat_and_no_trainer_behind() {
    let dir = scratch("pipeline-mem");
    let p = ten_stages(&dir);
    let mut child = launch(&dir)
        .arg("1")
        .arg(&p)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    // A stage's ranks name its output dir or its log dir (their config.yaml).
    let stage_dir = |s: &str| format!("{}/out/logs/{s}/", dir.display());
    let (mut first, mut last, mut seen_running) = (None, None, 0);
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        let rows = statuses(&dir);
        let done: Vec<&String> = rows
            .iter()
            .filter(|r| r.1 == "completed")
            .map(|r| &r.0)
            .collect();
        // The launcher exits right after the last job, so `last` is its
        // newest reading with at least STAGES - 1 jobs behind it.
        if let Some(kib) = rss_kib(pid) {
            if done.len() == 1 && first.is_none() {
                first = Some(kib);
            }
            if done.len() >= STAGES - 1 {
                last = Some(kib);
            }
        }
        if let Some((running, _)) = rows.iter().find(|r| r.1 == "running") {
            let procs = trainers();
            seen_running += usize::from(!naming(&procs, &stage_dir(running)).is_empty());
            for stage in &done {
                let left = naming(&procs, &stage_dir(stage));
                assert!(
                    left.is_empty(),
                    "trainer(s) {left:?} of finished stage {stage} alive while {running} runs"
                );
            }
        }
        assert!(
            start.elapsed().as_secs() < 300,
            "pipeline still running after 300 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    assert_eq!(statuses(&dir).len(), STAGES);
    assert!(
        seen_running > 0,
        "never saw a running stage's trainer in /proc"
    );
    let (first, last) = (
        first.expect("no RSS after the first stage"),
        last.expect("no RSS after the last stage"),
    );
    assert!(
        last.abs_diff(first) <= 5 * 1024,
        "launcher RSS {first} KiB after the first stage, {last} KiB after the last"
    );
}
