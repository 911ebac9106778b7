//! Direct Preference Optimisation (Rafailov et al. 2023), sigmoid loss:
//! `-log sigmoid(beta * ((pi_c - pi_r) - (ref_c - ref_r)))`, where pi and ref
//! are the summed log-probabilities of the response tokens under the policy
//! and under the initial (reference) model. The reference log-probs come from
//! one no-grad pass over the data before training, cached on disk
//! ([`crate::references`]); [`DpoRun`] is the run's objective.

use crate::data::batches::{batch, shares};
use crate::data::SampleSet;
use crate::eval::EvalRefs;
use crate::objective::{token_nll, Batch, Objective, RunObjective};
use crate::progress::Meter;
use crate::zero::Engine;
use anyhow::{Context, Result};
use std::collections::HashMap;
use std::path::Path;
use tch::{Kind, Tensor};

/// Names of the values [`Dpo`] reports, in order (open-instruct's names).
pub const STATS: [&str; 7] = [
    "train_loss",
    "rewards/chosen",
    "rewards/rejected",
    "rewards/accuracy",
    "rewards/margin",
    "logps/chosen",
    "logps/rejected",
];

/// Per row: the summed log-probability of its labelled tokens (shifted as
/// the causal-LM loss is; -100 ignored), f32 `[B]`.
pub fn sequence_logps(logits: &Tensor, labels: &Tensor) -> Tensor {
    -token_nll(logits, labels).sum_dim_intlist(1, false, Kind::Float)
}

/// The DPO objective of one micro-batch: rows `0..M` chosen, `M..2M` rejected.
pub struct Dpo {
    /// `train.dpo_beta`.
    pub beta: f64,
    /// Pairs in the whole global batch (the loss is their mean).
    pub pairs: i64,
    /// Reference log-probs of this micro-batch's chosen responses, `[M]`.
    pub ref_chosen: Tensor,
    /// Reference log-probs of this micro-batch's rejected responses, `[M]`.
    pub ref_rejected: Tensor,
}

/// Reference log-probs, `[pairs]` each, on the CPU.
pub struct References {
    /// Chosen responses of the training pairs.
    pub train_chosen: Tensor,
    /// Rejected responses of the training pairs.
    pub train_rejected: Tensor,
    /// Chosen responses of the validation pairs.
    pub val_chosen: Tensor,
    /// Rejected responses of the validation pairs.
    pub val_rejected: Tensor,
}

/// DPO over a whole run: every pair's reference log-probs and `beta`.
pub struct DpoRun {
    /// `train.dpo_beta`: how far the policy may move from the reference.
    pub beta: f64,
    /// The reference log-probs of the training and validation pairs.
    pub refs: References,
}

impl RunObjective for DpoRun {
    fn micro(&self, items: &[usize], norm: i64) -> Box<dyn Objective> {
        let items: Vec<i64> = items.iter().map(|&i| i as i64).collect();
        let idx = Tensor::from_slice(&items);
        Box::new(Dpo {
            beta: self.beta,
            pairs: norm,
            ref_chosen: self.refs.train_chosen.index_select(0, &idx),
            ref_rejected: self.refs.train_rejected.index_select(0, &idx),
        })
    }

    fn report(&self, sums: &[f64], norm: i64) -> Vec<(&'static str, f64)> {
        STATS
            .iter()
            .zip(sums)
            .map(|(&k, v)| (k, v / norm as f64))
            .collect()
    }

    fn eval_refs(&self) -> Option<EvalRefs<'_>> {
        Some(EvalRefs {
            beta: self.beta,
            chosen: &self.refs.val_chosen,
            rejected: &self.refs.val_rejected,
        })
    }
}

/// Loss, rewards and their sums for policy and reference log-probs.
pub fn dpo_terms(
    beta: f64,
    pc: &Tensor,
    pr: &Tensor,
    rc: &Tensor,
    rr: &Tensor,
) -> (Tensor, Vec<f64>) {
    let z = ((pc - pr) - (rc - rr)) * beta;
    let losses = -z.log_sigmoid();
    let (wc, wr) = (((pc - rc) * beta).detach(), ((pr - rr) * beta).detach());
    let sum = |t: &Tensor| t.sum(Kind::Float).double_value(&[]);
    let values = vec![
        sum(&losses.detach()),
        sum(&wc),
        sum(&wr),
        sum(&wc.gt_tensor(&wr).to_kind(Kind::Float)),
        sum(&(&wc - &wr)),
        sum(&pc.detach()),
        sum(&pr.detach()),
    ];
    (losses.sum(Kind::Float), values)
}

impl Objective for Dpo {
    fn loss_from_nll(&self, nll: &Tensor, _: &Batch) -> Result<(Tensor, Vec<f64>)> {
        let logps = -nll.sum_dim_intlist(1, false, Kind::Float);
        let m = logps.size()[0] / 2;
        let (pc, pr) = (logps.narrow(0, 0, m), logps.narrow(0, m, m));
        let dev = logps.device();
        let (rc, rr) = (
            self.ref_chosen.to_device(dev),
            self.ref_rejected.to_device(dev),
        );
        let (loss, values) = dpo_terms(self.beta, &pc, &pr, &rc, &rr);
        Ok((loss / self.pairs.max(1) as f64, values))
    }
}

/// Reference log-probs of every pair of `set` with the engine's current
/// weights: `(chosen [N], rejected [N])`, the same on every rank.
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
        let logits = engine.forward(&b)?;
        let logps =
            Vec::<f32>::try_from(sequence_logps(&logits, &b.labels).to_device(tch::Device::Cpu))?;
        let m = items.len();
        // One triple per item on every rank (index -1 for a repeat), so
        // that every rank gathers the same length.
        for (j, &i) in items.iter().enumerate() {
            let at = if real[j] { i as f64 } else { -1.0 };
            local.extend([at, logps[j] as f64, logps[m + j] as f64]);
        }
        if rank == 0 {
            meter.tick(k + 1);
        }
    }
    let all = Vec::<f64>::try_from(engine.all_gather(&Tensor::from_slice(&local))?)?;
    let (mut c, mut r) = (vec![f32::NAN; n], vec![f32::NAN; n]);
    for t in all.chunks_exact(3).filter(|t| t[0] >= 0.0) {
        c[t[0] as usize] = t[1] as f32;
        r[t[0] as usize] = t[2] as f32;
    }
    anyhow::ensure!(
        c.iter().all(|x| x.is_finite()),
        "dpo reference pass left pairs without log-probs"
    );
    Ok((Tensor::from_slice(&c), Tensor::from_slice(&r)))
}

/// Loads cached reference log-probs (`key` must match), if present.
pub fn load_cache(path: &Path, key: &str) -> Result<Option<HashMap<String, Tensor>>> {
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
pub fn save_cache(path: &Path, key: &str, tensors: &HashMap<String, Tensor>) -> Result<()> {
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
