//! RMSNorm as each family's transformers class computes it: normalised in
//! f32, then the weight applied as the family does ([`NormWeight`]).

use runconfig::model::{LlamaConfig, NormWeight};
use tch::{Kind, Tensor};

/// RMSNorm of the last dimension of `x` with `weight`, in the dtype of `x`.
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64, how: NormWeight) -> Tensor {
    let kind = x.kind();
    let xf = x.to_kind(Kind::Float);
    let var = xf.square().mean_dim(-1, true, Kind::Float);
    let normed = xf * (var + eps).rsqrt();
    match how {
        // Llama: `weight * normed.to(dtype)`.
        NormWeight::CastThenScale => weight * normed.to_kind(kind),
        // OLMo 2: `(weight * normed).to(dtype)`, the product in f32.
        NormWeight::ScaleThenCast => (weight * normed).to_kind(kind),
        // Gemma: `(normed * (1 + weight.float())).to(dtype)`.
        NormWeight::OnePlusThenCast => (normed * (weight.to_kind(Kind::Float) + 1.0)).to_kind(kind),
    }
}

/// The model's RMSNorm (its epsilon, its family's weighting).
pub fn norm(cfg: &LlamaConfig, x: &Tensor, weight: &Tensor) -> Tensor {
    rms_norm(x, weight, cfg.rms_norm_eps, cfg.family.norm_weight())
}
