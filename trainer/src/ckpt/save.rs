//! Saving a sharded checkpoint. Only finite weights are saved. Every rank
//! writes the unpadded part of its shards (fp32 master and optimizer state)
//! with the global offsets it covers; rank 0 then writes `meta.json` with the
//! size and checksum of every file, renames the folder into place, checks
//! that every listed file is there with its size, and writes `COMPLETE` last.

use super::files::{self, sha256, write_small};
use crate::zero::Engine;
use anyhow::{anyhow, bail, Context, Result};
use runconfig::contracts::checkpoint::{complete_checkpoints, step_dir_name, COMPLETE, META};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What a checkpoint records besides the shards.
pub struct RunState<'a> {
    /// `runconfig::contracts::checkpoint::fingerprint` of the run.
    pub fingerprint: Value,
    /// The resolved configuration, as YAML.
    pub config_yaml: &'a str,
    pub epoch: u64,
    pub total_tokens: i64,
    pub keep_last: Option<u32>,
    /// The model's config.json, kept in every checkpoint for offline export.
    pub model_config: PathBuf,
}

/// The model's config.json, as stored in a checkpoint.
pub const MODEL_CONFIG: &str = "model_config.json";

/// File of rank `r`'s shards.
pub fn rank_file(r: usize) -> String {
    format!("rank-{r:05}.safetensors")
}

/// This rank's tensors: per unit, its real elements `[start, end)`.
fn shard_tensors(engine: &Engine) -> (Vec<(String, tch::Tensor)>, HashMap<String, String>) {
    let mut tensors = Vec::new();
    let mut meta = HashMap::new();
    meta.insert("rank".into(), engine.rank().to_string());
    meta.insert("world_size".into(), engine.world_size().to_string());
    for (u, s) in engine.saved_state().into_iter().enumerate() {
        meta.insert(format!("unit.{u}.start"), s.start.to_string());
        meta.insert(format!("unit.{u}.end"), s.end.to_string());
        for (name, t) in s.pieces {
            tensors.push((format!("u{u}.{name}"), t));
        }
    }
    (tensors, meta)
}

/// The name `latest` gives (the newest complete checkpoint), or "none"
/// (also when `latest` names anything but a complete `step-N` folder).
pub fn last_good(root: &Path) -> String {
    let named = runconfig::contracts::checkpoint::latest(root)
        .ok()
        .flatten();
    named
        .and_then(|dir| Some(dir.file_name()?.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "none".into())
}

/// Saves the checkpoint of `engine.steps_done()` under `root`; every rank calls
/// it. Non-finite weights are refused before anything is written.
pub fn save(engine: &mut Engine, root: &Path, state: &RunState) -> Result<PathBuf> {
    let (rank, world) = (engine.rank(), engine.world_size());
    let name = step_dir_name(engine.steps_done());
    engine.check_finite().map_err(|e| {
        anyhow!(
            "{e}: {name} was not saved; the last good checkpoint is {}",
            last_good(root)
        )
    })?;
    let (tmp, done) = (root.join(format!("{name}.tmp")), root.join(&name));
    if rank == 0 {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create the checkpoint folder {}", root.display()))?;
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    }
    engine.barrier()?;
    let (tensors, meta) = shard_tensors(engine);
    files::write(&tmp.join(rank_file(rank)), &tensors, meta)
        .context("writing this rank's checkpoint shard")?;
    engine.barrier()?;
    if rank == 0 {
        write_meta(&tmp, engine.steps_done(), world, state)?;
        seal(&tmp, &done)?;
        std::fs::File::open(root).and_then(|d| d.sync_all())?;
        write_small(&root.join("latest"), name.as_bytes())?;
        prune(root, &name, state.keep_last)?;
        println!("checkpoint saved: {}", done.display());
    }
    engine.barrier()?;
    Ok(done)
}

/// Writes config.yaml, model_config.json and then `meta.json`, which lists
/// the size and checksum of every rank file and of those two.
fn write_meta(tmp: &Path, step: u64, world: usize, state: &RunState) -> Result<()> {
    write_small(&tmp.join("config.yaml"), state.config_yaml.as_bytes())?;
    let model_config = std::fs::read(&state.model_config)
        .with_context(|| format!("reading {}", state.model_config.display()))?;
    write_small(&tmp.join(MODEL_CONFIG), &model_config)?;
    let mut sums = Map::new();
    let names = (0..world).map(rank_file);
    for name in names.chain(["config.yaml".into(), MODEL_CONFIG.into()]) {
        let path = tmp.join(&name);
        let size = std::fs::metadata(&path)
            .with_context(|| format!("{} is missing", path.display()))?
            .len();
        sums.insert(name, json!({ "sha256": sha256(&path)?, "bytes": size }));
    }
    let meta = json!({
        "step": step,
        "epoch": state.epoch,
        "data_position": { "step": step, "note": "the sample order is a function of (train.seed, step)" },
        "rng": { "seed": state.fingerprint["train.seed"], "note": "training draws no random numbers besides the data order" },
        "total_tokens": state.total_tokens,
        "world_size": world,
        "config_sha256": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(state.config_yaml.as_bytes())),
        "fingerprint": state.fingerprint,
        "files": sums,
    });
    write_small(
        &tmp.join(META),
        serde_json::to_string_pretty(&meta)?.as_bytes(),
    )
}

