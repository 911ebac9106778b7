//! AdamW as `torch.optim.AdamW` computes it (bias correction, decoupled
//! weight decay applied before the update, to the decayed elements only),
//! on flat fp32 vectors: the update is libtorch's fused step
//! ([`super::fused`]), as `torch.optim.AdamW(fused=True)` runs it.

use super::{fused, DecayMask, ShardOptimizer, StatePiece};
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
        let h = &self.hyper;
        let (at, n) = (start as i64, param.numel() as i64);
        self.decay.scale_at(start, param, 1.0 - lr * h.weight_decay);
        let (m, v) = (self.m.narrow(0, at, n), self.v.narrow(0, at, n));
        fused::adamw_step(h, param, grad, &m, &v, lr, t);
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
