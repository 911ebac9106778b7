//! A shared output_dir may hold links planted by someone else: the files
//! `launch` and the trainer write there (`.lock`, `metrics.jsonl`,
//! `pipeline.jsonl`, `finished`, `checkpoints/latest`) never write through
//! them. A link is refused with one line naming it, or replaced; its
//! target stays as it was.

mod common;
use common::*;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// A victim file outside the output_dir, holding `keep`.
fn victim(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, "keep\n").unwrap();
    path
}

fn unchanged(path: &Path) -> bool {
    std::fs::read_to_string(path).unwrap() == "keep\n"
}

#[test]
fn a_linked_lock_file_is_refused_naming_it_and_its_target_is_not_truncated() {
    let dir = scratch("links-lock");
    let target = victim(&dir, "victim");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    symlink(&target, dir.join("out/.lock")).unwrap();
    let config = format!(
        "run_name: links\n{}train: {{ max_steps: 1 }}\ncheckpoint: {{ output_dir: out }}\n",
        runnable_yaml()
    );
    std::fs::write(dir.join("c.yaml"), config).unwrap();
    let trainer = script(&dir.join("trainer"), "touch started");
    let out = launch(&dir)
        .args(["1", "c.yaml"])
        .env("FERROSPEED_TRAINER", trainer)
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    let errors: Vec<&str> = all.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "one message: {all}");
    assert!(
        errors[0].contains("out/.lock") && errors[0].contains("symbolic link"),
        "names the link: {all}"
    );
    assert!(unchanged(&target), "the link's target is untouched");
    assert!(!dir.join("started").exists(), "no rank started: {all}");
}

#[test]
fn a_linked_metrics_file_stops_the_run_and_its_target_gets_no_records() {
    let dir = scratch("links-metrics");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let target = victim(&dir, "victim");
    symlink(&target, out.join("metrics.jsonl")).unwrap();
    let run = tiny_pretrain(&dir, 1, &out, &["train.max_steps=2"])
        .output()
        .unwrap();
    let all = text(&run);
    assert!(!run.status.success(), "{all}");
    assert!(
        all.contains("metrics.jsonl") && all.contains("symbolic link"),
        "names the link: {all}"
    );
    assert!(!all.contains("panicked"), "{all}");
    assert!(unchanged(&target), "no record reached the link's target");
}

#[test]
fn links_at_the_marker_and_checkpoint_names_are_replaced_not_written_through() {
    let dir = scratch("links-markers");
    let out = dir.join("out");
    std::fs::create_dir_all(out.join("checkpoints")).unwrap();
    // The final names and the temporary names they were written through.
    let names = [
        "finished",
        "finished.partial",
        "checkpoints/latest",
        "checkpoints/latest.partial",
    ];
    let targets: Vec<PathBuf> = (0..names.len())
        .map(|i| victim(&dir, &format!("victim-{i}")))
        .collect();
    for (name, target) in names.iter().zip(&targets) {
        symlink(target, out.join(name)).unwrap();
    }
    let run = tiny_pretrain(&dir, 1, &out, &["train.max_steps=2"]);
    let all = run_ok(run);
    for target in &targets {
        assert!(unchanged(target), "{} untouched: {all}", target.display());
    }
    let latest = std::fs::read_to_string(out.join("checkpoints/latest")).unwrap();
    assert_eq!(latest.trim(), "step-000002", "{all}");
    assert!(out.join("finished").symlink_metadata().unwrap().is_file());
}

#[test]
fn a_linked_pipeline_ledger_is_refused_naming_it_and_its_target_is_untouched() {
    let dir = scratch("links-ledger");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    // An empty ledger reads as no rows: the link would be written next.
    let ledger = dir.join("ledger-victim");
    std::fs::write(&ledger, "").unwrap();
    symlink(&ledger, out.join("pipeline.jsonl")).unwrap();
    let target = victim(&dir, "victim");
    symlink(&target, out.join("pipeline.jsonl.tmp")).unwrap();
    let config = format!(
        "run_name: links\n{}train: {{ max_steps: 1 }}\n",
        runnable_yaml()
    );
    std::fs::write(dir.join("c.yaml"), config).unwrap();
    let pipeline = "pipeline: p\noutput_dir: out\nstages:\n  - name: one\n    config: c.yaml\n";
    std::fs::write(dir.join("p.yaml"), pipeline).unwrap();
    let trainer = script(&dir.join("trainer"), "touch started");
    let run = launch(&dir)
        .args(["1", "p.yaml"])
        .env("FERROSPEED_TRAINER", trainer)
        .output()
        .unwrap();
    let all = text(&run);
    assert_eq!(run.status.code(), Some(2), "{all}");
    assert!(
        all.contains("out/pipeline.jsonl") && all.contains("symbolic link"),
        "names the link: {all}"
    );
    assert!(unchanged(&target), "the link's target is untouched");
    assert_eq!(std::fs::read_to_string(&ledger).unwrap(), "");
    assert!(!dir.join("started").exists(), "no job started: {all}");
}
