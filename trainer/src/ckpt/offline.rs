//! `launch export CHECKPOINT OUT`: the Hugging Face export of any complete
//! checkpoint, in one process, whatever world size wrote it (what
//! DeepSpeed's zero_to_fp32.py does, in the final layout directly). OUT must
//! be new, empty, or (with `--overwrite`) an earlier export.

use super::{candidates, resume, stored_config, MODEL_CONFIG};
use crate::comm::CpuComm;
use crate::export::{write_final, ModelFiles, Summary};
use crate::model::{LlamaConfig, ParamSource, ParamSpec};
use crate::zero::Engine;
use anyhow::{Context, Result};
use runconfig::export::{check_out, ExportArgs};
use runconfig::resume::META;
use runconfig::Resume;
use std::path::Path;
use tch::{Device, Kind, Tensor};

/// Initial values that the checkpoint overwrites.
struct Zeros;

impl ParamSource for Zeros {
    fn read_range(&self, _: &ParamSpec, _: i64, len: i64) -> Result<Tensor> {
        Ok(Tensor::zeros([len], (Kind::Float, Device::Cpu)))
    }
}

/// Exports the checkpoint folder `args.checkpoint` to `args.out`, with the
/// run's `export:` settings overridden by `--dtype` / `--max-shard-size`.
pub fn export_checkpoint(args: &ExportArgs) -> Result<()> {
    check_out(&args.out, args.overwrite)?;
    let dir = candidates(&Resume::Path(args.checkpoint.clone()), Path::new("."))?.remove(0);
    let origin = dir.join("config.yaml").display().to_string();
    let mut config = runconfig::from_str(&stored_config(&dir)?, &origin, 1, &[])?.config;
    args.apply(&mut config.export);
    let meta: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join(META))?)
        .context("reading meta.json")?;
    let model_json = dir.join(MODEL_CONFIG);
    let cfg = LlamaConfig::load(&model_json)?;
    let engine = Engine::new(
        cfg,
        &Zeros,
        Box::new(CpuComm::single()),
        Kind::Float,
        Device::Cpu,
        &config.optimizer,
    );
    let mut engine = engine?;
    let resumed = resume(
        &mut engine,
        std::slice::from_ref(&dir),
        &meta["fingerprint"],
    )?
    .context("the checkpoint could not be read")?;
    let folders = ModelFiles::of(&config)
        .map(|f| f.folders)
        .unwrap_or_default();
    let files = ModelFiles {
        config_json: model_json,
        folders,
    };
    let summary = Summary {
        step: resumed.step,
        train_loss: None,
        total_tokens: resumed.total_tokens,
        world_size: meta["world_size"].as_u64().unwrap_or(0) as usize,
    };
    let hint = "choose another OUT_DIR";
    write_final(&mut engine, &config, &files, &args.out, &summary, hint)
}
