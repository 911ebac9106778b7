//! The DPO reference log-probs of the training and validation pairs: one
//! no-grad pass with the initial weights before the first step, cached in
//! `<output_dir>/dpo-reference.safetensors` under a key of the run's meaning,
//! so that a resumed run (whose initial weights are gone) reuses them. They
//! are stored summed over each response, in f64; the length-normalised
//! losses divide by the response's token count, which the labels give, so
//! one cache serves every loss type. A reference-free loss (simpo) has no
//! reference pass.
//!
//! With LoRA the reference is the run's initial model, adapters included,
//! as TRL computes it: new adapters (`lora_B` zero) leave the base model as
//! it is, so the reference is the base (TRL disables them); a run that
//! starts from trained adapters keeps them (TRL trains against a frozen copy
//! of a pretrained adapter, its `ref` adapter, since the base is then the
//! wrong reference). The engine could leave the adapters out
//! ([`Engine::set_adapters`]), but that is the base model, which equals the
//! initial model only for new adapters.

use crate::data::batches::{batch, shares};
use crate::data::SampleSet;
use crate::dpo::loss::PairLoss;
use crate::dpo::{logps_of_nll, DpoRun, References};
use crate::objective::Setup;
use crate::progress::Meter;
use crate::zero::Engine;
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use tch::{Kind, Tensor};

/// The run's DPO objective: its loss and, unless the loss is reference-free,
/// the reference log-probs ([`references`]).
pub fn dpo_run(setup: &mut Setup) -> Result<DpoRun> {
    let loss = PairLoss::of(&setup.config.train);
    let refs = if loss.kind.needs_reference() {
        Some(references(setup)?)
    } else {
        if setup.engine.rank() == 0 {
            println!(
                "dpo: the {} loss is reference-free: no reference pass",
                loss.kind
            );
        }
        None
    };
    Ok(DpoRun { loss, refs })
}

/// Loads the cached reference log-probs, or computes them now (fresh runs only).
pub fn references(setup: &mut Setup) -> Result<References> {
    let Setup {
        engine,
        config,
        fingerprint,
        steps,
        validation,
        resumed,
    } = setup;
    let path = config.output_dir().join("dpo-reference.safetensors");
    let key = hex::encode(Sha256::digest(
        format!("dpo-reference-v1 {fingerprint}").as_bytes(),
    ));
    let micro = config.train.micro_batch_size as usize;
    let cached = load_cache(&path, &key)?;
    let mut t = match cached {
        Some(t) => t,
        None if *resumed => bail!(
            "the DPO reference log-probs ({}) are missing or were computed for another run, and after a resume the initial weights \
             they come from are gone; start over with --set checkpoint.resume=never",
            path.display()
        ),
        None => {
            if engine.rank() == 0 {
                println!("dpo: computing reference log-probs of {} training and {} validation pairs", steps.set().len(), validation.len());
            }
            let (tc, tr) = reference_logps(engine, steps.set(), steps.pad_id(), micro)?;
            let (vc, vr) = match validation.len() {
                0 => (Tensor::zeros([0], (Kind::Double, tch::Device::Cpu)), Tensor::zeros([0], (Kind::Double, tch::Device::Cpu))),
                _ => reference_logps(engine, validation, steps.pad_id(), micro)?,
            };
            let t = HashMap::from([
                ("train.chosen".to_string(), tc),
                ("train.rejected".to_string(), tr),
                ("validation.chosen".to_string(), vc),
                ("validation.rejected".to_string(), vr),
            ]);
            if engine.rank() == 0 {
                save_cache(&path, &key, &t)?;
            }
            engine.barrier()?;
            t
        }
    };
    // In f64 (a cache written in f32 by an earlier version reads as f64).
    let mut take = |k: &str| match t.remove(k) {
        Some(x) => x.to_kind(Kind::Double),
        None => Tensor::zeros([0], (Kind::Double, tch::Device::Cpu)),
    };
    Ok(References {
        train_chosen: take("train.chosen"),
        train_rejected: take("train.rejected"),
        val_chosen: take("validation.chosen"),
        val_rejected: take("validation.rejected"),
    })
}

/// Reference log-probs of every pair of `set` with the engine's current
/// weights (LoRA adapters included): `(chosen [N], rejected [N])`, summed
/// over each response, the same on every rank; `micro` pairs a batch.
pub fn reference_logps(
    engine: &mut Engine,
    set: &SampleSet,
    pad_id: i64,
    micro: usize,
) -> Result<(Tensor, Tensor)> {
    let (rank, world) = (engine.rank(), engine.world_size());
    let n = set.len();
    let rounds = shares(n, world, rank, micro);
    let mut local: Vec<f64> = Vec::new();
    let meter = Meter::new("dpo reference log-probs:", rounds.len(), "batches");
    for (k, (items, real)) in rounds.iter().enumerate() {
        let b = batch(set, items, pad_id, engine.device());
        let nll = engine.forward_nll(&b)?;
        let logps = Vec::<f64>::try_from(logps_of_nll(&nll).to_device(tch::Device::Cpu))?;
        let m = items.len();
        // One triple per item on every rank (index -1 for a repeat), so
        // that every rank gathers the same length.
        for (j, &i) in items.iter().enumerate() {
            let at = if real[j] { i as f64 } else { -1.0 };
            local.extend([at, logps[j], logps[m + j]]);
        }
        if rank == 0 {
            meter.tick(k + 1);
        }
    }
    let all = Vec::<f64>::try_from(engine.all_gather(&Tensor::from_slice(&local))?)?;
    let (mut c, mut r) = (vec![f64::NAN; n], vec![f64::NAN; n]);
    for t in all.chunks_exact(3).filter(|t| t[0] >= 0.0) {
        c[t[0] as usize] = t[1];
        r[t[0] as usize] = t[2];
    }
    anyhow::ensure!(
        c.iter().all(|x| x.is_finite()),
        "dpo reference pass left pairs without log-probs"
    );
    Ok((Tensor::from_slice(&c), Tensor::from_slice(&r)))
}

/// Loads cached reference log-probs (`key` must match), if present.
fn load_cache(path: &Path, key: &str) -> Result<Option<HashMap<String, Tensor>>> {
    if !path.is_file() {
        return Ok(None);
    }
    let file = crate::st::Mapped::open(path)?;
    if file.metadata("key") != Some(key) {
        return Ok(None);
    }
    let mut out = HashMap::new();
    for name in [
        "train.chosen",
        "train.rejected",
        "validation.chosen",
        "validation.rejected",
    ] {
        let len = file.len(name)?;
        out.insert(name.to_string(), file.read(name, 0, len)?);
    }
    Ok(Some(out))
}

/// Writes the reference log-probs with their key (rank 0).
fn save_cache(path: &Path, key: &str, tensors: &HashMap<String, Tensor>) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let named: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(k, v)| (k.clone(), v.shallow_clone()))
        .collect();
    crate::ckpt::files::write(
        path,
        &named,
        HashMap::from([("key".to_string(), key.to_string())]),
    )
}
