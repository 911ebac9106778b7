//! Self-attention of one decoder block: rotary positions, grouped-query
//! heads, the family's query and key norms, and Gemma's query scale.

use runconfig::model::{LlamaConfig, QkNorm};
use tch::Tensor;

use super::ctx::LayerCtx;
use super::linear::Linear;
use super::norm::norm;
use super::rope;

/// A block's attention weights: the four projections and, when the family
/// has them, the RMSNorm weights of queries and keys.
pub struct Weights<'a> {
    pub q: Linear<'a>,
    pub k: Linear<'a>,
    pub v: Linear<'a>,
    pub o: Linear<'a>,
    pub qk_norm: Option<(&'a Tensor, &'a Tensor)>,
}

/// Self-attention of `x` `[B, T, H]` with the layer's rotation and mask.
pub fn attention(cfg: &LlamaConfig, x: &Tensor, w: &Weights, ctx: &LayerCtx) -> Tensor {
    let (b, t, _) = x.size3().expect("checked [B, T, H]");
    let hd = cfg.head_dim;
    let (mut q, mut k) = (w.q.apply(x), w.k.apply(x));
    // OLMo 2 normalises the whole projections, before the split into heads.
    if let (QkNorm::Whole, Some((qn, kn))) = (cfg.family.qk_norm(), w.qk_norm) {
        (q, k) = (norm(cfg, &q, qn), norm(cfg, &k, kn));
    }
    let q = q.view([b, t, cfg.num_attention_heads, hd]);
    let k = k.view([b, t, cfg.num_key_value_heads, hd]);
    let v =
        w.v.apply(x)
            .view([b, t, cfg.num_key_value_heads, hd])
            .transpose(1, 2);
    // Qwen3 and Gemma 3 normalise each head over head_dim.
    let (q, k) = match (cfg.family.qk_norm(), w.qk_norm) {
        (QkNorm::PerHead, Some((qn, kn))) => (norm(cfg, &q, qn), norm(cfg, &k, kn)),
        _ => (q, k),
    };
    let kind = x.kind();
    let q = rope::apply(&q.transpose(1, 2), &ctx.cos, &ctx.sin).to_kind(kind);
    let k = rope::apply(&k.transpose(1, 2), &ctx.cos, &ctx.sin).to_kind(kind);
    // Gemma scales the scores by query_pre_attn_scalar^-1/2.
    let scale =
        (cfg.query_pre_attn_scalar != hd as f64).then(|| cfg.query_pre_attn_scalar.powf(-0.5));
    let y = Tensor::scaled_dot_product_attention(
        &q,
        &k,
        &v,
        ctx.mask.as_ref(),
        0.0,
        ctx.mask.is_none(),
        scale,
        cfg.kv_groups() > 1,
    );
    w.o.apply(
        &y.transpose(1, 2)
            .reshape([b, t, cfg.num_attention_heads * hd]),
    )
}
