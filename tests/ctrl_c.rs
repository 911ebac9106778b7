//! Ctrl-C does what docs/checkpoints.md says: the step under way finishes (with its
//! log line and evaluation), a checkpoint of that step is written, the
//! ranks exit; no further step runs.

mod common;

use common::{losses, scratch, tiny_pretrain};
use std::time::{Duration, Instant};

#[test]
fn ctrl_c_during_an_evaluation_stops_after_that_step_not_the_next() {
    let dir = scratch("ctrl-c-eval");
    let out = dir.join("out");
    // Most of each step is its evaluation over a large validation split, so
    // the signal arrives after the step's reduce, while it evaluates.
    let sets = [
        "train.max_steps=400",
        "checkpoint.every_steps=1000",
        "data.validation={ratio: 0.8}",
        "eval.every_steps=1",
    ];
    let mut child = tiny_pretrain(&dir, 2, &out, &sets)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let metrics = out.join("metrics.jsonl");
    let deadline = Instant::now() + Duration::from_secs(120);
    let logged = loop {
        let n = losses(&metrics).len();
        if n >= 3 {
            break n as u64;
        }
        assert!(Instant::now() < deadline, "training did not start");
        std::thread::sleep(Duration::from_millis(5));
    };
    // SAFETY: signalling the launcher this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    let mut stdout = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    let last = *losses(&metrics).keys().last().unwrap();
    assert_eq!(last, logged, "steps ran after the Ctrl-C:\n{stdout}");
    let saved = std::fs::read_to_string(out.join("checkpoints/latest")).unwrap();
    assert_eq!(saved.trim(), format!("step-{logged:06}"), "{stdout}");
    assert!(
        stdout.contains(&format!("stopped on request after step {logged};")),
        "{stdout}"
    );
}
