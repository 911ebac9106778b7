//! Evaluation on the validation split: the first `eval.max_samples` items
//! of the split (all of them by default), the same ones at every world
//! size, dealt out over the ranks; without autograd; the sums are reduced
//! over ranks. The run's objective answers evaluation itself
//! ([`crate::objective::RunObjective::evaluate`]): it scores each
//! micro-batch that [`EvalPass::sums`] hands it and names the metrics
//! (eval loss for language modelling, DPO loss and reward accuracy).

use crate::batch::Batch;
use crate::data::batches::{batch, shares};
use crate::data::SampleSet;
use crate::zero::Engine;
use anyhow::Result;
use tch::{Kind, Tensor};

/// How many items of a validation set of `len` a pass evaluates: the first
/// `max_samples` (all when unset), whatever the world size.
pub fn evaluated(len: usize, max_samples: Option<u64>) -> usize {
    max_samples.map_or(len, |m| len.min(usize::try_from(m).unwrap_or(usize::MAX)))
}

/// What evaluating validation micro-batches adds up, summed over
/// micro-batches and then over ranks.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct EvalSums {
    /// The loss summed over what was evaluated.
    pub loss: f64,
    /// What the loss sum is divided by (target tokens, or pairs).
    pub count: f64,
    /// Pairs whose chosen response wins (DPO's reward accuracy).
    pub correct: f64,
}

/// One validation micro-batch as the evaluation loop hands it over.
pub struct EvalBatch<'a> {
    /// Per-token negative log-likelihoods of `batch`, f32 `[B, T]`.
    pub nll: &'a Tensor,
    pub batch: &'a Batch,
    /// The micro-batch's items (indices in the validation set).
    pub items: &'a [usize],
    /// Positions in the micro-batch of the items that count (the others
    /// repeat an item to keep every rank in step).
    pub keep: &'a [i64],
}

/// One pass over the first `max_samples` items of a validation set.
pub struct EvalPass<'a> {
    pub engine: &'a mut Engine,
    pub set: &'a SampleSet,
    pub pad_id: i64,
    pub micro: usize,
    pub max_samples: Option<u64>,
}

impl EvalPass<'_> {
    /// What `score` gives of this rank's micro-batches, summed over them
    /// and then over every rank.
    pub fn sums(&mut self, score: &dyn Fn(&EvalBatch) -> Result<EvalSums>) -> Result<EvalSums> {
        let engine = &mut *self.engine;
        let (rank, world) = (engine.rank(), engine.world_size());
        let n = evaluated(self.set.len(), self.max_samples);
        let mut sums = EvalSums::default();
        for (items, real) in shares(n, world, rank, self.micro) {
            let b = batch(self.set, &items, self.pad_id, engine.device());
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
            let s = score(&EvalBatch {
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
        Ok(EvalSums {
            loss: s[0],
            count: s[1],
            correct: s[2],
        })
    }
}
