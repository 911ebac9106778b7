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

#[test]
fn a_run_secret_file_that_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("secrets-planted");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    // A secret someone else chose, or can read: node 0 must not use it.
    let planted = out.join(".launch-secret-7001");
    std::fs::write(&planted, "chosen-by-someone-else").unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut node0 = tiny_pretrain(&dir, 1, &out, &["train.max_steps=2"]);
    node0
        .env("SLURM_NNODES", "2")
        .env("SLURM_NODEID", "0")
        .env("SLURM_JOB_NODELIST", "127.0.0.[1-2]")
        .env("SLURM_JOB_ID", "7001")
        .env("FERROSPEED_MASTER_PORT_BASE", free_port().to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = node0.spawn().unwrap();
    wait_within(&mut child, std::time::Duration::from_secs(30));
    let run = child.wait_with_output().unwrap();
    let all = text(&run);
    assert_eq!(run.status.code(), Some(2), "{all}");
    assert!(
        all.contains(".launch-secret-7001") && all.contains("not a private file"),
        "names the file: {all}"
    );
    let kept = std::fs::read_to_string(&planted).unwrap();
    assert_eq!(kept, "chosen-by-someone-else", "and leaves it as it was");
}
