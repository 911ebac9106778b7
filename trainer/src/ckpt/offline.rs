//! `launch export CHECKPOINT OUT`: the Hugging Face export of any complete
//! checkpoint, in one process, whatever world size wrote it (what
//! DeepSpeed's zero_to_fp32.py does, in the final layout directly). Each
//! unit is read from the rank files and written out in turn
//! ([`StoredWeights`]): the process holds about one unit, never the model
//! nor any optimizer state. OUT must be new, empty, or (with `--overwrite`)
//! an earlier export.

use super::load::{mismatch, verify};
use super::meta::read_meta;
use super::stored::StoredWeights;
use super::{candidates, stored_config, MODEL_CONFIG};
use crate::export::{write_final, ModelFiles, Summary};
use crate::model::LlamaConfig;
use anyhow::{bail, Context, Result};
use runconfig::contracts::export::{check_out, ExportArgs};
use runconfig::Resume;
use serde_json::Value;
use std::path::Path;

/// The checkpoint's meta.json, once every rank file matches its checksum.
fn checked_meta(dir: &Path) -> Result<Value> {
    let meta =
        read_meta(dir).map_err(|why| anyhow::anyhow!("{} is damaged: {why}", dir.display()))?;
    let world = meta["world_size"].as_u64().unwrap_or(1) as usize;
    let ranks: Vec<usize> = (0..world).collect();
    if let Some(why) = mismatch(&verify(dir, &meta, &ranks, world)) {
        bail!("{} is damaged: {why}", dir.display());
    }
    Ok(meta)
}

/// Exports the checkpoint folder `args.checkpoint` to `args.out`, with the
/// run's `export:` settings overridden by `--dtype` / `--max-shard-size`.
pub fn export_checkpoint(args: &ExportArgs) -> Result<()> {
    check_out(&args.out, args.overwrite)?;
    let dir = candidates(&Resume::Path(args.checkpoint.clone()), Path::new("."))?.remove(0);
    let origin = dir.join("config.yaml").display().to_string();
    let mut config = runconfig::from_str(&stored_config(&dir)?, &origin, 1, &[])?.config;
    args.apply(&mut config.export);
    let meta = checked_meta(&dir)?;
    let world = meta["world_size"].as_u64().unwrap_or(1) as usize;
    let model_json = dir.join(MODEL_CONFIG);
    let cfg = LlamaConfig::load(&model_json)?;
    let lora = config.lora_on(cfg.tie_word_embeddings);
    let cfg = LlamaConfig {
        lora: lora.map_err(anyhow::Error::msg)?,
        ..cfg
    };
    let mut weights = StoredWeights::open(&dir, &cfg, world)?;
    if cfg.lora.is_some() && config.export.merge {
        // The base the run trained on (its model folder, or its random
        // init from the run's seed).
        let (_, base) = crate::run::model_source(&config)
            .context("merging the adapters needs the run's base model")?;
        weights = weights.with_base(base);
    }
    let folders = ModelFiles::of(&config)
        .map(|f| f.folders)
        .unwrap_or_default();
    let files = ModelFiles {
        config_json: model_json,
        folders,
    };
    let summary = Summary {
        step: meta["step"].as_u64().unwrap_or(0),
        train_loss: None,
        eval_loss: None,
        rewards: Vec::new(),
        total_tokens: meta["total_tokens"].as_i64().unwrap_or(0),
        world_size: world,
    };
    let hint = "choose another OUT_DIR";
    write_final(&mut weights, &config, &files, &args.out, &summary, hint)
}
