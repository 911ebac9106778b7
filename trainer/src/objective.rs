//! What a micro-batch is trained for: the loss computed from the head's
//! logits. The engine stays unaware of the objective; it backpropagates
//! whatever loss the objective returns.

use crate::model::token_loss_sum;
use anyhow::Result;
use tch::Tensor;

/// One micro-batch as the model sees it, `[B, T]` each.
pub struct Batch {
    pub input_ids: Tensor,
    /// Targets; -100 where no loss is taken (prompt, padding, document starts).
    pub labels: Tensor,
    /// Positions that restart at each packed document (None: 0..T per row).
    pub position_ids: Option<Tensor>,
    /// Document of each token in a packed row (None: one document per row).
    pub segment_ids: Option<Tensor>,
    /// Real (not padding) tokens in the batch.
    pub tokens: i64,
}

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
