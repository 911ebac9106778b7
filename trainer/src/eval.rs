//! Evaluation on the validation split: the first `eval.max_samples` items
//! of the split (all of them by default), the same ones at every world
//! size, dealt out over the ranks; without autograd; the sums are reduced
//! over ranks. The run's objective scores each micro-batch and names the
//! metrics ([`RunObjective::eval_sums`], [`RunObjective::eval_metrics`]):
//! eval loss for language modelling, DPO loss and reward accuracy.

use crate::data::batches::{batch, shares};
use crate::data::SampleSet;
use crate::objective::{EvalBatch, EvalSums, RunObjective};
use crate::zero::Engine;
use anyhow::Result;
use serde_json::{Map, Value};
use tch::{Kind, Tensor};

/// How many items of a validation set of `len` a pass evaluates: the first
/// `max_samples` (all when unset), whatever the world size.
pub fn evaluated(len: usize, max_samples: Option<u64>) -> usize {
    max_samples.map_or(len, |m| len.min(usize::try_from(m).unwrap_or(usize::MAX)))
}

/// The metrics `objective` gives of one pass over the first `max_samples`
/// items of `set`.
pub fn evaluate(
    engine: &mut Engine,
    set: &SampleSet,
    pad_id: i64,
    micro: usize,
    max_samples: Option<u64>,
    objective: &dyn RunObjective,
) -> Result<Map<String, Value>> {
    let (rank, world) = (engine.rank(), engine.world_size());
    let n = evaluated(set.len(), max_samples);
    let mut sums = EvalSums::default();
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
        let s = objective.eval_sums(&EvalBatch {
            nll: &nll,
            batch: &b,
            items: &items,
            keep: &keep,
        })?;
        sums.loss += s.loss;
        sums.count += s.count;
        sums.correct += s.correct;
    }
    let mut t = Tensor::from_slice(&[sums.loss, sums.count, sums.correct]);
    engine.all_reduce_sum(&mut t)?;
    let s = Vec::<f64>::try_from(t.to_kind(Kind::Double))?;
    Ok(objective.eval_metrics(&EvalSums {
        loss: s[0],
        count: s[1],
        correct: s[2],
    }))
}
