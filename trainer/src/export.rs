//! The final weights in Hugging Face layout: `config.json` and
//! `model.safetensors` (fp32 master weights), gathered one unit at a time.

use crate::zero::Engine;
use anyhow::{Context, Result};
use runconfig::Config;
use std::path::Path;
use tch::{Kind, Tensor};

/// Gathers every unit's fp32 master weights; rank 0 writes `dir`.
pub fn write_final(engine: &mut Engine, config: &Config, dir: &Path) -> Result<()> {
    let rank = engine.comm.rank();
    let mut named: Vec<(String, Tensor)> = Vec::new();
    for u in 0..engine.specs.len() {
        let full = engine
            .comm
            .all_gather(&engine.shards[u].master)
            .with_context(|| format!("gathering unit {u} for export"))?;
        if rank == 0 {
            let spec = &engine.specs[u];
            for (p, t) in spec.params.iter().zip(spec.split_flat(&full)?) {
                named.push((p.name.clone(), t.to_kind(Kind::Float).contiguous()));
            }
        }
    }
    if rank != 0 {
        return Ok(());
    }
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let source = match (&config.model.path, &config.model.config) {
        (Some(d), _) => d.join("config.json"),
        (None, Some(f)) => f.clone(),
        (None, None) => unreachable!("validated before training"),
    };
    std::fs::copy(&source, tmp.join("config.json"))
        .with_context(|| format!("copying {}", source.display()))?;
    let refs: Vec<(&str, Tensor)> = named
        .iter()
        .map(|(n, t)| (n.as_str(), t.shallow_clone()))
        .collect();
    Tensor::write_safetensors(&refs, tmp.join("model.safetensors"))?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&tmp, dir)
        .with_context(|| format!("cannot move the export into {}", dir.display()))?;
    println!("final weights written to {}", dir.display());
    Ok(())
}
