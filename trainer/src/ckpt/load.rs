//! Resuming: choose the newest complete checkpoint whose files are intact,
//! refuse one written by a different run, and fill this rank's shards from
//! the files that cover its ranges, whatever world size wrote them.

use super::files::{sha256, ShardFile};
use super::save::rank_file;
use crate::comm::ReduceOp;
use crate::zero::Engine;
use anyhow::{bail, Context, Result};
use runconfig::resume::{check_same_run, complete_checkpoints, COMPLETE, META};
use serde_json::Value;
use std::path::{Path, PathBuf};
use tch::Tensor;

/// Where a resumed run stands.
pub struct Resumed {
    pub path: PathBuf,
    pub step: u64,
    pub total_tokens: i64,
}

/// Checkpoints to try, newest first, for `checkpoint.resume` (auto | never | path).
pub fn candidates(resume: Option<&str>, root: &Path) -> Result<Vec<PathBuf>> {
    match resume.unwrap_or("auto") {
        "never" => Ok(vec![]),
        "auto" => Ok(complete_checkpoints(root)
            .into_iter()
            .map(|(_, p)| p)
            .collect()),
        path => {
            let p = PathBuf::from(path);
            if !p.join(COMPLETE).is_file() {
                bail!(
                    "checkpoint.resume: {} is not a complete checkpoint (no {COMPLETE} file)",
                    p.display()
                );
            }
            Ok(vec![p])
        }
    }
}

fn read_meta(dir: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(dir.join(META))
        .with_context(|| format!("cannot read {}", dir.join(META).display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", dir.join(META).display()))
}

/// Old ranks whose files hold part of this rank's shards.
fn needed_ranks(engine: &Engine, old_world: usize) -> Vec<usize> {
    (0..old_world)
        .filter(|&r| {
            Engine::layouts(&engine.specs, r, old_world)
                .iter()
                .zip(&engine.shards)
                .any(|(old, new)| {
                    let ((a, b), (s, e)) = (old.owned(), new.layout.owned());
                    a.max(s) < b.min(e)
                })
        })
        .collect()
}

/// Checks the files this rank needs against their recorded checksums: one
/// flag per rank file of the checkpoint (1 = damaged or missing).
fn verify(dir: &Path, meta: &Value, ranks: &[usize], old_world: usize) -> Vec<i64> {
    let mut bad = vec![0i64; old_world];
    for &r in ranks {
        let name = rank_file(r);
        let want = meta["files"][&name]["sha256"].as_str();
        let got = sha256(&dir.join(&name)).ok();
        if want.is_none() || got.as_deref() != want {
            bad[r] = 1;
        }
    }
    bad
}

/// Copies the overlap of old rank `r`'s ranges into this rank's shards.
fn fill(engine: &mut Engine, file: &ShardFile, r: usize, old_world: usize) -> Result<()> {
    let olds = Engine::layouts(&engine.specs, r, old_world);
    for (u, (old, shard)) in olds.iter().zip(engine.shards.iter_mut()).enumerate() {
        let ((a, b), (s, e)) = (old.owned(), shard.layout.owned());
        let (lo, hi) = (a.max(s), b.min(e));
        if lo >= hi {
            continue;
        }
        let base = shard.layout.shard_start();
        let values = file.read(&format!("u{u}.master"), lo - a, hi - lo)?;
        shard
            .master
            .narrow(0, (lo - base) as i64, (hi - lo) as i64)
            .copy_(&values);
        let pieces = shard.opt.state();
        for p in pieces {
            let g = p.granularity;
            let (blo, bhi) = (lo / g, hi.div_ceil(g));
            let values = file.read(&format!("u{u}.{}", p.name), blo - a / g, bhi - blo)?;
            let full: Tensor = p.tensor.copy();
            full.narrow(0, (blo - base / g) as i64, (bhi - blo) as i64)
                .copy_(&values.to_kind(full.kind()));
            shard.opt.load(p.name, &full)?;
        }
    }
    Ok(())
}

/// Resumes `engine` from the first usable candidate; all ranks agree on it.
pub fn resume(
    engine: &mut Engine,
    candidates: &[PathBuf],
    fingerprint: &Value,
) -> Result<Option<Resumed>> {
    let mut damaged = Vec::new();
    for dir in candidates {
        let meta = read_meta(dir)?;
        check_same_run(&meta["fingerprint"], fingerprint, dir).map_err(anyhow::Error::msg)?;
        let old_world = meta["world_size"]
            .as_u64()
            .context("meta.json has no world_size")? as usize;
        let ranks = needed_ranks(engine, old_world);
        let mut bad = Tensor::from_slice(&verify(dir, &meta, &ranks, old_world));
        engine.comm.all_reduce(&mut bad, ReduceOp::Sum)?;
        let bad: Vec<String> = Vec::<i64>::try_from(&bad)?
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(r, _)| rank_file(r))
            .collect();
        if !bad.is_empty() {
            if engine.comm.rank() == 0 {
                eprintln!(
                    "resume: {} is damaged: {} {} not match the checksums in {META}; trying an older checkpoint",
                    dir.display(),
                    bad.join(", "),
                    if bad.len() == 1 { "does" } else { "do" }
                );
            }
            damaged.push(dir.display().to_string());
            continue;
        }
        for r in ranks {
            let file = ShardFile::open(&dir.join(rank_file(r)))?;
            fill(engine, &file, r, old_world)
                .with_context(|| format!("loading {}", dir.join(rank_file(r)).display()))?;
        }
        for s in &mut engine.shards {
            s.refresh();
            let _ = s.grad.zero_();
        }
        let step = meta["step"].as_u64().context("meta.json has no step")?;
        engine.steps_done = step;
        return Ok(Some(Resumed {
            path: dir.clone(),
            step,
            total_tokens: meta["total_tokens"].as_i64().unwrap_or(0),
        }));
    }
    if !damaged.is_empty() {
        bail!(
            "every checkpoint is damaged ({}); start over with --set checkpoint.resume=never",
            damaged.join(", ")
        );
    }
    Ok(None)
}

/// Reads the resolved configuration stored in a checkpoint.
pub fn stored_config(dir: &Path) -> Result<String> {
    std::fs::read_to_string(dir.join("config.yaml"))
        .with_context(|| format!("{} has no config.yaml", dir.display()))
}
