//! The run's secret (`--run-id`, or FERROSPEED_RUN_ID) reaches the ranks
//! through their environment only: it is in no file a run writes (the
//! lock file records the command with the secret masked) and in no rank's
//! command line.

mod common;
use common::*;
use std::path::{Path, PathBuf};

const SECRET: &str = "s3cr3t-run-id-4242";

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        match e.file_type().unwrap().is_dir() {
            true => out.extend(files(&p)),
            false => out.push(p),
        }
    }
    out
}

#[test]
fn the_run_secret_is_in_no_file_of_the_run_and_in_no_ranks_command_line() {
    let dir = scratch("secrets");
    let out = dir.join("out");
    // Each rank's command line, as the kernel shows it, then the trainer.
    let wrapper = script(
        &dir.join("trainer"),
        &format!(
            "tr '\\0' ' ' < /proc/$$/cmdline > {}/cmdline-$RANK\nexec {} \"$@\"",
            dir.display(),
            bin("trainer").display()
        ),
    );
    let mut run = tiny_pretrain(&dir, 2, &out, &["train.max_steps=2"]);
    run.args(["--run-id", SECRET])
        .env("FERROSPEED_TRAINER", wrapper);
    let all = run_ok(run);
    let lock = std::fs::read_to_string(out.join(".lock")).unwrap();
    assert!(
        lock.contains("--run-id ***"),
        "the lock file shows it masked: {lock}"
    );
    for rank in 0..2 {
        let cmdline = dir.join(format!("cmdline-{rank}"));
        assert!(cmdline.is_file(), "rank {rank} ran: {all}");
    }
    let written = files(&dir);
    assert!(written.iter().any(|f| f.ends_with("metrics.jsonl")));
    for f in written {
        let bytes = std::fs::read(&f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(SECRET),
            "{} holds the secret: {text}",
            f.display()
        );
    }
}
