//! `optimizer.offload: cpu` is a placement, not an approximation: the same
//! losses and final weights as without it at one and two ranks, the plan in
//! the start record moves master weights and optimizer state to the host,
//! and a checkpoint written with offload resumes without it.

mod common;
use common::*;
use std::path::Path;

/// Trains the tiny model for 4 steps into `out` with `sets`; the records.
fn train(dir: &Path, world: usize, out: &Path, sets: &[&str]) -> Vec<serde_json::Value> {
    let mut sets = sets.to_vec();
    sets.extend(["train.max_steps=4", "checkpoint.every_steps=2"]);
    run_ok(tiny_pretrain(dir, world, out, &sets));
    records(out)
}

fn start(records: &[serde_json::Value]) -> &serde_json::Value {
    records.iter().find(|r| r["event"] == "start").unwrap()
}

fn weights(out: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    tensor_bytes(&out.join("final/model.safetensors"))
}

#[test]
fn offload_gives_the_same_losses_and_weights_at_one_and_two_ranks() {
    let dir = scratch("offload-same");
    for world in [1, 2] {
        let (a, b) = (
            dir.join(format!("none{world}")),
            dir.join(format!("cpu{world}")),
        );
        let plain = train(&dir, world, &a, &["optimizer.offload=none"]);
        let off = train(&dir, world, &b, &["optimizer.offload=cpu"]);
        assert_eq!(losses(&a.join("metrics.jsonl")).len(), 4);
        assert_eq!(
            losses(&a.join("metrics.jsonl")),
            losses(&b.join("metrics.jsonl")),
            "W={world}"
        );
        assert!(
            weights(&a) == weights(&b),
            "W={world}: final weights differ"
        );
        // The plan follows the placement: master + state leave the device.
        let (p, o) = (start(&plain), start(&off));
        let field = |r: &serde_json::Value, k: &str| r[k].as_u64().unwrap();
        assert!(field(o, "planned_host_bytes") > field(p, "planned_host_bytes"));
        assert!(field(o, "baseline_rss_bytes") > 0);
        assert_ne!(
            field(o, "planned_device_bytes"),
            field(p, "planned_device_bytes")
        );
    }
}

#[test]
fn a_checkpoint_written_with_offload_resumes_without_it() {
    let dir = scratch("offload-resume");
    let (reference, offloaded, resumed) = (dir.join("ref"), dir.join("off"), dir.join("res"));
    train(&dir, 1, &reference, &["optimizer.offload=none"]);
    train(&dir, 1, &offloaded, &["optimizer.offload=cpu"]);
    let from = format!("checkpoint.resume={}", ckpt(&offloaded, 2).display());
    let records = train(&dir, 1, &resumed, &["optimizer.offload=none", &from]);
    assert_eq!(start(&records)["resumed_step"], 2);
    let want = losses(&reference.join("metrics.jsonl"));
    let got = losses(&resumed.join("metrics.jsonl"));
    assert_eq!(got.keys().copied().collect::<Vec<_>>(), [3, 4]);
    for (step, loss) in got {
        assert_eq!(loss, want[&step], "step {step}");
    }
    assert!(
        weights(&reference) == weights(&resumed),
        "final weights differ"
    );
}
