//! The Llama-family forward pass (Llama, Qwen2, Qwen3, Mistral, OLMo 2,
//! Gemma 3) as plain functions of the weights, one per unit.
//!
//! Numerics follow transformers: the compute dtype is the dtype of the
//! parameters; RMSNorm upcasts to f32 and applies its weight as the family
//! does (`norm`); attention is `scaled_dot_product_attention` (softmax in
//! f32 inside), or transformers' eager recipe when scores are soft-capped
//! (`attention`); the logits come out in the compute dtype (soft-capped
//! there when the family caps them) and the loss upcasts them to f32.

use anyhow::{bail, Result};
use tch::{Kind, Tensor};

use super::block::block;
use super::ctx::Ctx;
use super::norm::norm;
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
            Ok(embed(cfg, &params[0], input))
        }
        UnitKind::Block(layer) => {
            check_hidden(cfg, input, params[0].kind())?;
            if ctx.kind() != input.kind() {
                bail!(
                    "the context was built for {:?} but the block computes in {:?}",
                    ctx.kind(),
                    input.kind()
                );
            }
            Ok(block(cfg, layer, params, input, ctx))
        }
        UnitKind::Head => {
            check_hidden(cfg, input, params[0].kind())?;
            let lm_head = lm_head(cfg, params, tied_embedding)?;
            let x = norm(cfg, input, &params[0]);
            Ok(logits(cfg, &x, lm_head))
        }
    }
}

/// The embedding of token ids (no gradient to the padding row), scaled by
/// sqrt(hidden_size) rounded to the compute dtype for Gemma.
fn embed(cfg: &LlamaConfig, weight: &Tensor, ids: &Tensor) -> Tensor {
    let pad = cfg
        .pad_token_id
        .filter(|&p| (0..cfg.vocab_size).contains(&p));
    let x = Tensor::embedding(weight, ids, pad.unwrap_or(-1), false, false);
    match cfg.family.scales_embedding() {
        false => x,
        true => {
            let scale = (cfg.hidden_size as f64).sqrt();
            let scale = Tensor::scalar_tensor(scale, (Kind::Float, x.device()));
            x * scale.to_kind(weight.kind())
        }
    }
}

/// The logits of normalised hidden states, in their dtype, soft-capped
/// (`cap * tanh(logits / cap)`) when the model caps them.
pub fn logits(cfg: &LlamaConfig, x: &Tensor, lm_head: &Tensor) -> Tensor {
    let logits = x.linear::<&Tensor>(lm_head, None);
    match cfg.final_logit_softcapping {
        None => logits,
        Some(cap) => (logits / cap).tanh() * cap,
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

/// `labels[:, 1:]` followed by a column of -100: the target of every position.
pub fn shifted_labels(labels: &Tensor) -> Tensor {
    let b = labels.size()[0];
    let pad = Tensor::full([b, 1], -100, (Kind::Int64, labels.device()));
    Tensor::cat(&[labels.narrow(1, 1, labels.size()[1] - 1), pad], 1)
}
