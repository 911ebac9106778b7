//! What a micro-batch is trained for: the loss computed from the head's
//! logits. The engine stays unaware of the objective; it backpropagates
//! whatever loss the objective returns. [`RunObjective`] is the objective
//! of a whole run (`data.objective`): [`NextToken`] here, `DpoRun` in
//! [`crate::dpo`].

pub use crate::batch::Batch;
use crate::eval::EvalRefs;
use crate::model::token_loss_sum;
use anyhow::Result;
use tch::Tensor;

/// Turns logits into the loss to backpropagate.
pub trait Objective {
    /// The differentiable loss of this micro-batch, already scaled so that
    /// the sum over every micro-batch of the global batch is the step's loss,
    /// and the values to sum over ranks for reporting (first: the loss sum).
    fn loss(&self, logits: &Tensor, batch: &Batch) -> Result<(Tensor, Vec<f64>)>;
}

/// Causal language modelling: the sum of token losses over the global batch
/// divided by its number of target tokens (pretraining and SFT).
pub struct CausalLm {
    /// Target tokens in the whole global batch of the step.
    pub targets: i64,
}

impl Objective for CausalLm {
    fn loss(&self, logits: &Tensor, batch: &Batch) -> Result<(Tensor, Vec<f64>)> {
        let (sum, _) = token_loss_sum(logits, &batch.labels);
        let value = sum.double_value(&[]);
        Ok((sum / self.targets.max(1) as f64, vec![value]))
    }
}

/// What a run trains for, chosen once from `data.objective`: the
/// objective of each micro-batch and the names of what a step reports.
pub trait RunObjective {
    /// The objective of the micro-batch of `items` (indices in the training
    /// set) in a step whose loss is normalised by `norm` (target tokens, or
    /// pairs, of the global batch).
    fn micro(&self, items: &[usize], norm: i64) -> Box<dyn Objective>;
    /// A step's reported values, named, from the [`Objective::loss`] values
    /// summed over micro-batches and ranks.
    fn report(&self, sums: &[f64], norm: i64) -> Vec<(&'static str, f64)>;
    /// Reference log-probs of the validation set, for evaluation (DPO).
    fn eval_refs(&self) -> Option<EvalRefs<'_>> {
        None
    }
}

/// Pretraining and SFT: next-token prediction, [`CausalLm`]. The two differ
/// only in which labels the data leaves unmasked (every token, or the
/// assistant's).
pub struct NextToken;

impl RunObjective for NextToken {
    fn micro(&self, _: &[usize], norm: i64) -> Box<dyn Objective> {
        Box::new(CausalLm { targets: norm })
    }

    fn report(&self, sums: &[f64], norm: i64) -> Vec<(&'static str, f64)> {
        vec![("train_loss", sums[0] / norm.max(1) as f64)]
    }
}
