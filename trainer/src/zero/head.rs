//! The engine's head unit and loss over chunks of the micro-batch's tokens
//! (see [`crate::model::head_nll`]), in training and in evaluation: the
//! whole `[tokens, vocab]` logits are never materialised, nor their
//! gradient.

use super::engine::Engine;
use crate::batch::{Batch, Objective};
use crate::model::{head_backward, head_nll};
use anyhow::Result;
use runconfig::memory::LOGITS_CHUNK_TOKENS;
use tch::{Kind, Tensor};

impl Engine {
    /// Per-token negative log-likelihoods of `batch` (f32 `[B, T]`, 0 where
    /// a token has no target), without autograd, the head over chunks of
    /// tokens: what evaluation and the DPO reference pass need, without the
    /// whole logits.
    pub fn forward_nll(&mut self, batch: &Batch) -> Result<Tensor> {
        let u = self.units.count() - 1;
        let plan = self.units.forward_plan(u + 1);
        self.collectives.plan(plan);
        let input = self.run_units(batch, u)?;
        let (params, embed) = self.gather_params(u)?;
        self.collectives.land(self.state.shards_mut())?;
        let head = self.units.head(&params, embed.as_ref());
        let chunk = LOGITS_CHUNK_TOKENS as i64;
        tch::no_grad(|| head_nll(&head, &input, &batch.labels, chunk))
    }

    /// Gathers the head, computes the objective's loss from the hidden
    /// states `input` it gets, and reduce-scatters the head's gradients (and
    /// the tied embedding's). Returns the objective's values (on the
    /// device) and the gradient of `input`.
    pub(super) fn head_step(
        &mut self,
        batch: &Batch,
        input: &Tensor,
        objective: &dyn Objective,
    ) -> Result<(Tensor, Tensor)> {
        let u = self.units.count() - 1;
        let (params, embed) = self.gather_params(u)?;
        let (values, g) = {
            let head = self.units.head(&params, embed.as_ref());
            let chunk = LOGITS_CHUNK_TOKENS as i64;
            let labels = &batch.labels;
            match objective.nll_scale() {
                // One pass: the gradient per token is known before the nll.
                Some(c) => {
                    let weight = Tensor::full(labels.size(), c, (Kind::Float, input.device()));
                    let g = head_backward(&head, input, labels, &weight, chunk)?;
                    (objective.loss_from_nll(&g.nll, batch)?.1, g)
                }
                None => {
                    let nll = tch::no_grad(|| head_nll(&head, input, labels, chunk))?;
                    let nll = nll.set_requires_grad(true);
                    let (loss, values) = objective.loss_from_nll(&nll, batch)?;
                    let weight = Tensor::run_backward(&[loss], &[&nll], false, false).remove(0);
                    (values, head_backward(&head, input, labels, &weight, chunk)?)
                }
            }
        };
        // A frozen head (a LoRA run's) has no weight gradients.
        let (Some(norm), Some(lm_head)) = (g.norm, g.lm_head) else {
            return Ok((values, g.input));
        };
        let mut own = vec![norm];
        if embed.is_none() {
            own.push(lm_head.shallow_clone());
        }
        // Only the trained parameters' gradients.
        let own = self.units.trained_of(u, own);
        self.reduce_grads(u, &own)?;
        if embed.is_some() {
            let tied = self.units.trained_of(0, vec![lm_head]);
            self.reduce_grads(0, &tied)?;
        }
        Ok((values, g.input))
    }
}
