//! The DPO loss types (`train.dpo_loss_type`) through `launch`: a simpo run
//! does no reference pass (no log line, no cache file) and learns to prefer
//! the right answers; every loss type gives the same losses and rewards at
//! one and two ranks; the loss types with a reference share one cache.

mod common;
use common::*;
use std::path::Path;

fn run(dir: &Path, world: usize, sets: &[String]) -> std::process::Output {
    let mut c = launch(dir);
    c.arg(world.to_string())
        .arg(repo_root().join("configs/sanity-dpo.yaml"))
        .current_dir(dir);
    c.args(["--set", "train.threads=1", "--set", "comm=cpu"]);
    for s in sets {
        c.arg("--set").arg(s);
    }
    c.output().unwrap()
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

/// Per-step values of `key` in the run's metrics.
fn series(out: &Path, key: &str) -> Vec<f64> {
    records(out)
        .iter()
        .filter_map(|r| r.get(key)?.as_f64())
        .collect()
}

#[test]
fn a_simpo_run_does_no_reference_pass_and_learns() {
    let dir = scratch("simpo");
    let out_dir = dir.join("out");
    let sets = [
        format!("checkpoint.output_dir={}", out_dir.display()),
        "train.dpo_loss_type=simpo".into(),
        "logging.every_steps=1".into(),
    ];
    let out = run(&dir, 1, &sets);
    let all = text(&out);
    assert!(out.status.success(), "{all}");
    assert!(
        all.contains("dpo: the simpo loss is reference-free: no reference pass"),
        "{all}"
    );
    assert!(!all.contains("reference log-probs"), "{all}");
    assert!(
        !out_dir.join("dpo-reference.safetensors").exists(),
        "no reference cache is written"
    );
    let acc = series(&out_dir, "rewards/accuracy");
    let loss = series(&out_dir, "train_loss");
    assert_eq!(acc.len(), 120, "one record per step");
    let (first, last) = (mean(&acc[..10]), mean(&acc[acc.len() - 30..]));
    assert!(
        first < 0.7 && last > 0.75,
        "rewards/accuracy: first 10 steps {first}, last 30 {last}"
    );
    let (l0, l1) = (mean(&loss[..10]), mean(&loss[loss.len() - 10..]));
    assert!(l1 < 0.75 * l0, "train_loss falls: {l0} -> {l1}");
    for key in ["rewards/margin", "logps/chosen", "logps/rejected"] {
        assert_eq!(series(&out_dir, key).len(), 120, "metrics lack {key}");
    }
    assert!(series(&out_dir, "eval_rewards/accuracy").len() >= 4);
}

#[test]
fn every_loss_type_is_the_same_at_one_and_two_ranks() {
    let dir = scratch("dpo-loss-worlds");
    for (kind, extra) in [
        ("dpo_norm", "train.dpo_label_smoothing=0.1"),
        ("simpo", "train.simpo_gamma=1.0"),
        ("wpo", "train.dpo_label_smoothing=0.1"),
        ("ipo", "train.dpo_beta=0.5"),
    ] {
        let runs: Vec<[Vec<f64>; 2]> = [1, 2]
            .iter()
            .map(|&w| {
                let out_dir = dir.join(format!("{kind}-{w}"));
                let sets = [
                    format!("checkpoint.output_dir={}", out_dir.display()),
                    format!("train.dpo_loss_type={kind}"),
                    extra.into(),
                    "train.max_steps=6".into(),
                    "logging.every_steps=1".into(),
                    "eval.every_steps=null".into(),
                ];
                let out = run(&dir, w, &sets);
                assert!(out.status.success(), "{kind} W={w}: {}", text(&out));
                let refs = out_dir.join("dpo-reference.safetensors").exists();
                assert_eq!(refs, kind != "simpo", "{kind} W={w}: reference cache");
                [
                    series(&out_dir, "train_loss"),
                    series(&out_dir, "rewards/margin"),
                ]
            })
            .collect();
        for (i, what) in ["train_loss", "rewards/margin"].iter().enumerate() {
            let (one, two) = (&runs[0][i], &runs[1][i]);
            assert_eq!(one.len(), 6, "{kind} {what}");
            // Up to float summation order: relative 1e-5, and 1e-7 absolute
            // for margins near 0 (differences of log-probs near -30).
            for (a, b) in two.iter().zip(one) {
                assert!(
                    (a - b).abs() <= 1e-5 * b.abs().max(1e-2),
                    "{kind} {what}: W=2 {a} vs W=1 {b}"
                );
            }
        }
    }
}

#[test]
fn the_loss_types_with_a_reference_share_one_cache() {
    let dir = scratch("dpo-shared-cache");
    let (shared, fresh) = (dir.join("shared"), dir.join("fresh"));
    let sets = |out: &Path, kind: &str| -> Vec<String> {
        vec![
            format!("checkpoint.output_dir={}", out.display()),
            format!("train.dpo_loss_type={kind}"),
            "train.max_steps=2".into(),
            "logging.every_steps=1".into(),
            "eval.every_steps=null".into(),
            "checkpoint.resume=never".into(),
        ]
    };
    let first = run(&dir, 1, &sets(&shared, "dpo"));
    assert!(text(&first).contains("dpo: computing reference log-probs"));
    // ipo averages per token what the dpo run cached summed.
    let again = run(&dir, 1, &sets(&shared, "ipo"));
    let all = text(&again);
    assert!(again.status.success(), "{all}");
    assert!(
        !all.contains("reference log-probs"),
        "the cache is reused: {all}"
    );
    let own = run(&dir, 1, &sets(&fresh, "ipo"));
    assert!(text(&own).contains("dpo: computing reference log-probs"));
    let reused = series(&shared, "train_loss");
    let computed = series(&fresh, "train_loss");
    assert_eq!(
        &reused[reused.len() - 2..],
        &computed[..],
        "the same ipo losses"
    );
    // At the first step the policy is the reference: ipo's (0 - 1 / (2 beta))^2.
    let beta = 0.3;
    assert!(
        (computed[0] - 1.0 / (4.0 * beta * beta)).abs() < 1e-5,
        "{computed:?}"
    );
}
