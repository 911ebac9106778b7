//! Rotary position embeddings, computed as transformers computes them (the
//! same libtorch operations in the same dtypes, so that long positions agree
//! to the last bit on the CPU), including the `llama3` frequency rescaling.

use std::f64::consts::PI;

use tch::{Device, Kind, Tensor};

use runconfig::model::{LlamaConfig, RopeConfig};

/// Inverse frequencies `[head_dim / 2]` of `rope` (the model's own, or its
/// local layers'), f32 on the CPU.
pub fn inv_freq(cfg: &LlamaConfig, rope: &RopeConfig) -> Tensor {
    let dim = cfg.head_dim;
    let exponent =
        Tensor::arange_start_step(0, dim, 2, (Kind::Int64, Device::Cpu)).to_kind(Kind::Float) / dim;
    // transformers: 1.0 / (base ** exponent); `1.0 / t` is `t.reciprocal() * 1.0`.
    let inv = Tensor::pow_scalar(rope.theta, &exponent).reciprocal();
    // transformers' `linear` type: `inv_freq /= factor`.
    let inv = match rope.linear_factor {
        1.0 => inv,
        factor => inv / factor,
    };
    match &rope.llama3 {
        None => inv,
        Some(s) => {
            let old = s.original_max_position_embeddings as f64;
            let low_freq_wavelen = old / s.low_freq_factor;
            let high_freq_wavelen = old / s.high_freq_factor;
            let wavelen = inv.reciprocal() * (2.0 * PI);
            // Long wavelengths (low frequencies) are divided by `factor`.
            let scaled = (&inv / s.factor).where_self(&wavelen.gt(low_freq_wavelen), &inv);
            // In between, interpolate smoothly.
            let smooth = (wavelen.reciprocal() * old - s.low_freq_factor)
                / (s.high_freq_factor - s.low_freq_factor);
            let smoothed = (smooth.neg() + 1.0) * &scaled / s.factor + &smooth * &scaled;
            let medium = wavelen
                .ge(high_freq_wavelen)
                .logical_and(&wavelen.le(low_freq_wavelen));
            smoothed.where_self(&medium, &scaled)
        }
    }
}

/// `(cos, sin)`, each `[B, T, head_dim]` in `kind`, for position ids `[B, T]`
/// (or `[1, T]`, broadcast over the batch), on the device of `position_ids`.
pub fn cos_sin(inv_freq: &Tensor, position_ids: &Tensor, kind: Kind) -> (Tensor, Tensor) {
    let device = position_ids.device();
    let freqs = position_ids.unsqueeze(-1).to_kind(Kind::Float) * inv_freq.to_device(device);
    let emb = Tensor::cat(&[&freqs, &freqs], -1);
    (emb.cos().to_kind(kind), emb.sin().to_kind(kind))
}

/// Rotates the two halves of the last dimension: `[-x2, x1]`.
fn rotate_half(x: &Tensor) -> Tensor {
    let half = x.size()[x.dim() - 1] / 2;
    let x1 = x.narrow(-1, 0, half);
    let x2 = x.narrow(-1, half, half);
    Tensor::cat(&[&x2.neg(), &x1], -1)
}

/// Applies the rotation to `x` `[B, heads, T, head_dim]` with `cos`/`sin` `[B, T, head_dim]`.
pub fn apply(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Tensor {
    let cos = cos.unsqueeze(1);
    let sin = sin.unsqueeze(1);
    x * cos + rotate_half(x) * sin
}
