//! Saving a sharded checkpoint. Every rank writes the unpadded part of its
//! shards (fp32 master and optimizer state) with the global offsets it covers;
//! rank 0 then writes `meta.json` with a checksum of every file, renames the
//! folder into place and writes `COMPLETE` last.

use super::files::{self, sha256, write_small};
use crate::zero::Engine;
use anyhow::{Context, Result};
use runconfig::resume::{complete_checkpoints, step_dir_name, COMPLETE, META};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What a checkpoint records besides the shards.
pub struct RunState<'a> {
    /// `runconfig::resume::fingerprint` of the run.
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
    meta.insert("rank".into(), engine.comm.rank().to_string());
    meta.insert("world_size".into(), engine.comm.world_size().to_string());
    for (u, s) in engine.shards.iter().enumerate() {
        let (start, end) = s.layout.owned();
        let n = end - start;
        meta.insert(format!("unit.{u}.start"), start.to_string());
        meta.insert(format!("unit.{u}.end"), end.to_string());
        tensors.push((format!("u{u}.master"), s.master.narrow(0, 0, n as i64)));
        for p in s.opt.state() {
            let len = n.div_ceil(p.granularity) as i64;
            tensors.push((format!("u{u}.{}", p.name), p.tensor.narrow(0, 0, len)));
        }
    }
    (tensors, meta)
}

/// Saves the checkpoint of `engine.steps_done` under `root`; every rank calls it.
pub fn save(engine: &mut Engine, root: &Path, state: &RunState) -> Result<PathBuf> {
    let (rank, world) = (engine.comm.rank(), engine.comm.world_size());
    let name = step_dir_name(engine.steps_done);
    let (tmp, done) = (root.join(format!("{name}.tmp")), root.join(&name));
    if rank == 0 {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create the checkpoint folder {}", root.display()))?;
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    }
    engine.comm.barrier()?;
    let (tensors, meta) = shard_tensors(engine);
    files::write(&tmp.join(rank_file(rank)), &tensors, meta)
        .context("writing this rank's checkpoint shard")?;
    engine.comm.barrier()?;
    if rank == 0 {
        let mut sums = Map::new();
        for r in 0..world {
            let path = tmp.join(rank_file(r));
            let size = std::fs::metadata(&path)
                .with_context(|| format!("rank {r}'s shard is missing"))?
                .len();
            sums.insert(
                rank_file(r),
                json!({ "sha256": sha256(&path)?, "bytes": size }),
            );
        }
        let meta = json!({
            "step": engine.steps_done,
            "epoch": state.epoch,
            "data_position": { "step": engine.steps_done, "note": "the sample order is a function of (train.seed, step)" },
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
        )?;
        write_small(&tmp.join("config.yaml"), state.config_yaml.as_bytes())?;
        let model_config = std::fs::read(&state.model_config)
            .with_context(|| format!("reading {}", state.model_config.display()))?;
        write_small(&tmp.join(MODEL_CONFIG), &model_config)?;
        if done.exists() {
            std::fs::remove_dir_all(&done)?;
        }
        std::fs::rename(&tmp, &done)
            .with_context(|| format!("cannot rename {} into place", tmp.display()))?;
        write_small(&done.join(COMPLETE), b"")?;
        std::fs::File::open(root).and_then(|d| d.sync_all())?;
        write_small(&root.join("latest"), name.as_bytes())?;
        prune(root, &name, state.keep_last)?;
        println!("checkpoint saved: {}", done.display());
    }
    engine.comm.barrier()?;
    Ok(done)
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
