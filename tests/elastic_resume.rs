//! Elastic resume: a checkpoint written by two ranks continues at one and at
//! four ranks with the losses of an uninterrupted run, with 32-bit and with
//! 8-bit optimizer state.

mod common;
use common::tiny_pretrain as sanity;
use common::*;
use std::process::Command;

/// Checkpoints at W=2 after step 10, resumes at W=1 and W=4, and compares
/// steps 11..20 with an uninterrupted W=1 run; `extra` sets the optimizer.
fn elastic(name: &str, extra: &[&str]) {
    let dir = scratch(name);
    let whole = dir.join("whole");
    run_ok(sanity(
        &dir,
        1,
        &whole,
        &[&["train.max_steps=20"], extra].concat(),
    ));
    let want = losses(&whole.join("metrics.jsonl"));

    let two = dir.join("two");
    run_ok(sanity(
        &dir,
        2,
        &two,
        &[&["train.max_steps=20", "checkpoint.every_steps=10"], extra].concat(),
    ));
    std::fs::remove_dir_all(ckpt(&two, 20)).unwrap(); // as if W=2 had stopped after step 10
    for world in [1, 4] {
        let out = dir.join(format!("resumed-{world}"));
        std::fs::create_dir_all(out.join("checkpoints")).unwrap();
        let copied = Command::new("cp")
            .arg("-r")
            .arg(ckpt(&two, 10))
            .arg(out.join("checkpoints"))
            .status()
            .unwrap();
        assert!(copied.success());
        let log = run_ok(sanity(
            &dir,
            world,
            &out,
            &[&["train.max_steps=20", "checkpoint.every_steps=10"], extra].concat(),
        ));
        assert!(log.contains("resumed from"), "{log}");
        let got = losses(&out.join("metrics.jsonl"));
        assert_eq!(
            got.keys().copied().collect::<Vec<_>>(),
            (11..=20).collect::<Vec<_>>()
        );
        for (step, loss) in got {
            let w = want[&step];
            assert!(
                (loss - w).abs() / w < 1e-5,
                "{name} W={world} step {step}: {loss} vs uninterrupted {w}"
            );
        }
    }
}

#[test]
fn a_checkpoint_of_two_ranks_resumes_at_one_and_four() {
    elastic("elastic", &[]);
}

#[test]
fn eight_bit_optimizer_state_resumes_at_one_and_four() {
    elastic(
        "elastic-8bit",
        &["optimizer.bits=8", "optimizer.min_8bit_size=1024"],
    );
}
