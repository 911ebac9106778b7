//! `launch N config.yaml`, `launch check`, multi-node, and one clear message
//! for each bad input.

mod common;
use common::*;
use std::process::Stdio;

/// A run of the tiny model whose trainer the tests replace.
fn config() -> String {
    format!("run_name: cfgtest\n{}train:\n  micro_batch_size: 2\n  effective_batch_size: 16\n  max_steps: 1\nby_world_size:\n  1: {{ train.micro_batch_size: 4 }}\n", runnable_yaml())
}

/// A stand-in trainer that prints what `launch` handed it.
fn fake_trainer(dir: &std::path::Path) -> std::path::PathBuf {
    script(
        &dir.join("fake-trainer"),
        "echo rank $RANK of $WORLD_SIZE\ncat \"$FERROSPEED_CONFIG\"",
    )
}

#[test]
fn ranks_get_the_resolved_config_and_the_plan_is_printed() {
    let dir = scratch("cfg");
    std::fs::write(dir.join("c.yaml"), config()).unwrap();
    let out = launch(&dir)
        .args(["2", "c.yaml", "--set", "train.learning_rate=0.001"])
        .env("FERROSPEED_TRAINER", fake_trainer(&dir))
        .output()
        .unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains(
            "world size 2, micro batch 2 per device, gradient accumulation 4, effective batch 16"
        ),
        "{all}"
    );
    assert!(all.contains("[rank0] rank 0 of 2"), "{all}");
    assert!(
        all.contains("learning_rate: 0.001"),
        "the --set value reaches the ranks: {all}"
    );
    let logs = rank_logs(&dir.join("logs/cfgtest"));
    assert_eq!(logs.len(), 2);
    assert!(logs[1].1.contains("rank 1 of 2"));
}

#[test]
fn check_prints_plans_for_one_two_and_eight_devices() {
    let dir = scratch("check");
    std::fs::write(dir.join("c.yaml"), config()).unwrap();
    let out = launch(&dir).args(["check", "c.yaml"]).output().unwrap();
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("world size 1, micro batch 4 per device, gradient accumulation 4"),
        "{all}"
    );
    assert!(
        all.contains("world size 2, micro batch 2 per device, gradient accumulation 4"),
        "{all}"
    );
    assert!(
        all.contains("world size 8, micro batch 2 per device, gradient accumulation 1"),
        "{all}"
    );
    assert!(!dir.join("logs").exists(), "check runs nothing");
}

/// Runs `launch` with `args` in a folder holding `config`, expects exit 2,
/// the message, and nothing spawned.
fn refused(config: &str, args: &[&str], message: &str) {
    let dir = scratch("bad");
    std::fs::write(dir.join("c.yaml"), config).unwrap();
    let out = launch(&dir)
        .args(args)
        .env("FERROSPEED_TRAINER", fake_trainer(&dir))
        .output()
        .unwrap();
    let all = text(&out);
    assert_eq!(out.status.code(), Some(2), "{all}");
    assert!(all.contains(message), "expected {message:?} in: {all}");
    assert_eq!(all.matches("error:").count(), 1, "one message: {all}");
    assert!(
        !all.contains("panicked") && !all.contains("backtrace"),
        "{all}"
    );
    assert!(!dir.join("logs").exists(), "nothing may be spawned: {all}");
    assert!(!dir.join("output").exists(), "no output_dir is made: {all}");
}

#[test]
fn bad_inputs_get_one_clear_message_and_spawn_nothing() {
    refused(
        "run_name: x\ntrain:\n  micro_batch: 2\n",
        &["1", "c.yaml"],
        "c.yaml:3:3: unknown key `train.micro_batch`; did you mean `train.micro_batch_size`?",
    );
    refused(
        "run_name: x\ntrain:\n  learning_rate: fast\n",
        &["1", "c.yaml"],
        "c.yaml:3:18: `train.learning_rate`: invalid type: string \"fast\"",
    );
    refused(
        &config(),
        &["0", "c.yaml"],
        "the number of processes must be at least 1 (got 0)",
    );
    refused(&config(), &["3", "c.yaml"], "`train.effective_batch_size` = 16 is not a multiple of micro_batch_size x world size = 2 x 3 = 6");
    refused(
        &config(),
        &["1", "missing.yaml"],
        "cannot read config file missing.yaml: No such file or directory",
    );
    refused(
        &config(),
        &["2", "--", "no-such-program-anywhere"],
        "program `no-such-program-anywhere` not found in PATH",
    );
    refused(
        &config(),
        &["2", "--", "./not-here.sh"],
        "program ./not-here.sh does not exist",
    );
    refused(
        &config(),
        &["2", "c.yaml", "--set", "optimizer.bits=4"],
        "`optimizer.bits` must be 32 or 8, got 4",
    );
    refused(
        &config(),
        &["two", "c.yaml"],
        "expected the number of processes or a command",
    );
}

