//! Collectives that overlap compute (`overlap_comm`, on by default: the
//! next unit's all-gather and the last unit's reduce-scatter on a
//! communication thread) change when bytes move, not what is computed: the
//! losses, the bytes moved and the final weights are those of collectives
//! run one at a time.

mod common;
use common::*;
use std::path::Path;

fn run(dir: &Path, overlap: bool) -> (Vec<String>, std::path::PathBuf) {
    let out = dir.join(format!("overlap-{overlap}"));
    let set = format!("overlap_comm={overlap}");
    run_ok(tiny_pretrain(dir, 2, &out, &["train.max_steps=12", &set]));
    let keys = ["train_loss", "grad_norm", "comm_bytes"];
    let steps = records(&out)
        .into_iter()
        .filter(|r| r.get("train_loss").is_some())
        .map(|r| keys.map(|k| r[k].to_string()).join(" "))
        .collect();
    (steps, out)
}

#[test]
fn overlapped_collectives_train_bitwise_what_serial_ones_train() {
    let dir = scratch("comm-overlap");
    let (serial, a) = run(&dir, false);
    let (overlapped, b) = run(&dir, true);
    assert_eq!(serial.len(), 12);
    assert_eq!(
        serial, overlapped,
        "losses, grad norms or bytes moved differ"
    );
    let weights = |out: &Path| tensor_bytes(&out.join("final/model.safetensors"));
    assert!(weights(&a) == weights(&b), "the final weights differ");
}
