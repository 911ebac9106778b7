//! Evaluation on the validation split: the first `eval.max_samples` items
//! of the split (all of them by default), the same ones at every world
//! size, dealt out over the ranks; without autograd; the sums are reduced
//! over ranks. Eval loss for language modelling (sum of token losses over
//! the evaluated samples / their target tokens), and DPO loss and reward
//! accuracy (per pair).

use crate::data::batches::{batch, shares};
use crate::data::SampleSet;
use crate::dpo::{dpo_terms, sequence_logps};
use crate::model::token_loss_sum;
use crate::zero::Engine;
use anyhow::Result;
use serde_json::{json, Map, Value};
use tch::{Kind, Tensor};

/// Reference log-probs of the validation pairs (DPO).
pub struct EvalRefs<'a> {
    /// `train.dpo_beta`.
    pub beta: f64,
    /// Reference log-probs of the chosen responses, `[pairs]`.
    pub chosen: &'a Tensor,
    /// Reference log-probs of the rejected responses, `[pairs]`.
    pub rejected: &'a Tensor,
}

/// How many items of a validation set of `len` a pass evaluates: the first
/// `max_samples` (all when unset), whatever the world size.
pub fn evaluated(len: usize, max_samples: Option<u64>) -> usize {
    max_samples.map_or(len, |m| len.min(usize::try_from(m).unwrap_or(usize::MAX)))
}

/// Metrics of one pass over the first `max_samples` items of `set`: DPO's
/// with `refs`, else language modelling's.
pub fn evaluate(
    engine: &mut Engine,
    set: &SampleSet,
    pad_id: i64,
    micro: usize,
    max_samples: Option<u64>,
    refs: Option<&EvalRefs>,
) -> Result<Map<String, Value>> {
    let (rank, world) = (engine.rank(), engine.world_size());
    let n = evaluated(set.len(), max_samples);
    let mut sums = [0.0f64; 3]; // loss sum, normaliser, reward-accuracy count
    for (items, real) in shares(n, world, rank, micro) {
        let b = batch(set, &items, pad_id, engine.device());
        let logits = engine.forward(&b)?;
        let keep: Vec<i64> = real
            .iter()
            .enumerate()
            .filter(|(_, &r)| r)
            .map(|(j, _)| j as i64)
            .collect();
        if keep.is_empty() {
            continue;
        }
        let idx = Tensor::from_slice(&keep).to_device(logits.device());
        match refs {
            Some(r) => {
                let logps = sequence_logps(&logits, &b.labels);
                let m = items.len() as i64;
                let (pc, pr) = (
                    logps.narrow(0, 0, m).index_select(0, &idx),
                    logps.narrow(0, m, m).index_select(0, &idx),
                );
                // The real pairs' indices in the set, for their reference log-probs.
                let real_items: Vec<i64> = keep.iter().map(|&j| items[j as usize] as i64).collect();
                let pick = |t: &Tensor| {
                    t.index_select(0, &Tensor::from_slice(&real_items))
                        .to_device(pc.device())
                };
                let (_, v) = dpo_terms(r.beta, &pc, &pr, &pick(r.chosen), &pick(r.rejected));
                sums[0] += v[0];
                sums[1] += keep.len() as f64;
                sums[2] += v[3];
            }
            None => {
                let labels = b.labels.index_select(0, &idx);
                let (sum, n) = token_loss_sum(&logits.index_select(0, &idx), &labels);
                sums[0] += sum.double_value(&[]);
                sums[1] += n as f64;
            }
        }
    }
    let mut t = Tensor::from_slice(&sums);
    engine.all_reduce_sum(&mut t)?;
    let s = Vec::<f64>::try_from(t.to_kind(Kind::Double))?;
    let mut out = Map::new();
    out.insert("eval_loss".into(), json!(s[0] / s[1].max(1.0)));
    if refs.is_some() {
        out.insert("eval_rewards/accuracy".into(), json!(s[2] / s[1].max(1.0)));
    }
    Ok(out)
}
