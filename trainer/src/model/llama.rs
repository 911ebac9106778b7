//! The Llama-family forward pass (Llama, Qwen2, Qwen3) as plain functions of the weights, one per unit.
//!
//! Numerics follow transformers: the compute dtype is the dtype of the
//! parameters; RMSNorm upcasts to f32 and casts back before the weight;
//! attention is `scaled_dot_product_attention` (softmax in f32 inside); the
//! logits come out in the compute dtype and the loss upcasts them to f32.

use anyhow::{bail, Result};
use tch::{Kind, Tensor};

use super::ctx::Ctx;
use super::rope;
use super::units::{check_shapes, UnitKind, UnitSpec, EMBED_WEIGHT};
use runconfig::model::LlamaConfig;

/// Runs one unit.
///
/// * `params`: the unit's own parameters, in the order of `unit.params`, in
///   the compute dtype (they set it).
/// * `tied_embedding`: the embedding matrix `[V, H]` when `unit.uses_embedding`
///   (the head of a tied model), else `None`.
/// * `input`: token ids `[B, T]` (i64) for the embedding, hidden states
///   `[B, T, H]` in the compute dtype for the other units.
///
/// Returns hidden states `[B, T, H]`, or logits `[B, T, V]` for the head, in
/// the compute dtype. Autograd records the ops when it is enabled, so the same
/// call serves the no-grad forward and the recompute of the backward.
pub fn forward_unit(
    cfg: &LlamaConfig,
    unit: &UnitSpec,
    params: &[Tensor],
    tied_embedding: Option<&Tensor>,
    input: &Tensor,
    ctx: &Ctx,
) -> Result<Tensor> {
    check_shapes(unit, params)?;
    if unit.uses_embedding != tied_embedding.is_some() {
        bail!(
            "unit {} ({:?}): the tied embedding must be given exactly when `uses_embedding` ({})",
            unit.index,
            unit.kind,
            unit.uses_embedding
        );
    }
    match unit.kind {
        UnitKind::Embedding => {
            if input.kind() != Kind::Int64 || input.dim() != 2 {
                bail!(
                    "embedding: expected token ids [B, T] of kind Int64, got {:?} {:?}",
                    input.size(),
                    input.kind()
                );
            }
            let pad = cfg
                .pad_token_id
                .filter(|&p| (0..cfg.vocab_size).contains(&p));
            Ok(Tensor::embedding(
                &params[0],
                input,
                pad.unwrap_or(-1),
                false,
                false,
            ))
        }
        UnitKind::Block(_) => {
            check_hidden(cfg, input, params[0].kind())?;
            if ctx.kind() != input.kind() {
                bail!(
                    "the context was built for {:?} but the block computes in {:?}",
                    ctx.kind(),
                    input.kind()
                );
            }
            Ok(block(cfg, params, input, ctx))
        }
        UnitKind::Head => {
            check_hidden(cfg, input, params[0].kind())?;
            let lm_head = lm_head(cfg, params, tied_embedding)?;
            let x = rms_norm(input, &params[0], cfg.rms_norm_eps);
            Ok(x.linear::<&Tensor>(lm_head, None))
        }
    }
}

/// The head's output matrix (the tied embedding when given), checked to be
/// `[vocab, hidden]`.
pub fn lm_head<'a>(
    cfg: &LlamaConfig,
    params: &'a [Tensor],
    tied: Option<&'a Tensor>,
) -> Result<&'a Tensor> {
    let lm_head = tied.unwrap_or_else(|| &params[1]);
    if lm_head.size() != [cfg.vocab_size, cfg.hidden_size] {
        bail!(
            "{EMBED_WEIGHT}: expected shape [{}, {}], found {:?}",
            cfg.vocab_size,
            cfg.hidden_size,
            lm_head.size()
        );
    }
    Ok(lm_head)
}

fn check_hidden(cfg: &LlamaConfig, x: &Tensor, kind: Kind) -> Result<()> {
    let size = x.size();
    if size.len() != 3 || size[2] != cfg.hidden_size || x.kind() != kind {
        bail!(
            "expected hidden states [B, T, {}] of kind {kind:?}, got {size:?} {:?}",
            cfg.hidden_size,
            x.kind()
        );
    }
    Ok(())
}

