//! `optimizer.bits: 8` end to end: the 8-bit AdamW trains the same model at
//! every world size (`launch 1`, `launch 2`, `launch 4`), converges like the
//! 32-bit one, and holds about 2 bytes of optimizer state per parameter.

mod common;
use common::*;
use std::path::Path;

/// What a run reports: the start record and the per-step losses.
struct Run {
    start: serde_json::Value,
    losses: Vec<f64>,
}

/// The sanity config (f32, CPU) at `world` ranks for `steps` steps, with
/// extra `--set` overrides.
fn train(dir: &Path, name: &str, world: usize, steps: u64, sets: &[&str]) -> Run {
    let out = dir.join(name);
    let mut cmd = launch(dir);
    cmd.arg(world.to_string())
        .arg(repo_root().join("configs/tiny-pretrain.yaml"))
        .args(["--set", "logging.every_steps=1", "--set", "comm=cpu"])
        .args(["--set", "train.threads=1"])
        .arg("--set")
        .arg(format!("train.max_steps={steps}"))
        .arg("--set")
        .arg(format!("checkpoint.output_dir={}", out.display()));
    for s in sets {
        cmd.args(["--set", s]);
    }
    let status = cmd.current_dir(repo_root()).output().unwrap();
    assert!(status.status.success(), "{}", text(&status));
    let records = records(&out);
    let start = records
        .iter()
        .find(|r| r["event"] == "start")
        .expect("a start record")
        .clone();
    let losses: Vec<f64> = records
        .iter()
        .filter_map(|r| r.get("train_loss").and_then(|l| l.as_f64()))
        .collect();
    assert_eq!(losses.len() as u64, steps);
    Run { start, losses }
}

fn bytes_per_param(run: &Run) -> f64 {
    run.start["optimizer_bytes_per_param"]
        .as_f64()
        .expect("optimizer_bytes_per_param in the start record")
}

/// Every unit of the tiny model (the smallest has 16,384 parameters) gets
/// 8-bit state under this threshold.
const EIGHT_BIT: [&str; 2] = ["optimizer.bits=8", "optimizer.min_8bit_size=1024"];

#[test]
fn eight_bit_gives_the_same_losses_at_one_two_and_four_ranks() {
    let dir = scratch("eightbit-worlds");
    let sets = [EIGHT_BIT[0], EIGHT_BIT[1], "train.micro_batch_size=4"];
    let base = train(&dir, "w1", 1, 12, &sets);
    assert_eq!(bytes_per_param(&base), 2.0 + 8.0 / 256.0);
    for world in [2, 4] {
        let run = train(&dir, &format!("w{world}"), world, 12, &sets);
        assert_eq!(bytes_per_param(&run), 2.0 + 8.0 / 256.0, "W={world}");
        for (step, (a, b)) in run.losses.iter().zip(&base.losses).enumerate() {
            assert!(
                (a - b).abs() / b < 1e-5,
                "W={world} step {}: loss {a} vs {b}",
                step + 1
            );
        }
    }
}

#[test]
fn eight_bit_converges_like_thirty_two_bit() {
    let dir = scratch("eightbit-converges");
    let batch = ["train.micro_batch_size=8", "train.effective_batch_size=8"];
    let full = train(&dir, "bits32", 1, 200, &batch);
    let sets = [batch[0], batch[1], EIGHT_BIT[0], EIGHT_BIT[1]];
    let eight = train(&dir, "bits8", 1, 200, &sets);
    assert_eq!(bytes_per_param(&full), 8.0);
    assert_eq!(bytes_per_param(&eight), 2.0 + 8.0 / 256.0);
    // The loss after 200 steps, averaged over the last 10 to smooth batch noise.
    let tail = |r: &Run| r.losses[190..].iter().sum::<f64>() / 10.0;
    let (a, b) = (tail(&eight), tail(&full));
    println!(
        "loss after 200 steps: 8-bit {a:.5}, 32-bit {b:.5} (ratio {:.5}); first {:.4}",
        a / b,
        full.losses[0]
    );
    assert!(b < full.losses[0] / 3.0, "the 32-bit run learns: {b}");
    assert!((a / b - 1.0).abs() < 0.02, "8-bit {a} vs 32-bit {b}");
}