/// Renames the written folder `tmp` to `done` and marks it complete, but only
/// when every file its `meta.json` lists is there with the recorded size.
fn seal(tmp: &Path, done: &Path) -> Result<()> {
    if done.exists() {
        std::fs::remove_dir_all(done)?;
    }
    std::fs::rename(tmp, done)
        .with_context(|| format!("cannot rename {} into place", tmp.display()))?;
    let meta: Value = serde_json::from_slice(&std::fs::read(done.join(META))?)
        .with_context(|| format!("{} is not valid JSON", done.join(META).display()))?;
    let listed = meta["files"]
        .as_object()
        .context("meta.json lists no files")?;
    for (name, file) in listed {
        let want = file["bytes"].as_u64();
        let got = std::fs::metadata(done.join(name)).ok().map(|m| m.len());
        if got != want {
            bail!(
                "{} is not marked {COMPLETE}: {name} {} where {META} records {} bytes",
                done.display(),
                got.map_or("is missing".into(), |n| format!("has {n} bytes")),
                want.unwrap_or(0)
            );
        }
    }
    write_small(&done.join(COMPLETE), b"")
}

/// Removes complete checkpoints beyond the newest `keep_last`, and folders
/// that never completed (an aborted save), except the one just written.
fn prune(root: &Path, current: &str, keep_last: Option<u32>) -> Result<()> {
    let complete = complete_checkpoints(root);
    if let Some(keep) = keep_last {
        for (_, old) in complete.iter().skip(keep.max(1) as usize) {
            std::fs::remove_dir_all(old)
                .with_context(|| format!("cannot remove old checkpoint {}", old.display()))?;
        }
    }
    for entry in std::fs::read_dir(root)?.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir()
            && name.starts_with("step-")
            && name != current
            && !path.join(COMPLETE).is_file()
        {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A written checkpoint folder whose meta.json records a 100-byte shard,
    /// with the shard holding `bytes` bytes (`None`: no shard at all).
    fn written(name: &str, bytes: Option<usize>) -> (PathBuf, PathBuf) {
        let root = std::env::temp_dir().join(format!("seal-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (tmp, done) = (root.join("step-000001.tmp"), root.join("step-000001"));
        std::fs::create_dir_all(&tmp).unwrap();
        if let Some(n) = bytes {
            std::fs::write(tmp.join(rank_file(0)), vec![7u8; n]).unwrap();
        }
        let meta = json!({"files": {rank_file(0): {"sha256": "", "bytes": 100}}});
        std::fs::write(tmp.join(META), meta.to_string()).unwrap();
        (tmp, done)
    }

    #[test]
    fn complete_is_written_only_when_every_listed_file_has_its_size() {
        let (tmp, done) = written("whole", Some(100));
        seal(&tmp, &done).unwrap();
        assert!(done.join(COMPLETE).is_file());

        let (tmp, done) = written("short", Some(60));
        let e = seal(&tmp, &done).unwrap_err().to_string();
        assert!(
            e.contains("rank-00000.safetensors has 60 bytes where meta.json records 100 bytes"),
            "{e}"
        );
        assert!(!done.join(COMPLETE).exists());

        let (tmp, done) = written("missing", None);
        let e = seal(&tmp, &done).unwrap_err().to_string();
        assert!(e.contains("rank-00000.safetensors is missing"), "{e}");
        assert!(!done.join(COMPLETE).exists());
        for name in ["whole", "short", "missing"] {
            let root = std::env::temp_dir().join(format!("seal-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(root);
        }
    }
}
