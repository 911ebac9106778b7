//! `launch 1`, `launch 2` and `launch 4` on one YAML train the same model:
//! the per-step losses and the final weights agree, and the metrics report
//! what users watch.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Runs the sanity config for 20 steps (f32, CPU) at `world` ranks.
fn train(dir: &Path, world: usize) -> (Vec<f64>, BTreeMap<String, Vec<f32>>) {
    let out = dir.join(format!("out-w{world}"));
    let status = launch(dir)
        .arg(world.to_string())
        .arg(repo().join("configs/tiny-pretrain.yaml"))
        .args([
            "--set",
            "train.max_steps=20",
            "--set",
            "logging.every_steps=1",
            "--set",
            "comm=cpu",
        ])
        .args([
            "--set",
            "train.micro_batch_size=4",
            "--set",
            "train.threads=1",
            "--set",
            "export.dtype=f32",
        ])
        .arg("--set")
        .arg(format!("checkpoint.output_dir={}", out.display()))
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", text(&status));
    let records = records(&out);
    let steps: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r.get("train_loss").is_some())
        .collect();
    assert_eq!(steps.len(), 20);
    for key in [
        "step",
        "learning_rate",
        "grad_norm",
        "total_tokens",
        "tokens_per_s",
        "per_device_tps",
        "comm_bytes",
        "comm_wait_s",
        "peak_rss_bytes",
    ] {
        assert!(steps[0].get(key).is_some(), "metrics.jsonl lacks {key}");
    }
    let losses = steps
        .iter()
        .map(|r| r["train_loss"].as_f64().unwrap())
        .collect();
    let bytes = std::fs::read(out.join("final/model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let weights = st
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let data = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect();
            (name, data)
        })
        .collect();
    (losses, weights)
}

#[test]
fn one_two_and_four_ranks_give_the_same_losses_and_weights() {
    let dir = scratch("worlds");
    let (base_losses, base_weights) = train(&dir, 1);
    assert!(
        base_losses[19] < base_losses[0] - 0.5,
        "the loss falls: {base_losses:?}"
    );
    assert!(base_weights.contains_key("lm_head.weight") && base_weights.len() == 2 * 9 + 3);
    for world in [2, 4] {
        let (losses, weights) = train(&dir, world);
        for (step, (a, b)) in losses.iter().zip(&base_losses).enumerate() {
            assert!(
                (a - b).abs() / b < 1e-5,
                "W={world} step {}: loss {a} vs {b}",
                step + 1
            );
        }
        for (name, w) in &weights {
            let base = &base_weights[name];
            let worst = w
                .iter()
                .zip(base)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "W={world} {name}: differs by {worst:e}");
        }
    }
}
