//! A damaged data cache is noticed: a flipped token byte in the cache file
//! of a run makes the next run rebuild it, with one warning naming the
//! file, and train on the same samples as a clean run.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// `launch 1 configs/tiny-pretrain.yaml` for 3 steps from the start, with
/// the outputs under `out`; returns the output.
fn run(dir: &Path, out: &Path) -> String {
    let sets = ["train.max_steps=3", "checkpoint.resume=never"];
    let result = tiny_pretrain(dir, 1, out, &sets).output().unwrap();
    let all = text(&result);
    assert!(result.status.success(), "{all}");
    all
}

/// The training losses of the last 3 steps recorded in `out`/metrics.jsonl.
fn losses(out: &Path) -> Vec<f64> {
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let all: Vec<f64> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["train_loss"].as_f64())
        .collect();
    all[all.len() - 3..].to_vec()
}

/// The one cache file under `out`/data-cache.
fn cache_file(out: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(out.join("data-cache"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn a_flipped_token_byte_in_the_data_cache_is_rebuilt_with_a_warning_and_the_same_losses() {
    let dir = scratch("cache-e2e");
    let out = dir.join("out");
    let log = run(&dir, &out);
    assert!(!log.contains("is damaged"), "{log}");
    let clean = losses(&out);

    let file = cache_file(&out);
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() * 3 / 4; // among the token ids
    bytes[at] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let log = run(&dir, &out);
    let warning = format!(
        "warning: the data cache {} is damaged (its checksum does not match its contents); rebuilding it",
        file.display()
    );
    assert_eq!(log.matches(&warning).count(), 1, "{log}");
    assert_eq!(losses(&out), clean, "trained on the same samples");
}
