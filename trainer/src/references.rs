//! The DPO reference log-probs of the training and validation pairs: one
//! no-grad pass with the initial weights before the first step, cached in
//! `<output_dir>/dpo-reference.safetensors` under a key of the run's meaning,
//! so that a resumed run (whose initial weights are gone) reuses them. They
//! are stored summed over each response, in f64; the length-normalised
//! losses divide by the response's token count, which the labels give, so
//! one cache serves every loss type. A reference-free loss (simpo) has no
//! reference pass.

use crate::data::batches::Steps;
use crate::data::SampleSet;
use crate::dpo::loss::PairLoss;
use crate::dpo::{load_cache, reference_logps, save_cache, DpoRun, References};
use crate::zero::Engine;
use anyhow::{bail, Result};
use runconfig::Config;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tch::{Kind, Tensor};

/// The run's DPO objective: its loss and, unless the loss is reference-free,
/// the reference log-probs ([`references`]).
pub fn dpo_run(
    engine: &mut Engine,
    config: &Config,
    fingerprint: &Value,
    steps: &Steps,
    validation: &SampleSet,
    resumed: bool,
) -> Result<DpoRun> {
    let loss = PairLoss::of(&config.train);
    let refs = if loss.kind.needs_reference() {
        Some(references(
            engine,
            config,
            fingerprint,
            steps,
            validation,
            resumed,
        )?)
    } else {
        if engine.rank() == 0 {
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
pub fn references(
    engine: &mut Engine,
    config: &Config,
    fingerprint: &Value,
    steps: &Steps,
    validation: &SampleSet,
    resumed: bool,
) -> Result<References> {
    let path = config.output_dir().join("dpo-reference.safetensors");
    let key = hex::encode(Sha256::digest(
        format!("dpo-reference-v1 {fingerprint}").as_bytes(),
    ));
    let micro = config.train.micro_batch_size as usize;
    let cached = load_cache(&path, &key)?;
    let mut t = match cached {
        Some(t) => t,
        None if resumed => bail!(
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
