//! Evaluation does not depend on the world size: `launch 1`, `launch 2` and
//! `launch 4` of the sanity config evaluate the same validation samples
//! (`eval.max_samples` counts them over all ranks) and report the same
//! `eval_loss`.

mod common;
use common::*;
use std::path::Path;

/// The `eval_loss` records of one step of the sanity config at `world`
/// ranks, with a learning rate of 0 so that every world size evaluates the
/// same weights.
fn eval_losses(dir: &Path, world: usize) -> Vec<f64> {
    let out = dir.join(format!("out-w{world}"));
    let result = launch(dir)
        .arg(world.to_string())
        .arg(repo_root().join("configs/sanity.yaml"))
        .args(["--set", "train.threads=1", "--set", "comm=cpu"])
        .args([
            "--set",
            "train.max_steps=1",
            "--set",
            "train.sanity_steps=null",
        ])
        .args([
            "--set",
            "train.learning_rate=0.0",
            "--set",
            "eval.every_steps=1",
        ])
        .arg("--set")
        .arg(format!("checkpoint.output_dir={}", out.display()))
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(result.status.success(), "W={world}: {}", text(&result));
    records(&out)
        .iter()
        .filter_map(|r| r.get("eval_loss")?.as_f64())
        .collect()
}

#[test]
fn one_two_and_four_ranks_report_the_same_eval_loss() {
    let dir = scratch("eval-worlds");
    let base = eval_losses(&dir, 1);
    assert_eq!(
        base.len(),
        1,
        "one evaluation after the only step: {base:?}"
    );
    for world in [2, 4] {
        let got = eval_losses(&dir, world);
        assert_eq!(got.len(), base.len(), "W={world}: {got:?}");
        for (a, b) in got.iter().zip(&base) {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs(),
                "eval_loss at W={world} is {a}, at W=1 {b}: the ranks evaluated other samples"
            );
        }
    }
}
