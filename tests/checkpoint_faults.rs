//! Checkpoint faults: weights that became non-finite are never saved, named
//! as kept, or resumed; a newest checkpoint whose meta.json is missing or
//! damaged is skipped for the previous complete one.

mod common;
use common::*;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::Output;

/// `launch 2 configs/tiny-pretrain.yaml` on the CPU, writing to `out`.
fn run(dir: &Path, out: &Path, sets: &[&str]) -> Output {
    let out_dir = format!("checkpoint.output_dir={}", out.display());
    let mut c = launch(dir);
    c.arg("2")
        .arg(repo_root().join("configs/tiny-pretrain.yaml"))
        .current_dir(repo_root());
    let fixed = ["train.threads=1", "comm=cpu", "train.micro_batch_size=4"];
    for s in fixed.iter().chain(sets).chain([&out_dir.as_str()]) {
        c.args(["--set", s]);
    }
    c.output().unwrap()
}

fn succeeds(dir: &Path, out: &Path, sets: &[&str]) -> String {
    let result = run(dir, out, sets);
    assert!(result.status.success(), "{}", text(&result));
    text(&result)
}

fn step_dir(out: &Path, step: u64) -> PathBuf {
    out.join(format!("checkpoints/step-{step:06}"))
}

/// Every f32 value of every safetensors file under `dir` is finite.
fn assert_all_finite(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if path.is_dir() {
            assert_all_finite(&path);
            continue;
        }
        if path.extension().is_none_or(|x| x != "safetensors") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        for (name, view) in st.tensors() {
            if view.dtype() != safetensors::Dtype::F32 {
                continue;
            }
            let bad = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                .filter(|v| !v.is_finite())
                .count();
            assert_eq!(
                bad,
                0,
                "{}: {name} holds {bad} non-finite values",
                path.display()
            );
        }
    }
}

