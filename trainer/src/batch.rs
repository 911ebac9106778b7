//! One micro-batch as the model sees it: what the data module builds
//! ([`crate::data::collate`]), the engine runs and an [`Objective`] scores.
//! The engine stays unaware of the objective; it backpropagates whatever
//! loss the objective returns.

use crate::model::shifted_labels;
use anyhow::Result;
use tch::{Kind, Reduction, Tensor};

/// One micro-batch, every tensor `[B, T]` of int64.
#[derive(Debug)]
pub struct Batch {
    pub input_ids: Tensor,
    /// Unshifted targets (the model shifts); -100 where no loss is taken
    /// (prompt, padding, document starts).
    pub labels: Tensor,
    /// Positions that restart at each packed document (None: 0..T per row).
    pub position_ids: Option<Tensor>,
    /// Document of each token in a packed row (None: one document per row).
    pub segment_ids: Option<Tensor>,
    /// Real (not padding) tokens in the batch.
    pub tokens: i64,
}

/// Turns the tokens' negative log-likelihoods into the loss to backpropagate.
pub trait Objective {
    /// The differentiable loss of this micro-batch from `nll`, every
    /// token's cross-entropy against its shifted label (f32 `[B, T]`, 0
    /// where the target is -100), already scaled so that the sum over every
    /// micro-batch of the global batch is the step's loss, and the values to
    /// sum over ranks for reporting (first: the loss sum), f64 `[k]` on the
    /// device of `nll`: nothing is read back to the host.
    fn loss_from_nll(&self, nll: &Tensor, batch: &Batch) -> Result<(Tensor, Tensor)>;

    /// `c` when the loss is `c * sum(nll)`: its gradient per token is then
    /// known before the nll is, and the head computes both in one pass
    /// instead of a forward for the nll and a second one for its gradient.
    fn nll_scale(&self) -> Option<f64> {
        None
    }

    /// [`Objective::loss_from_nll`] of the whole logits `[B, T, V]`: what
    /// tests compare the engine's chunked head against (the trainer never
    /// materialises the whole logits).
    fn loss(&self, logits: &Tensor, batch: &Batch) -> Result<(Tensor, Tensor)> {
        self.loss_from_nll(&token_nll(logits, &batch.labels), batch)
    }
}

/// Every position's cross-entropy against its shifted label, f32 `[B, T]`
/// (0 where the target is -100).
pub fn token_nll(logits: &Tensor, labels: &Tensor) -> Tensor {
    let (b, t, v) = logits.size3().expect("logits must be [B, T, V]");
    let target = shifted_labels(labels).reshape([-1]);
    let lg = logits.to_kind(Kind::Float).reshape([-1, v]);
    let nll = lg.cross_entropy_loss::<Tensor>(&target, None, Reduction::None, -100, 0.0);
    nll.view([b, t])
}
