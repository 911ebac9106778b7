//! What a micro-batch is trained for: the loss computed from the head's
//! logits. The engine stays unaware of the objective; it backpropagates
//! whatever loss the objective returns. [`RunObjective`] is the objective
//! of a whole run (`data.objective`): [`NextToken`] here, `DpoRun` in
//! [`crate::dpo`].

pub use crate::batch::Batch;
use crate::eval::DpoEval;
use crate::model::shifted_labels;
use anyhow::Result;
use tch::{Kind, Reduction, Tensor};

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

    /// [`Objective::loss_from_nll`] of the whole logits `[B, T, V]`.
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

/// Causal language modelling: the sum of token losses over the global batch
/// divided by `norm` (pretraining and SFT): its number of target tokens
/// (`train.reduce_loss: mean`) or of micro-batches (`sum`).
pub struct CausalLm {
    /// What the global batch's token-loss sum is divided by.
    pub norm: i64,
}

impl Objective for CausalLm {
    fn loss_from_nll(&self, nll: &Tensor, _: &Batch) -> Result<(Tensor, Tensor)> {
        let sum = nll.sum(Kind::Float);
        let value = sum.detach().to_kind(Kind::Double).reshape([1]);
        Ok((sum / self.norm.max(1) as f64, value))
    }

    fn nll_scale(&self) -> Option<f64> {
        Some(1.0 / self.norm.max(1) as f64)
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
    /// How to evaluate the validation pairs (DPO).
    fn dpo_eval(&self) -> Option<DpoEval<'_>> {
        None
    }
}

/// Pretraining and SFT: next-token prediction, [`CausalLm`]. The two differ
/// only in which labels the data leaves unmasked (every token, or the
/// assistant's).
pub struct NextToken;

impl RunObjective for NextToken {
    fn micro(&self, _: &[usize], norm: i64) -> Box<dyn Objective> {
        Box::new(CausalLm { norm })
    }

    fn report(&self, sums: &[f64], norm: i64) -> Vec<(&'static str, f64)> {
        vec![("train_loss", sums[0] / norm.max(1) as f64)]
    }
}
