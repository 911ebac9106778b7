//! AdamW as `torch.optim.AdamW` computes it (bias correction, decoupled
//! weight decay applied before the update), on flat fp32 shards.

use tch::Tensor;

/// Hyper-parameters of AdamW.
#[derive(Debug, Clone, Copy)]
pub struct AdamW {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

/// The 32-bit state of one shard.
pub struct AdamWState {
    /// First moment.
    pub m: Tensor,
    /// Second moment.
    pub v: Tensor,
}

impl AdamWState {
    /// Zero moments shaped like `param`.
    pub fn zeros_like(param: &Tensor) -> AdamWState {
        AdamWState {
            m: param.zeros_like(),
            v: param.zeros_like(),
        }
    }
}

impl AdamW {
    /// One update of `param` with gradient `grad` at 1-based step `t`.
    pub fn step(&self, param: &mut Tensor, grad: &Tensor, state: &mut AdamWState, lr: f64, t: u64) {
        let _ = param.g_mul_scalar_(1.0 - lr * self.weight_decay);
        let _ = state.m.lerp_(grad, 1.0 - self.beta1);
        let _ = state
            .v
            .g_mul_scalar_(self.beta2)
            .g_add_(&(grad * grad * (1.0 - self.beta2)));
        let bc1 = 1.0 - self.beta1.powi(t as i32);
        let bc2 = 1.0 - self.beta2.powi(t as i32);
        let denom = state.v.sqrt() / bc2.sqrt() + self.eps;
        let _ = param.g_sub_(&(&state.m / denom * (lr / bc1)));
    }
}
