//! Direct Preference Optimisation and its variants (`train.dpo_loss_type`,
//! formulas in [`loss`]): each compares the policy's log-probabilities of the
//! chosen and rejected responses, and all but simpo compare them with those
//! of the initial (reference) model. The reference log-probs come from one
//! no-grad pass over the data before training, cached on disk
//! ([`crate::references`]); [`DpoRun`] is the run's objective.

pub mod loss;

use crate::data::batches::{batch, shares};
use crate::data::SampleSet;
use crate::device::upload;
use crate::eval::DpoEval;
use crate::model::shifted_labels;
use crate::objective::{token_nll, Batch, Objective, RunObjective};
use crate::progress::Meter;
use crate::zero::Engine;
use anyhow::{Context, Result};
use loss::{PairLogps, PairLoss};
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
/// the causal-LM loss is; -100 ignored), f64 `[B]`.
pub fn sequence_logps(logits: &Tensor, labels: &Tensor) -> Tensor {
    logps_of_nll(&token_nll(logits, labels))
}

/// Per row: the summed log-probability of its labelled tokens, from their
/// negative log-likelihoods `nll` (f32 `[B, T]`, 0 where unlabelled), f64
/// `[B]`: summed in f64, so that a sum near -30 does not round to f32's
/// step there (2e-6), which weights a last-bit apart (at another world
/// size) would cross now and then.
pub fn logps_of_nll(nll: &Tensor) -> Tensor {
    -nll.sum_dim_intlist(1, false, Kind::Double)
}

/// Per row: how many tokens it is trained on (at least 1), f32 `[B]`.
pub fn response_tokens(labels: &Tensor) -> Tensor {
    shifted_labels(labels)
        .ne(-100)
        .sum_dim_intlist(1, false, Kind::Float)
        .clamp_min(1.0)
}

/// Rows `0..M` and `M..2M` of `t`: the chosen and the rejected halves.
pub fn halves(t: &Tensor) -> (Tensor, Tensor) {
    let m = t.size()[0] / 2;
    (t.narrow(0, 0, m), t.narrow(0, m, m))
}

/// The loss and reported sums of a micro-batch's pairs from its rows'
/// summed log-probs `logps` and `labels` (rows `0..M` chosen, `M..2M`
/// rejected), with the reference's summed log-probs of the pairs, if any.
pub fn pair_terms(
    loss: &PairLoss,
    logps: &Tensor,
    labels: &Tensor,
    reference: Option<(&Tensor, &Tensor)>,
) -> Result<(Tensor, Tensor)> {
    let (pc, pr) = halves(logps);
    let (nc, nr) = halves(&response_tokens(labels).to_device(logps.device()));
    let policy = PairLogps {
        chosen: &pc,
        rejected: &pr,
        chosen_tokens: &nc,
        rejected_tokens: &nr,
    };
    loss.terms(&policy, reference)
}

/// The DPO objective of one micro-batch: rows `0..M` chosen, `M..2M` rejected.
pub struct Dpo {
    /// The preference loss and its constants.
    pub loss: PairLoss,
    /// Pairs in the whole global batch (the loss is their mean).
    pub pairs: i64,
    /// Summed reference log-probs of this micro-batch's chosen and rejected
    /// responses, `[M]` each (none for a reference-free loss).
    pub reference: Option<(Tensor, Tensor)>,
}

/// Summed reference log-probs, f64 `[pairs]` each, on the CPU.
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

/// DPO over a whole run: the loss and, unless it is reference-free, every
/// pair's reference log-probs.
pub struct DpoRun {
    /// `train.dpo_loss_type` and its constants.
    pub loss: PairLoss,
    /// The reference log-probs of the training and validation pairs.
    pub refs: Option<References>,
}

impl RunObjective for DpoRun {
    fn micro(&self, items: &[usize], norm: i64) -> Box<dyn Objective> {
        let items: Vec<i64> = items.iter().map(|&i| i as i64).collect();
        let idx = Tensor::from_slice(&items);
        Box::new(Dpo {
            loss: self.loss,
            pairs: norm,
            reference: self.refs.as_ref().map(|r| {
                (
                    r.train_chosen.index_select(0, &idx),
                    r.train_rejected.index_select(0, &idx),
                )
            }),
        })
    }

    fn report(&self, sums: &[f64], norm: i64) -> Vec<(&'static str, f64)> {
        STATS
            .iter()
            .zip(sums)
            .map(|(&k, v)| (k, v / norm as f64))
            .collect()
    }

    fn dpo_eval(&self) -> Option<DpoEval<'_>> {
        Some(DpoEval {
            loss: self.loss,
            reference: self.refs.as_ref().map(|r| (&r.val_chosen, &r.val_rejected)),
        })
    }
}

impl Objective for Dpo {
    fn loss_from_nll(&self, nll: &Tensor, batch: &Batch) -> Result<(Tensor, Tensor)> {
        let logps = logps_of_nll(nll);
        let dev = logps.device();
        let reference = self
            .reference
            .as_ref()
            .map(|(c, r)| (upload(c, dev), upload(r, dev)));
        let (losses, values) = pair_terms(
            &self.loss,
            &logps,
            &batch.labels,
            reference.as_ref().map(|(c, r)| (c, r)),
        )?;
        Ok((losses.sum(Kind::Float) / self.pairs.max(1) as f64, values))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summed_log_probs_keep_what_an_f32_sum_rounds_away() {
        // Near 30, f32 values are 1.9e-6 apart: adding 4e-7 to 30 in f32
        // gives 30 again, five times over.
        let row: Vec<f32> = [30.0].into_iter().chain([4e-7; 5]).collect();
        let want = -row.iter().map(|&x| f64::from(x)).sum::<f64>();
        let nll = Tensor::from_slice(&row).view([1, -1]);
        let got = Vec::<f64>::try_from(logps_of_nll(&nll)).unwrap();
        assert_eq!(got, [want]);
        assert!(want < -30.000_001, "{want}");
    }
}
