//! What a micro-batch is trained for: the loss computed from the head's
//! logits. The engine stays unaware of the objective; it backpropagates
//! whatever loss the objective returns.

pub use crate::batch::Batch;
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
