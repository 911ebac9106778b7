//! The planner against the allocator: on the CPU (device = host), each
//! rank's measured peak resident memory above its baseline, from
//! metrics.jsonl, is within 15% of the planned device + host bytes, for
//! two model sizes, 32- and 8-bit optimizer state, offload on and off, at
//! one and two ranks, recomputing every block or keeping their graphs
//! (`false`, and `auto` on the CPU, which plans against the host).

mod common;
use common::*;
use std::path::Path;

/// Trains `model` (a file of configs/models, or a path) for 2 steps; the
/// planned and measured bytes of the run.
fn planned_and_measured(
    dir: &Path,
    name: &str,
    world: usize,
    model: &Path,
    sets: &[&str],
) -> (u64, u64) {
    let out = dir.join(name);
    let model = format!("model.config={}", model.display());
    let mut all = vec![
        model.as_str(),
        "train.max_steps=2",
        "checkpoint.every_steps=100",
        "data.max_seq_length=128",
    ];
    all.extend(sets);
    run_ok(tiny_pretrain(dir, world, &out, &all));
    let records = records(&out);
    let start = records.iter().find(|r| r["event"] == "start").unwrap();
    let field = |r: &serde_json::Value, k: &str| r[k].as_u64().unwrap_or(0);
    let planned = field(start, "planned_device_bytes") + field(start, "planned_host_bytes");
    let peak = records
        .iter()
        .map(|r| field(r, "peak_rss_bytes"))
        .max()
        .unwrap();
    (
        planned,
        peak.saturating_sub(field(start, "baseline_rss_bytes")),
    )
}

/// configs/models/bench-20m.json with `layers` decoder blocks.
fn model_with_layers(dir: &Path, layers: u64) -> std::path::PathBuf {
    let text = std::fs::read_to_string(repo_root().join("configs/models/bench-20m.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["num_hidden_layers"] = layers.into();
    let path = dir.join(format!("model-{layers}.json"));
    std::fs::write(&path, v.to_string()).unwrap();
    path
}

/// Every block recomputed in the backward pass.
const RECOMPUTE: &str = "train.activation_checkpointing=true";

#[test]
fn measured_peak_memory_is_within_15_percent_of_the_plan() {
    let dir = scratch("memory-measured");
    let (small, large) = (model_with_layers(&dir, 4), model_with_layers(&dir, 12));
    let runs: [(&str, usize, &Path, &[&str]); 5] = [
        (
            "small-32-none-w1",
            1,
            &small,
            &["optimizer.bits=32", "optimizer.offload=none", RECOMPUTE],
        ),
        (
            "large-8-cpu-w1",
            1,
            &large,
            &["optimizer.bits=8", "optimizer.offload=cpu", RECOMPUTE],
        ),
        (
            "large-32-none-w2",
            2,
            &large,
            &["optimizer.bits=32", "optimizer.offload=none", RECOMPUTE],
        ),
        (
            "large-32-none-w1-auto",
            1,
            &large,
            &[
                "optimizer.offload=none",
                // `auto` (the default) on the CPU: planned against the
                // host's memory, it keeps every graph.
                // The rows' length: activations are planned at max_seq_length.
                "data.max_seq_length=64",
            ],
        ),
        (
            "large-32-none-w2-kept",
            2,
            &large,
            &[
                "optimizer.offload=none",
                "train.activation_checkpointing=false",
                // The rows' length: activations are planned at max_seq_length.
                "data.max_seq_length=64",
            ],
        ),
    ];
    let mut misses = Vec::new();
    for (name, world, model, sets) in runs {
        let (planned, measured) = planned_and_measured(&dir, name, world, model, sets);
        let ratio = measured as f64 / planned as f64;
        println!("{name}: planned {planned} B, measured {measured} B, ratio {ratio:.3}");
        if (ratio - 1.0).abs() > 0.15 {
            misses.push(format!("{name}: ratio {ratio:.3}"));
        }
    }
    assert!(misses.is_empty(), "{misses:?}");
}