#[test]
fn values_that_panic_train_nothing_or_overflow_are_refused_by_check_and_launch() {
    for (set, message) in [
        ("train.threads=0", "c.yaml: `train.threads` must be at least 1 (or left out for cores / ranks), got 0"),
        ("train.max_steps=0", "c.yaml: `train.max_steps` must be at least 1 (a run of 0 steps trains nothing"),
        ("train.sanity_steps=0", "`train.sanity_steps` must be at least 1"),
        ("train.epochs=-1", "`train.epochs` must be a positive number, got -1"),
        ("eval.every_steps=0", "`eval.every_steps` must be at least 1"),
        ("checkpoint.keep_last=0", "`checkpoint.keep_last` must be at least 1"),
        ("train.lr_schedule.warmup_ratio=-0.5", "`train.lr_schedule.warmup_ratio` must be a share in [0, 1], got -0.5"),
        ("train.lr_schedule.min_lr_ratio=-1", "`train.lr_schedule.min_lr_ratio` must be a share in [0, 1], got -1"),
        ("launcher.grace_period_s=.inf", "`launcher.grace_period_s` must be a number of seconds from 0 to 1e9, got inf"),
        ("optimizer.eps=0", "c.yaml: `optimizer.eps` must be a positive number that fits in f32 (e.g. 1e-8; 0 divides by zero), got 0"),
        ("optimizer.betas=[0.9, 1.0]", "`optimizer.betas` must be two numbers in [0, 1)"),
        ("train.learning_rate=1e39", "c.yaml: `train.learning_rate` must be a non-negative number that fits in f32 (at most 3.4028235e38), got 1e39"),
    ] {
        refused(&config(), &["check", "c.yaml", "--set", set], message);
        refused(&config(), &["1", "c.yaml", "--set", set], message);
    }
}

#[test]
fn threads_0_and_max_steps_0_stop_before_the_trainer_runs() {
    for (set, key) in [
        ("train.threads=0", "`train.threads` must be at least 1"),
        ("train.max_steps=0", "`train.max_steps` must be at least 1"),
    ] {
        let dir = scratch("zero");
        let out_dir = dir.join("out");
        let out_set = format!("checkpoint.output_dir={}", out_dir.display());
        for first in ["check", "1"] {
            let out = launch(&dir)
                .current_dir(repo_root())
                .args([
                    first,
                    "configs/tiny-pretrain.yaml",
                    "--set",
                    set,
                    "--set",
                    &out_set,
                ])
                .output()
                .unwrap();
            let all = text(&out);
            assert_eq!(out.status.code(), Some(2), "{first} --set {set}: {all}");
            assert!(all.contains(key), "{all}");
            assert!(
                !all.contains("panicked") && !all.contains("backtrace"),
                "{all}"
            );
            assert!(
                !out_dir.join("final").exists(),
                "nothing trained, no final/: {all}"
            );
            assert!(
                rank_logs(&dir.join("logs")).is_empty(),
                "no rank ran: {all}"
            );
        }
    }
}

#[test]
fn two_nodes_on_loopback_form_one_world_of_four() {
    let dir = scratch("nodes");
    let port = free_port().to_string();
    let node = |rank: &str| {
        launch(&dir)
            .args([
                "2",
                "--nnodes",
                "2",
                "--node-rank",
                rank,
                "--master-port",
                &port,
                "--run-id",
                "shared-secret",
                "--",
            ])
            .arg(bin("trainer"))
            .arg("probe")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let n0 = node("0");
    let n1 = node("1");
    let (o0, o1) = (
        n0.wait_with_output().unwrap(),
        n1.wait_with_output().unwrap(),
    );
    assert!(o0.status.success(), "{}", text(&o0));
    assert!(o1.status.success(), "{}", text(&o1));
    assert!(
        text(&o0).contains("probe: rank 0/4 all-reduce ok (sum 6)"),
        "{}",
        text(&o0)
    );
    let logs = rank_logs(&dir.join("logs"));
    assert!(logs.iter().any(|(p, b)| p.ends_with("rank-3.log") && b.contains("rank 3/4 all-reduce ok (sum 6)")), "{logs:?}");
}

#[test]
fn a_node_without_the_run_secret_is_refused() {
    let dir = scratch("stranger");
    let port = free_port().to_string();
    let mut n0 = launch(&dir)
        .args([
            "1",
            "--nnodes",
            "2",
            "--node-rank",
            "0",
            "--master-port",
            &port,
            "--run-id",
            "right",
            "--",
        ])
        .args(["sleep", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = launch(&dir)
        .args([
            "1",
            "--nnodes",
            "2",
            "--node-rank",
            "1",
            "--master-port",
            &port,
            "--run-id",
            "wrong",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    let _ = n0.kill();
    let _ = n0.wait();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("refused this process: wrong run secret"),
        "{}",
        text(&out)
    );
}
