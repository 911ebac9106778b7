//! AdamW as `torch.optim.AdamW` computes it (bias correction, decoupled
//! weight decay applied before the update, to the decayed elements only),
//! on flat fp32 vectors.

use super::{DecayMask, ShardOptimizer, StatePiece};
use runconfig::OptimizerConfig;
use tch::{Device, Kind, Tensor};

/// Hyper-parameters of AdamW.
#[derive(Debug, Clone, Copy)]
pub struct AdamW {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl AdamW {
    /// The hyper-parameters of an `optimizer:` section.
    pub fn from_config(c: &OptimizerConfig) -> AdamW {
        AdamW {
            beta1: c.betas[0],
            beta2: c.betas[1],
            eps: c.eps,
            weight_decay: c.weight_decay,
        }
    }
}

/// AdamW with fp32 moments.
pub struct AdamW32 {
    hyper: AdamW,
    /// First moment.
    m: Tensor,
    /// Second moment.
    v: Tensor,
    /// The elements weight decay applies to.
    decay: DecayMask,
}

impl AdamW32 {
    /// Zero moments for a shard of `len` elements; weight decay applies to
    /// the elements of `decay`.
    pub fn new(hyper: AdamW, len: usize, device: Device, decay: DecayMask) -> AdamW32 {
        let zeros = || Tensor::zeros([len as i64], (Kind::Float, device));
        AdamW32 {
            hyper,
            m: zeros(),
            v: zeros(),
            decay,
        }
    }
}

impl ShardOptimizer for AdamW32 {
    fn step_at(&mut self, start: usize, param: &mut Tensor, grad: &Tensor, lr: f64, t: u64) {
        // In place wherever libtorch allows: one temporary for g^2, one for
        // the denominator, one for the update.
        let h = &self.hyper;
        let (at, n) = (start as i64, param.numel() as i64);
        let (mut m, mut v) = (self.m.narrow(0, at, n), self.v.narrow(0, at, n));
        self.decay.scale_at(start, param, 1.0 - lr * h.weight_decay);
        let _ = m.lerp_(grad, 1.0 - h.beta1);
        let _ = v.lerp_(&grad.square(), 1.0 - h.beta2);
        let bc1 = 1.0 - h.beta1.powi(t as i32);
        let bc2 = 1.0 - h.beta2.powi(t as i32);
        let mut denom = v.sqrt();
        let _ = denom.g_div_scalar_(bc2.sqrt()).g_add_scalar_(h.eps);
        let mut update = &m / &denom;
        let _ = update.g_mul_scalar_(lr / bc1);
        let _ = param.g_sub_(&update);
    }

    fn state(&self) -> Vec<StatePiece> {
        vec![
            StatePiece {
                name: "exp_avg",
                tensor: self.m.shallow_clone(),
                granularity: 1,
            },
            StatePiece {
                name: "exp_avg_sq",
                tensor: self.v.shallow_clone(),
                granularity: 1,
            },
        ]
    }

    fn state_bytes(&self) -> u64 {
        (self.m.numel() + self.v.numel()) as u64 * 4
    }
}
