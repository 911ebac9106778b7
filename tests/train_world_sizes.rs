//! `launch 1`, `launch 2` and `launch 4` on one YAML train the same model:
//! the per-step losses and the final weights agree, and the metrics report
//! what users watch. Keeping every unit's graph instead of recomputing it
//! (`train.activation_checkpointing`) trains the same model too.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Losses per step and the final weights by name.
type Trained = (Vec<f64>, BTreeMap<String, Vec<f32>>);

/// Runs the sanity config for 20 steps (f32, CPU) at `world` ranks, with
/// `train.activation_checkpointing` set to `recompute`.
fn train(dir: &Path, world: usize, recompute: &str) -> Trained {
    let out = dir.join(format!("out-w{world}-{recompute}"));
    let status = launch(dir)
        .arg(world.to_string())
        .arg(repo_root().join("configs/tiny-pretrain.yaml"))
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
        .arg(format!("train.activation_checkpointing={recompute}"))
        .arg("--set")
        .arg(format!("checkpoint.output_dir={}", out.display()))
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", text(&status));
    let records = records(&out);
    // Two blocks: the embedding and both blocks are recomputed (`true`),
    // or none (`false`, and `auto` on the CPU, with the host's memory).
    let start = records.iter().find(|r| r["event"] == "start").unwrap();
    let recomputed = if recompute == "true" { 3 } else { 0 };
    assert_eq!(start["recomputed_units"], recomputed, "{recompute}");
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

/// Asserts that `got` (at `world` ranks) has the losses and weights of
/// `base` up to float summation order.
fn assert_same(got: &Trained, base: &Trained, what: &str) {
    for (step, (a, b)) in got.0.iter().zip(&base.0).enumerate() {
        assert!(
            (a - b).abs() / b < 1e-5,
            "{what} step {}: loss {a} vs {b}",
            step + 1
        );
    }
    assert_eq!(got.1.len(), base.1.len());
    for (name, w) in &got.1 {
        let base = &base.1[name];
        let worst = w
            .iter()
            .zip(base)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "{what} {name}: differs by {worst:e}");
    }
}

#[test]
fn one_two_and_four_ranks_give_the_same_losses_and_weights() {
    let dir = scratch("worlds");
    let base = train(&dir, 1, "auto");
    let base_losses = &base.0;
    assert!(
        base_losses[19] < base_losses[0] - 0.5,
        "the loss falls: {base_losses:?}"
    );
    assert!(base.1.contains_key("lm_head.weight") && base.1.len() == 2 * 9 + 3);
    for world in [2, 4] {
        assert_same(&train(&dir, world, "auto"), &base, &format!("W={world}"));
    }
}

/// Without recompute, the same losses and weights as with it, at one, two
/// and four ranks.
#[test]
fn keeping_activations_trains_the_same_model_as_recomputing_them() {
    let dir = scratch("worlds-kept");
    let base = train(&dir, 1, "true");
    for world in [1, 2, 4] {
        let kept = train(&dir, world, "false");
        assert_same(&kept, &base, &format!("kept W={world}"));
    }
}
