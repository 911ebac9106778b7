//! Resuming: choose the newest complete checkpoint whose meta.json and files
//! are intact and whose weights are finite, refuse one written by a
//! different run, and fill this rank's shards from
//! the files that cover its ranges, whatever world size wrote them.

use super::files::sha256;
use super::meta::{check_ranges, read_meta};
use super::save::rank_file;
use crate::st::Mapped;
use crate::zero::Engine;
use anyhow::{bail, Context, Result};
use runconfig::contracts::checkpoint::{check_same_run, complete_checkpoints, COMPLETE, META};
use runconfig::Resume;
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
pub fn candidates(resume: &Resume, root: &Path) -> Result<Vec<PathBuf>> {
    match resume {
        Resume::Never => Ok(vec![]),
        Resume::Auto => Ok(complete_checkpoints(root)
            .into_iter()
            .map(|(_, p)| p)
            .collect()),
        Resume::Path(p) => {
            if !p.join(COMPLETE).is_file() {
                bail!(
                    "checkpoint.resume: {} is not a complete checkpoint (no {COMPLETE} file)",
                    p.display()
                );
            }
            Ok(vec![p.clone()])
        }
    }
}

/// Whether every rank could read `meta.json` (one all-reduce, so that the
/// ranks agree): this rank's reason when not.
fn agreed_meta(engine: &mut Engine, dir: &Path) -> Result<Result<Value, String>> {
    let meta = read_meta(dir);
    let mut bad = Tensor::from_slice(&[i64::from(meta.is_err())]);
    engine.all_reduce_sum(&mut bad)?;
    Ok(match (meta, bad.int64_value(&[0])) {
        (Err(why), _) => Err(why),
        (Ok(_), n) if n > 0 => Err(format!("{META} cannot be read on {n} other rank(s)")),
        (Ok(meta), _) => Ok(meta),
    })
}

/// Opens the rank files this rank needs, after checking the ranges every
/// rank file records against the model's layout (each rank checks them all,
/// so that rank 0 can name the damaged one; one all-reduce to agree).
fn agreed_files(
    engine: &mut Engine,
    dir: &Path,
    ranks: &[usize],
    old_world: usize,
) -> Result<Result<Vec<Mapped>, String>> {
    let open = |r: usize| {
        let file = Mapped::open(&dir.join(rank_file(r))).map_err(|e| format!("{e:#}"))?;
        check_ranges(&file, r, &engine.owned_ranges(r, old_world))?;
        Ok(file)
    };
    let opened = (0..old_world)
        .map(|r| open(r).map(|file| ranks.contains(&r).then_some(file)))
        .collect::<Result<Vec<_>, String>>()
        .map(|files| files.into_iter().flatten().collect::<Vec<_>>());
    let mut bad = Tensor::from_slice(&[i64::from(opened.is_err())]);
    engine.all_reduce_sum(&mut bad)?;
    Ok(match (opened, bad.int64_value(&[0])) {
        (Err(why), _) => Err(why),
        (Ok(_), n) if n > 0 => Err(format!("a rank file is damaged on {n} other rank(s)")),
        (Ok(files), _) => Ok(files),
    })
}

/// Old ranks whose files hold part of this rank's shards.
fn needed_ranks(engine: &Engine, old_world: usize) -> Vec<usize> {
    (0..old_world)
        .filter(|&r| engine.overlaps(r, old_world))
        .collect()
}

/// What is wrong when any rank file failed its checksum (`bad[r] > 0`).
pub(super) fn mismatch(bad: &[i64]) -> Option<String> {
    let files: Vec<String> = (0..bad.len())
        .filter(|&r| bad[r] > 0)
        .map(rank_file)
        .collect();
    let verb = if files.len() == 1 { "does" } else { "do" };
    (!files.is_empty()).then(|| {
        format!(
            "{} {verb} not match the checksums in {META}",
            files.join(", ")
        )
    })
}

/// Checks the files this rank needs against their recorded checksums: one
/// flag per rank file of the checkpoint (1 = damaged or missing).
pub(super) fn verify(dir: &Path, meta: &Value, ranks: &[usize], old_world: usize) -> Vec<i64> {
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
fn fill(engine: &mut Engine, file: &Mapped, r: usize, old_world: usize) -> Result<()> {
    let read = |u: usize, piece: &str, from: usize, len: usize| {
        file.read(&format!("u{u}.{piece}"), from, len)
    };
    engine.load_ranges(r, old_world, &read)
}

/// Loads `dir` into `engine` (all ranks agree), or says why it is unusable.
fn load(engine: &mut Engine, dir: &Path, fingerprint: &Value) -> Result<Result<Resumed, String>> {
    let meta = match agreed_meta(engine, dir)? {
        Ok(meta) => meta,
        Err(why) => return Ok(Err(why)),
    };
    check_same_run(&meta["fingerprint"], fingerprint, dir).map_err(anyhow::Error::msg)?;
    let old_world = meta["world_size"].as_u64().unwrap_or(1) as usize;
    let ranks = needed_ranks(engine, old_world);
    let mut bad = Tensor::from_slice(&verify(dir, &meta, &ranks, old_world));
    engine.all_reduce_sum(&mut bad)?;
    if let Some(why) = mismatch(&Vec::<i64>::try_from(&bad)?) {
        return Ok(Err(why));
    }
    let files = match agreed_files(engine, dir, &ranks, old_world)? {
        Ok(files) => files,
        Err(why) => return Ok(Err(why)),
    };
    for (r, file) in ranks.into_iter().zip(&files) {
        fill(engine, file, r, old_world)
            .with_context(|| format!("loading {}", dir.join(rank_file(r)).display()))?;
    }
    // A checkpoint written before weights were checked may hold NaN or Inf.
    if !engine.all_finite()? {
        return Ok(Err("its weights are not finite".into()));
    }
    let step = meta["step"].as_u64().unwrap_or(0);
    engine.resume_at(step);
    Ok(Ok(Resumed {
        path: dir.to_path_buf(),
        step,
        total_tokens: meta["total_tokens"].as_i64().unwrap_or(0),
    }))
}

/// Resumes `engine` from the first usable candidate; all ranks agree on it.
/// A damaged candidate (meta.json missing or unreadable, a file that fails
/// its checksum, non-finite weights) is skipped, with a message, for the
/// next one; when every candidate is damaged the run stops.
pub fn resume(
    engine: &mut Engine,
    candidates: &[PathBuf],
    fingerprint: &Value,
) -> Result<Option<Resumed>> {
    let mut damaged = Vec::new();
    for dir in candidates {
        match load(engine, dir, fingerprint)? {
            Ok(resumed) => return Ok(Some(resumed)),
            Err(why) if engine.rank() == 0 => eprintln!(
                "resume: {} is damaged: {why}; trying an older checkpoint",
                dir.display()
            ),
            Err(_) => {}
        }
        damaged.push(dir.display().to_string());
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