/// Names of the folders in `<out>/checkpoints`.
fn folders(out: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(out.join("checkpoints"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Step 1 trains at rate 0 (warm-up); step 2's rate of 1e38 fits in f32,
/// but AdamW's bias-corrected step (1e38 / 0.19) overflows the weights.
const OVERFLOW: [&str; 3] = [
    "train.learning_rate=1e38",
    "train.lr_schedule.kind=constant_with_warmup",
    "train.lr_schedule.warmup_steps=1",
];

/// Runs with [`OVERFLOW`] and `sets`: the run fails (exit 1), no final/ is
/// exported and no non-finite value is on disk; returns the output.
fn overflows(dir: &Path, out: &Path, sets: &[&str]) -> String {
    let result = run(dir, out, &[&OVERFLOW[..], sets].concat());
    let all = text(&result);
    assert_eq!(result.status.code(), Some(1), "{all}");
    assert!(
        all.contains("the weights are not finite after step 2"),
        "{all}"
    );
    assert!(!out.join("final").exists(), "no final/ export: {all}");
    assert_all_finite(out);
    all
}

#[test]
fn weights_that_overflow_are_never_saved_and_the_last_good_checkpoint_is_named() {
    let dir = scratch("poison");
    let out = dir.join("out");
    for attempt in ["first run", "re-run"] {
        let all = overflows(
            &dir,
            &out,
            &["train.max_steps=4", "checkpoint.every_steps=1"],
        );
        let named = "step-000002 was not saved; the last good checkpoint is step-000001";
        assert!(all.contains(named), "{attempt}: {all}");
        assert_eq!(folders(&out), ["step-000001"], "{attempt}");
        assert!(step_dir(&out, 1).join("COMPLETE").is_file());
        let latest = std::fs::read_to_string(out.join("checkpoints/latest")).unwrap();
        assert_eq!(latest, "step-000001");
        if attempt == "re-run" {
            let from = format!("resumed from {} at step 1", step_dir(&out, 1).display());
            assert!(all.contains(&from), "{all}");
        }
    }
}

#[test]
fn weights_that_overflow_in_the_last_step_are_not_exported() {
    let dir = scratch("poison-final");
    overflows(&dir, &dir.join("out"), &["train.max_steps=2"]);
}

/// Sets the first value of `tensor` in a safetensors file to NaN and records
/// the file's new checksum in the checkpoint's meta.json, as a checkpoint
/// written by a version that saved whatever the weights were.
fn poison(ckpt: &Path, file: &str, tensor: &str) {
    let path = ckpt.join(file);
    let mut bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    let start = 8 + header_len + header[tensor]["data_offsets"][0].as_u64().unwrap() as usize;
    bytes[start..start + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let meta_path = ckpt.join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["files"][file]["sha256"] = hex::encode(Sha256::digest(&bytes)).into();
    std::fs::write(&meta_path, meta.to_string()).unwrap();
}

/// Runs on to `max_steps`: `skipped` is passed over because of `why`, and
/// the run resumes from step `from`.
fn resumes_past(dir: &Path, out: &Path, max_steps: u64, skipped: u64, why: &str, from: u64) {
    let steps = format!("train.max_steps={max_steps}");
    let log = succeeds(dir, out, &[&steps, "checkpoint.every_steps=2"]);
    let skip = format!("step-{skipped:06} is damaged: {why}");
    let resumed = format!(
        "resumed from {} at step {from}",
        step_dir(out, from).display()
    );
    assert!(log.contains(&skip) && log.contains(&resumed), "{log}");
}

/// Steps 2 and 4 saved every 2 steps.
fn four_steps(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let out = dir.join("out");
    succeeds(
        &dir,
        &out,
        &["train.max_steps=4", "checkpoint.every_steps=2"],
    );
    (dir, out)
}

#[test]
fn a_checkpoint_holding_non_finite_weights_is_not_resumed() {
    let (dir, out) = four_steps("poisoned-resume");
    poison(&step_dir(&out, 4), "rank-00001.safetensors", "u1.master");
    let why = "its weights are not finite; trying an older checkpoint";
    resumes_past(&dir, &out, 5, 4, why, 2);
    assert_all_finite(&out);
}

#[test]
fn a_missing_or_garbled_meta_json_falls_back_to_the_previous_checkpoint() {
    let (dir, out) = four_steps("meta");
    std::fs::remove_file(step_dir(&out, 4).join("meta.json")).unwrap();
    let why = "meta.json is missing; trying an older checkpoint";
    resumes_past(&dir, &out, 6, 4, why, 2);
    assert!(step_dir(&out, 6).join("COMPLETE").is_file());
    // Half of a meta.json: not valid JSON.
    let meta = step_dir(&out, 6).join("meta.json");
    let whole = std::fs::read(&meta).unwrap();
    std::fs::write(&meta, &whole[..whole.len() / 2]).unwrap();
    resumes_past(&dir, &out, 7, 6, "meta.json is not valid JSON", 4);
}

/// Sets `key` of `ckpt/meta.json` to `value`, as a hand edit would.
fn edit_meta(ckpt: &Path, key: &str, value: serde_json::Value) {
    let path = ckpt.join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    meta[key] = value;
    std::fs::write(&path, meta.to_string()).unwrap();
}

/// Sets metadata `key` of the safetensors `file` of `ckpt` to `value` and
/// records the file's new checksum and size in meta.json.
fn edit_rank_metadata(ckpt: &Path, file: &str, key: &str, value: &str) {
    let path = ckpt.join(file);
    let bytes = std::fs::read(&path).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    header["__metadata__"][key] = value.into();
    let mut text = header.to_string().into_bytes();
    text.resize(text.len().div_ceil(8) * 8, b' ');
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + header_len..]);
    std::fs::write(&path, &out).unwrap();
    let meta_path = ckpt.join("meta.json");
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&meta_path).unwrap()).unwrap();
    meta["files"][file] = serde_json::json!({
        "sha256": hex::encode(Sha256::digest(&out)),
        "bytes": out.len(),
    });
    std::fs::write(&meta_path, meta.to_string()).unwrap();
}

/// [`resumes_past`], which must also end within a minute.
fn resumes_quickly(dir: &Path, out: &Path, max_steps: u64, skipped: u64, why: &str, from: u64) {
    let start = std::time::Instant::now();
    resumes_past(dir, out, max_steps, skipped, why, from);
    let took = start.elapsed();
    assert!(took.as_secs() < 60, "the resume took {took:?}");
}

#[test]
fn a_meta_json_world_size_beyond_its_rank_files_falls_back_to_the_previous_checkpoint_quickly() {
    let (dir, out) = four_steps("meta-world");
    edit_meta(
        &step_dir(&out, 4),
        "world_size",
        1_000_000_000_000u64.into(),
    );
    let why = "meta.json: `world_size` is 1000000000000, but the folder holds 2 rank file(s)";
    resumes_quickly(&dir, &out, 5, 4, why, 2);
}

#[test]
fn a_meta_json_step_beyond_2_pow_53_falls_back_to_the_previous_checkpoint() {
    let (dir, out) = four_steps("meta-step");
    edit_meta(&step_dir(&out, 4), "step", (1u64 << 63).into());
    let why = "meta.json: `step` is 9223372036854775808, beyond 2^53";
    resumes_quickly(&dir, &out, 5, 4, why, 2);
}

#[test]
fn a_rank_file_recording_a_range_past_its_tensor_falls_back_to_the_previous_checkpoint() {
    let (dir, out) = four_steps("meta-range");
    let file = "rank-00001.safetensors";
    edit_rank_metadata(&step_dir(&out, 4), file, "unit.1.end", "99999999999");
    let why = "rank-00001.safetensors: `unit.1.end` is 99999999999, where the model needs";
    resumes_quickly(&dir, &out, 5, 4, why, 2);
}
