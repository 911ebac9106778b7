//! Direct Preference Optimisation and its variants (`train.dpo_loss_type`,
//! formulas in [`loss`]): each compares the policy's log-probabilities of the
//! chosen and rejected responses, and all but simpo compare them with those
//! of the initial (reference) model. The reference log-probs come from one
//! no-grad pass over the data before training, cached on disk
//! ([`crate::references`]); [`DpoRun`] is the run's objective, in training
//! and in evaluation.

pub mod loss;

use crate::device::upload;
use crate::eval::{EvalBatch, EvalPass, EvalSums};
use crate::model::shifted_labels;
use crate::objective::{token_nll, Batch, Objective, RunObjective};
use anyhow::Result;
use loss::{PairLogps, PairLoss};
use serde_json::{json, Map, Value};
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
/// the causal-LM loss is; -100 ignored), f64 `[B]`, from whole logits: what
/// tests compare the trainer's chunked path ([`logps_of_nll`]) against.
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

    /// DPO loss and reward accuracy per real pair.
    fn evaluate(&self, pass: &mut EvalPass) -> Result<Map<String, Value>> {
        let s = pass.sums(&|b| self.pair_sums(b))?;
        let per_pair = |x: f64| json!(x / s.count.max(1.0));
        Ok(Map::from_iter([
            ("eval_loss".into(), per_pair(s.loss)),
            ("eval_rewards/accuracy".into(), per_pair(s.correct)),
        ]))
    }
}

impl DpoRun {
    /// The real pairs' loss and reward accuracy: rows `keep` are their
    /// chosen responses, `keep + M` their rejected ones.
    fn pair_sums(&self, b: &EvalBatch) -> Result<EvalSums> {
        let m = b.items.len() as i64;
        let dev = b.nll.device();
        let rows: Vec<i64> = b
            .keep
            .iter()
            .copied()
            .chain(b.keep.iter().map(|j| j + m))
            .collect();
        let rows = Tensor::from_slice(&rows).to_device(dev);
        let logps = logps_of_nll(b.nll).index_select(0, &rows);
        let labels = b.batch.labels.index_select(0, &rows);
        // The real pairs' indices in the set, for their reference log-probs.
        let real: Vec<i64> = b.keep.iter().map(|&j| b.items[j as usize] as i64).collect();
        let pick = |t: &Tensor| t.index_select(0, &Tensor::from_slice(&real)).to_device(dev);
        let reference = self
            .refs
            .as_ref()
            .map(|r| (pick(&r.val_chosen), pick(&r.val_rejected)));
        let reference = reference.as_ref().map(|(c, rj)| (c, rj));
        let (_, v) = pair_terms(&self.loss, &logps, &labels, reference)?;
        let v = Vec::<f64>::try_from(v.to_device(tch::Device::Cpu))?;
        Ok(EvalSums {
            loss: v[0],
            count: b.keep.len() as f64,
            correct: v[3],
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
