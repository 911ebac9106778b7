//! A completed stage is skipped only when nothing that changes its result
//! changed: a new learning rate, or other rows in its data file (same
//! path), are refused naming the stage and what changed. `launch status`
//! after the pipeline was killed shows the stage as interrupted.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

/// One sanity SFT stage on `data`, with `extra` in its `set:`.
fn one_stage(dir: &Path, data: &Path, extra: &str, steps: u64) {
    let config = repo_root().join("configs/sanity.yaml");
    let text = format!(
        "pipeline: id\noutput_dir: out\nstages:\n  - name: sft\n    config: {}\n    \
         set: {{ train.sanity_steps: null, train.epochs: null, train.max_steps: {steps}, \
         eval.every_steps: 1000, data.datasets: [{{ path: {} }}]{extra} }}\n",
        config.display(),
        data.display()
    );
    std::fs::write(dir.join("p.yaml"), text).unwrap();
}

fn run(dir: &Path) -> std::process::Output {
    let mut c = launch(dir);
    c.arg("1").arg(dir.join("p.yaml"));
    c.output().unwrap()
}

#[test]
fn a_completed_stage_whose_learning_rate_or_data_changed_is_not_skipped() {
    let dir = scratch("pipeline-identity");
    let data = dir.join("sft.jsonl");
    std::fs::copy(repo_root().join("data/sanity-chat/sft.jsonl"), &data).unwrap();
    one_stage(&dir, &data, "", 2);
    let out = run(&dir);
    assert!(out.status.success(), "{}", text(&out));

    one_stage(&dir, &data, ", train.learning_rate: 1.0e-4", 2);
    let out = run(&dir);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("stage sft completed with `train.learning_rate`"),
        "{said}"
    );

    // The same path, other rows: the same size and time are not enough to hide it.
    one_stage(&dir, &data, "", 2);
    let text_before = std::fs::read_to_string(&data).unwrap();
    let stamp = std::fs::metadata(&data).unwrap().modified().unwrap();
    let swapped = text_before.replacen("Compute", "Comqute", 1);
    assert_eq!(swapped.len(), text_before.len());
    std::fs::write(&data, &swapped).unwrap();
    let f = std::fs::File::options().write(true).open(&data).unwrap();
    f.set_modified(stamp + std::time::Duration::from_secs(1))
        .unwrap();
    let out = run(&dir);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("other contents of the data file"), "{said}");

    std::fs::write(&data, &text_before).unwrap();
    let out = run(&dir);
    assert!(
        text(&out).contains("sft: completed, skipped"),
        "{}",
        text(&out)
    );

    // The way out when the change is meant: --rerun, which keeps the old result.
    one_stage(&dir, &data, ", train.learning_rate: 1.0e-4", 2);
    let out = run(&dir);
    assert!(text(&out).contains("--rerun sft"), "{}", text(&out));
    let mut c = launch(&dir);
    c.arg("1").arg(dir.join("p.yaml")).args(["--rerun", "sft"]);
    let said = run_ok(c);
    assert!(said.contains("pipeline id complete"), "{said}");
    let kept: Vec<_> = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("sft.before-rerun-")
        })
        .collect();
    assert_eq!(kept.len(), 1, "the earlier result was not kept");
    assert!(kept[0].path().join("final/model.safetensors").is_file());
    let out = run(&dir);
    assert!(
        text(&out).contains("sft: completed, skipped"),
        "{}",
        text(&out)
    );
}

#[test]
fn status_after_the_pipeline_was_killed_shows_the_stage_interrupted() {
    let dir = scratch("pipeline-killed-status");
    one_stage(
        &dir,
        &repo_root().join("data/sanity-chat/sft.jsonl"),
        "",
        200,
    );
    let mut child = launch(&dir)
        .arg("1")
        .arg(dir.join("p.yaml"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    reach_step(&dir.join("out/sft"), 1, std::time::Duration::from_secs(180));
    child.kill().unwrap();
    child.wait().unwrap();
    let status = |dir: &Path| {
        let out = Command::new(bin("launch"))
            .arg("status")
            .arg(dir.join("out"))
            .output()
            .unwrap();
        text(&out)
    };
    let start = std::time::Instant::now();
    // The job's processes die with the pipeline; then nothing holds its lock.
    while !status(&dir).contains("interrupted") {
        assert!(start.elapsed().as_secs() < 60, "{}", status(&dir));
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let table = status(&dir);
    let cells = |l: &str| l.split_whitespace().nth(2) == Some("running");
    assert!(!table.lines().any(cells), "{table}");
}
