//! One run per output_dir: a second `launch` on a folder another run holds
//! is refused at once, naming the holder; the holder finishes unharmed; a
//! lock file left by a run that ended (even by SIGKILL) is no lock.
//! The trainer is a shell script (FERROSPEED_TRAINER) that waits for a
//! `go` file, so the first run is still running while the second tries.

mod common;
use common::*;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The run's config: a model, data and a length, as `launch` requires.
fn config() -> String {
    format!(
        "run_name: locktest\n{}train: {{ max_steps: 1 }}\ncheckpoint:\n  output_dir: out\n",
        runnable_yaml()
    )
}

/// A trainer that marks its start, waits (at most 60 s) for `go`, then
/// leaves a file in the output_dir.
const WAITER: &str = "touch started\n\
    i=0; while [ ! -f go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\n\
    echo finished > out/first-run-finished";

/// A trainer that shows its parent (`launch`) and the lock file's record.
const SHOWER: &str = "echo \"parent $PPID\"\ncat out/.lock";

fn setup(name: &str) -> std::path::PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("c.yaml"), config()).unwrap();
    script(&dir.join("waiter"), WAITER);
    script(&dir.join("shower"), SHOWER);
    dir
}

fn start_waiting_run(dir: &Path) -> Child {
    let child = launch(dir)
        .args(["1", "c.yaml"])
        .env("FERROSPEED_TRAINER", dir.join("waiter"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !dir.join("started").exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the first run never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

/// Runs `launch 1 c.yaml` with the SHOWER trainer; checks that it ran and
/// that the lock file now names it.
fn run_and_check_the_lock_names_it(dir: &Path) {
    let out = launch(dir)
        .args(["1", "c.yaml"])
        .env("FERROSPEED_TRAINER", dir.join("shower"))
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "a new run starts: {all}");
    let parent = all
        .lines()
        .find_map(|l| l.split("parent ").nth(1))
        .unwrap_or_else(|| panic!("the trainer ran: {all}"))
        .trim()
        .to_string();
    assert!(
        all.contains(&format!("\"pid\":{parent}")),
        "the lock file records the new run (pid {parent}), not the old one: {all}"
    );
}

#[test]
fn a_second_run_on_a_held_output_dir_is_refused_with_the_holders_pid() {
    let dir = setup("lock-held");
    let first = start_waiting_run(&dir);
    let second = launch(&dir)
        .args(["1", "c.yaml"])
        .env("FERROSPEED_TRAINER", dir.join("waiter"))
        .env("FERROSPEED_LOG_DIR", dir.join("logs-second"))
        .output()
        .unwrap();
    let all = text(&second);
    std::fs::write(dir.join("go"), "").unwrap();
    assert_eq!(second.status.code(), Some(2), "{all}");
    let errors: Vec<&str> = all.lines().filter(|l| l.contains("error:")).collect();
    assert_eq!(errors.len(), 1, "one message: {all}");
    assert!(
        errors[0].contains("out is in use by another run: pid ")
            && errors[0].contains(&format!("pid {} on ", first.id()))
            && errors[0].contains(" UTC"),
        "names the holder's pid and start: {all}"
    );
    assert!(!all.contains("panicked"), "{all}");
    assert!(
        !dir.join("logs-second").exists(),
        "the second run started nothing: {all}"
    );

    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        dir.join("out/first-run-finished").is_file(),
        "the first run finished unharmed"
    );
    // Its lock file is still there, with its record: no lock once it ended.
    assert!(dir.join("out/.lock").is_file());
    run_and_check_the_lock_names_it(&dir);
}

#[test]
fn a_killed_holder_leaves_no_lock() {
    let dir = setup("lock-killed");
    let mut first = start_waiting_run(&dir);
    first.kill().unwrap(); // SIGKILL: launch gets no chance to clean up
    first.wait().unwrap();
    run_and_check_the_lock_names_it(&dir);
    std::fs::write(dir.join("go"), "").unwrap();
}
