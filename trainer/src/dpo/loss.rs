//! The preference losses as pure tensor functions of per-pair log-probs, as
//! open-instruct's `dpo_utils.py` (`dpo`, `dpo_norm`, `simpo`, `wpo`) and
//! TRL's `DPOTrainer` (`ipo`) compute them. With `z` the margin below,
//! `b = train.dpo_beta` and `e = train.dpo_label_smoothing`, the sigmoid
//! losses are conservative DPO's `-(1 - e) log s(b z) - e log s(-b z)`:
//!
//! * `dpo`: summed log-probs, `z = (pi_c - pi_r) - (ref_c - ref_r)`.
//! * `dpo_norm`: the same on log-probs averaged over each response's tokens.
//! * `simpo`: averaged log-probs, no reference, `z = pi_c - pi_r - gamma / b`.
//! * `wpo`: `dpo`'s loss times `min(1, exp(mean_c + mean_r))`, the policy's
//!   per-token mean log-probs of both responses (not detached, as open-instruct).
//! * `ipo`: averaged log-probs, `(z - 1 / (2 b))^2`.
//!
//! Rewards are `b (pi - ref)` of the log-probs the loss uses (`b pi` for
//! simpo). Every function works on the pairs it is given; the caller divides
//! by the pairs of the whole global batch, so the loss does not depend on how
//! the pairs are split over ranks and micro-batches.

use anyhow::{bail, Result};
use runconfig::{DpoLossType, TrainConfig};
use tch::{Kind, Tensor};

/// A preference loss and its constants, from the `train` section.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairLoss {
    /// `train.dpo_loss_type`.
    pub kind: DpoLossType,
    /// `train.dpo_beta`.
    pub beta: f64,
    /// `train.dpo_label_smoothing` (0 for ipo).
    pub label_smoothing: f64,
    /// `train.simpo_gamma` (simpo only).
    pub simpo_gamma: f64,
}

/// Log-probs of some pairs, each `[M]` f32: summed over each response's
/// target tokens, and the number of those tokens.
pub struct PairLogps<'a> {
    /// Summed log-probs of the chosen responses.
    pub chosen: &'a Tensor,
    /// Summed log-probs of the rejected responses.
    pub rejected: &'a Tensor,
    /// Target tokens of the chosen responses.
    pub chosen_tokens: &'a Tensor,
    /// Target tokens of the rejected responses.
    pub rejected_tokens: &'a Tensor,
}

/// Summed reference log-probs of the same pairs, `(chosen [M], rejected [M])`.
pub type RefLogps<'a> = (&'a Tensor, &'a Tensor);

impl PairLoss {
    /// The loss the `train` section asks for.
    pub fn of(t: &TrainConfig) -> PairLoss {
        PairLoss {
            kind: t.dpo_loss_type,
            beta: t.dpo_beta,
            label_smoothing: t.dpo_label_smoothing,
            simpo_gamma: t.simpo_gamma(),
        }
    }

    /// The loss of each pair (`[M]`, differentiable w.r.t. the policy
    /// log-probs) and the sums over the pairs of the reported values (f64
    /// `[7]` on the pairs' device, not read back to the host), in the
    /// order of [`super::STATS`]: loss, rewards chosen / rejected / accuracy
    /// (the share where chosen's exceeds rejected's) / margin, log-probs
    /// chosen / rejected (averaged per token where the loss averages).
    pub fn terms(
        &self,
        policy: &PairLogps,
        reference: Option<RefLogps>,
    ) -> Result<(Tensor, Tensor)> {
        let b = self.beta;
        let (nc, nr) = (policy.chosen_tokens, policy.rejected_tokens);
        let (pc, pr) = (
            self.scaled(policy.chosen, nc),
            self.scaled(policy.rejected, nr),
        );
        let (z, wc, wr) = match (self.kind, reference) {
            (DpoLossType::Simpo, _) => (&pc - &pr - self.simpo_gamma / b, &pc * b, &pr * b),
            (_, Some((rc, rr))) => {
                let (rc, rr) = (self.scaled(rc, nc), self.scaled(rr, nr));
                ((&pc - &pr) - (&rc - &rr), (&pc - rc) * b, (&pr - rr) * b)
            }
            (kind, None) => bail!("the {kind} loss needs the reference log-probs"),
        };
        let losses = match self.kind {
            DpoLossType::Ipo => (z - 1.0 / (2.0 * b)).square(),
            DpoLossType::Wpo => sigmoid_loss(&z, b, self.label_smoothing) * wpo_weights(policy),
            _ => sigmoid_loss(&z, b, self.label_smoothing),
        };
        let sum = |t: &Tensor| t.detach().sum(Kind::Double);
        let values = Tensor::stack(
            &[
                sum(&losses),
                sum(&wc),
                sum(&wr),
                sum(&wc.gt_tensor(&wr).to_kind(Kind::Double)),
                sum(&(&wc - &wr)),
                sum(&pc),
                sum(&pr),
            ],
            0,
        );
        Ok((losses, values))
    }

    /// Summed log-probs `x` as the loss uses them: per token where it
    /// length-normalises (`tokens` counts each response's target tokens).
    fn scaled(&self, x: &Tensor, tokens: &Tensor) -> Tensor {
        if self.kind.length_normalised() {
            x / tokens
        } else {
            x.shallow_clone()
        }
    }
}

/// Conservative DPO's sigmoid loss of the margins `z`.
pub fn sigmoid_loss(z: &Tensor, beta: f64, label_smoothing: f64) -> Tensor {
    let bz = z * beta;
    let pos = -bz.log_sigmoid() * (1.0 - label_smoothing);
    if label_smoothing == 0.0 {
        pos
    } else {
        pos - (-bz).log_sigmoid() * label_smoothing
    }
}

/// WPO's pair weights: `min(1, exp(mean log-prob of chosen + of rejected))`
/// under the policy.
pub fn wpo_weights(policy: &PairLogps) -> Tensor {
    let mean = policy.chosen / policy.chosen_tokens + policy.rejected / policy.rejected_tokens;
    mean.exp().clamp_max(1.0)
}
