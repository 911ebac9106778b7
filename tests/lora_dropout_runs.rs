//! LoRA dropout in a run as a user runs it: its masks are a function of
//! the seed, the step, the rank and the micro-step alone, so a run stopped
//! at a checkpoint and resumed at the same world size gives the losses of
//! the run never stopped; and dropout changes the training losses.

mod common;
use common::tiny_pretrain as pretrain;
use common::*;
use std::process::Command;

/// LoRA on the tiny model: r 8 on every projection, f32, with the dropout
/// `lora.dropout=...`.
fn sets(dropout: &'static str) -> Vec<&'static str> {
    let lora = ["lora.r=8", "lora.alpha=16", dropout];
    let run = ["train.max_steps=8", "checkpoint.every_steps=4"];
    [&lora[..], &run[..]].concat()
}

#[test]
fn a_run_with_lora_dropout_resumes_with_the_losses_of_the_run_never_stopped() {
    let dir = scratch("lora-dropout-resume");
    let with = sets("lora.dropout=0.1");
    let whole = dir.join("whole");
    run_ok(pretrain(&dir, 2, &whole, &with));
    let want = losses(&whole.join("metrics.jsonl"));
    assert_eq!(want.len(), 8, "{want:?}");

    let out = dir.join("resumed");
    std::fs::create_dir_all(out.join("checkpoints")).unwrap();
    let mut cp = Command::new("cp");
    cp.arg("-r")
        .arg(ckpt(&whole, 4))
        .arg(out.join("checkpoints"));
    assert!(cp.status().unwrap().success());
    let said = run_ok(pretrain(&dir, 2, &out, &with));
    assert!(said.contains("resumed from"), "{said}");
    let got = losses(&out.join("metrics.jsonl"));
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), [5, 6, 7, 8]);
    for (step, loss) in got {
        let w = want[&step];
        assert!(
            (loss - w).abs() <= 1e-6 * w,
            "step {step}: {loss} vs uninterrupted {w}"
        );
    }

    let plain = dir.join("plain");
    run_ok(pretrain(&dir, 2, &plain, &sets("lora.dropout=0")));
    let without = losses(&plain.join("metrics.jsonl"));
    // New adapters (lora_B zero) change nothing at the first step, dropped
    // out or not, and AdamW's first update is the sign of the gradient.
    assert_eq!(without[&1], want[&1]);
    let moved = (3..=8).filter(|s| without[s] != want[s]);
    assert_eq!(
        moved.count(),
        6,
        "dropout leaves the losses: {want:?} vs {without:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
