//! Ctrl-C during a pipeline stage: the job is marked `interrupted`, no
//! further job starts, the launcher exits non-zero; the same command resumes.

mod common;
use common::*;
use std::path::Path;

/// Two sanity SFT stages, `first` long enough to be interrupted.
fn two_stages(dir: &Path) -> std::path::PathBuf {
    let config = repo_root().join("configs/sanity.yaml");
    let mut text = String::from("pipeline: int\noutput_dir: out\nstages:\n");
    for (name, steps) in [("first", 30), ("second", 2)] {
        text += &format!("  - name: {name}\n    config: {}\n    set: {{ train.sanity_steps: null, train.epochs: null, train.max_steps: {steps}, checkpoint.every_steps: 2 }}\n", config.display());
    }
    let path = dir.join("p.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The ledger's `stage:status:attempts` rows.
fn rows(dir: &Path) -> Vec<String> {
    ledger_rows(
        &dir.join("out/pipeline.jsonl"),
        &["stage", "status", "attempts"],
    )
}

#[test]
fn ctrl_c_marks_the_stage_interrupted_and_a_rerun_resumes_it() {
    let dir = scratch("pipeline-int");
    let p = two_stages(&dir);
    let mut child = launch(&dir)
        .arg("1")
        .arg(&p)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let marker = dir.join("out/first/checkpoints/step-000002/COMPLETE");
    let start = std::time::Instant::now();
    while !marker.is_file() {
        assert!(
            start.elapsed().as_secs() < 120,
            "no first checkpoint after 120 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: a signal to the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_within(&mut child, std::time::Duration::from_secs(120));
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success(), "{status:?}: {err}");
    assert!(
        err.contains("marked interrupted, no further job started"),
        "{err}"
    );
    // The stage that never started is listed, pending, for `launch status`.
    assert_eq!(rows(&dir), ["first:interrupted:1", "second:pending:0"]);
    assert!(!dir.join("out/second").exists(), "the next stage started");
    assert!(
        !dir.join("out/first/final").exists(),
        "interrupted, yet final/ written"
    );
    let out = run_ok({
        let mut c = launch(&dir);
        c.arg("1").arg(&p);
        c
    });
    assert!(out.contains("pipeline int complete"), "{out}");
    assert_eq!(rows(&dir), ["first:completed:2", "second:completed:1"]);
    let ledger = std::fs::read_to_string(dir.join("out/pipeline.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(ledger.lines().next().unwrap()).unwrap();
    let log = std::fs::read_to_string(first["log"].as_str().unwrap()).unwrap();
    assert!(log.contains("resumed from"), "{out}\n{log}");
    let steps: Vec<u64> = losses(&dir.join("out/first/metrics.jsonl"))
        .into_keys()
        .collect();
    assert_eq!(steps.last(), Some(&30), "{steps:?}");
}
