//! Evaluation on the validation split: the first `eval.max_samples` items
//! of the split (all of them by default), the same ones at every world
//! size, dealt out over the ranks; without autograd; the sums are reduced
//! over ranks. Eval loss for language modelling (sum of token losses over
//! the evaluated samples / their target tokens), and DPO loss and reward
//! accuracy (per pair, with the run's preference loss).

use crate::data::batches::{batch, shares};
use crate::data::SampleSet;
use crate::dpo::loss::PairLoss;
use crate::dpo::{logps_of_nll, pair_terms};
use crate::model::shifted_labels;
use crate::zero::Engine;
use anyhow::Result;
use serde_json::{json, Map, Value};
use tch::{Kind, Tensor};

/// How DPO evaluates the validation pairs.
pub struct DpoEval<'a> {
    /// The run's preference loss.
    pub loss: PairLoss,
    /// Summed reference log-probs of the chosen and rejected responses,
    /// `[pairs]` each (none for a reference-free loss).
    pub reference: Option<(&'a Tensor, &'a Tensor)>,
}

/// How many items of a validation set of `len` a pass evaluates: the first
/// `max_samples` (all when unset), whatever the world size.
pub fn evaluated(len: usize, max_samples: Option<u64>) -> usize {
    max_samples.map_or(len, |m| len.min(usize::try_from(m).unwrap_or(usize::MAX)))
}

/// Metrics of one pass over the first `max_samples` items of `set`: DPO's
/// with `dpo`, else language modelling's.
pub fn evaluate(
    engine: &mut Engine,
    set: &SampleSet,
    pad_id: i64,
    micro: usize,
    max_samples: Option<u64>,
    dpo: Option<&DpoEval>,
) -> Result<Map<String, Value>> {
    let (rank, world) = (engine.rank(), engine.world_size());
    let n = evaluated(set.len(), max_samples);
    let mut sums = [0.0f64; 3]; // loss sum, normaliser, reward-accuracy count
    for (items, real) in shares(n, world, rank, micro) {
        let b = batch(set, &items, pad_id, engine.device());
        let nll = engine.forward_nll(&b)?;
        let keep: Vec<i64> = real
            .iter()
            .enumerate()
            .filter(|(_, &r)| r)
            .map(|(j, _)| j as i64)
            .collect();
        if keep.is_empty() {
            continue;
        }
        let idx = Tensor::from_slice(&keep).to_device(nll.device());
        match dpo {
            Some(r) => {
                let v = dpo_eval_batch(r, &nll, &b.labels, &items, &keep)?;
                sums[0] += v[0];
                sums[1] += keep.len() as f64;
                sums[2] += v[3];
            }
            None => {
                let targets = shifted_labels(&b.labels.index_select(0, &idx));
                sums[0] += nll
                    .index_select(0, &idx)
                    .sum(Kind::Double)
                    .double_value(&[]);
                sums[1] += targets.ne(-100).sum(Kind::Int64).int64_value(&[]) as f64;
            }
        }
    }
    let mut t = Tensor::from_slice(&sums);
    engine.all_reduce_sum(&mut t)?;
    let s = Vec::<f64>::try_from(t.to_kind(Kind::Double))?;
    let mut out = Map::new();
    out.insert("eval_loss".into(), json!(s[0] / s[1].max(1.0)));
    if dpo.is_some() {
        out.insert("eval_rewards/accuracy".into(), json!(s[2] / s[1].max(1.0)));
    }
    Ok(out)
}

/// The DPO values of the real pairs `keep` (positions in the micro-batch of
/// `items`, indices in the validation set).
fn dpo_eval_batch(
    r: &DpoEval,
    nll: &Tensor,
    labels: &Tensor,
    items: &[usize],
    keep: &[i64],
) -> Result<Vec<f64>> {
    let m = items.len() as i64;
    let dev = nll.device();
    // Chosen rows `keep`, then the same pairs' rejected rows.
    let rows: Vec<i64> = keep
        .iter()
        .copied()
        .chain(keep.iter().map(|j| j + m))
        .collect();
    let rows = Tensor::from_slice(&rows).to_device(dev);
    let logps = logps_of_nll(nll).index_select(0, &rows);
    let labels = labels.index_select(0, &rows);
    // The real pairs' indices in the set, for their reference log-probs.
    let real: Vec<i64> = keep.iter().map(|&j| items[j as usize] as i64).collect();
    let pick = |t: &Tensor| t.index_select(0, &Tensor::from_slice(&real)).to_device(dev);
    let reference = r.reference.map(|(c, rj)| (pick(c), pick(rj)));
    let (_, v) = pair_terms(
        &r.loss,
        &logps,
        &labels,
        reference.as_ref().map(|(c, rj)| (c, rj)),
    )?;
    Ok(Vec::<f64>::try_from(v.to_device(tch::Device::Cpu))?)
}