/// RMSNorm as transformers computes it: in f32, cast back, times the weight.
pub fn rms_norm(x: &Tensor, weight: &Tensor, eps: f64) -> Tensor {
    let kind = x.kind();
    let xf = x.to_kind(Kind::Float);
    let var = xf.square().mean_dim(-1, true, Kind::Float);
    let normed = xf * (var + eps).rsqrt();
    weight * normed.to_kind(kind)
}

/// One decoder block; `p` in the order of [`units`] (q, k, v, o projections
/// with their optional biases, gate, up, down, the two norms, then Qwen3's
/// q and k norms).
fn block(cfg: &LlamaConfig, p: &[Tensor], x: &Tensor, ctx: &Ctx) -> Tensor {
    let mut it = p.iter();
    let mut next = || it.next().expect("parameter count checked");
    let mut proj = |bias: bool| {
        let w = next();
        (w, if bias { Some(next()) } else { None })
    };
    let q = proj(cfg.qkv_bias);
    let k = proj(cfg.qkv_bias);
    let v = proj(cfg.qkv_bias);
    let o = proj(cfg.o_bias);
    let gate = proj(false).0;
    let up = proj(false).0;
    let down = proj(false).0;
    let input_norm = proj(false).0;
    let post_norm = proj(false).0;
    let qk_norm = cfg.qk_norm.then(|| (proj(false).0, proj(false).0));
    let attn = Attention {
        q,
        k,
        v,
        o,
        qk_norm,
    };

    let h = rms_norm(x, input_norm, cfg.rms_norm_eps);
    let h = x + attention(cfg, &h, &attn, ctx);
    let m = rms_norm(&h, post_norm, cfg.rms_norm_eps);
    let mlp = (m.linear::<&Tensor>(gate, None).silu() * m.linear::<&Tensor>(up, None))
        .linear::<&Tensor>(down, None);
    h + mlp
}

type Proj<'a> = (&'a Tensor, Option<&'a Tensor>);

/// A block's attention weights: the four projections and, for Qwen3, the
/// per-head RMSNorm weights of queries and keys.
struct Attention<'a> {
    q: Proj<'a>,
    k: Proj<'a>,
    v: Proj<'a>,
    o: Proj<'a>,
    qk_norm: Option<(&'a Tensor, &'a Tensor)>,
}

/// Self-attention with rotary positions and grouped-query heads.
fn attention(cfg: &LlamaConfig, x: &Tensor, w: &Attention, ctx: &Ctx) -> Tensor {
    let (b, t, _) = x.size3().expect("checked [B, T, H]");
    let heads = |p: Proj, n: i64| x.linear(p.0, p.1).view([b, t, n, cfg.head_dim]);
    let q = heads(w.q, cfg.num_attention_heads);
    let k = heads(w.k, cfg.num_key_value_heads);
    let v = heads(w.v, cfg.num_key_value_heads).transpose(1, 2);
    // Qwen3 normalises each head over head_dim before the rotation, as
    // transformers' Qwen3Attention does (same RMSNorm, same eps).
    let (q, k) = match w.qk_norm {
        Some((qn, kn)) => (
            rms_norm(&q, qn, cfg.rms_norm_eps),
            rms_norm(&k, kn, cfg.rms_norm_eps),
        ),
        None => (q, k),
    };
    let q = rope::apply(&q.transpose(1, 2), &ctx.cos, &ctx.sin);
    let k = rope::apply(&k.transpose(1, 2), &ctx.cos, &ctx.sin);
    let y = Tensor::scaled_dot_product_attention(
        &q,
        &k,
        &v,
        ctx.mask.as_ref(),
        0.0,
        ctx.mask.is_none(),
        None,
        cfg.kv_groups() > 1,
    );
    y.transpose(1, 2)
        .reshape([b, t, cfg.num_attention_heads * cfg.head_dim])
        .linear(w.o.0, w.o.1)
}

/// `labels[:, 1:]` followed by a column of -100: the target of every position.
pub fn shifted_labels(labels: &Tensor) -> Tensor {
    let b = labels.size()[0];
    let pad = Tensor::full([b, 1], -100, (Kind::Int64, labels.device()));
    Tensor::cat(&[labels.narrow(1, 1, labels.size()[1] - 1), pad], 1)
}
