//! The head (final norm + LM head) with the cross-entropy, over chunks of
//! the micro-batch's tokens: the `[tokens, vocab]` logits and their gradient
//! only ever exist for one chunk at a time.
//!
//! Training runs it in two passes. [`head_nll`] computes every token's
//! negative log-likelihood without autograd; the objective turns those into
//! the loss and its gradient per token; [`head_backward`] then recomputes
//! each chunk's logits with autograd and backpropagates the chunk's share
//! of that gradient into the normalised hidden states and the head matrix
//! before the next chunk is computed. Summing the chunks gives the
//! gradients of the whole-sequence loss. When the loss is a constant times
//! the nll's sum (pretraining and SFT), its gradient per token is known
//! first and [`head_backward`] alone does both: it returns the nll too.

use anyhow::{bail, Result};
use tch::{Kind, Reduction, Tensor};

use super::llama::{lm_head, logits, shifted_labels};
use super::norm::norm;
use super::units::{check_shapes, UnitKind, UnitSpec};
use runconfig::model::LlamaConfig;

/// Gradients of the head from [`head_backward`], in the compute dtype.
pub struct HeadGrads {
    /// Of `model.norm.weight`, `[H]` (none for a frozen head).
    pub norm: Option<Tensor>,
    /// Of the LM head matrix `[V, H]` (the embedding when tied; none for a
    /// frozen head).
    pub lm_head: Option<Tensor>,
    /// Of the head's input hidden states, `[B, T, H]`.
    pub input: Tensor,
    /// Every token's negative log-likelihood, as [`head_nll`] computes it,
    /// found on the way (f32 `[B, T]`).
    pub nll: Tensor,
}

/// The head unit and its weights.
pub struct Head<'a> {
    pub cfg: &'a LlamaConfig,
    /// The last unit of [`super::units`].
    pub unit: &'a UnitSpec,
    /// Its own parameters, in the compute dtype.
    pub params: &'a [Tensor],
    /// The embedding matrix when the unit `uses_embedding`, else `None`.
    pub tied: Option<&'a Tensor>,
    /// Whether its weights (and the tied embedding) are frozen: then
    /// [`head_backward`] computes the input's gradient only.
    pub frozen: bool,
}

/// The norm weight and the LM head matrix of the head unit, checked.
fn parts<'a>(head: &Head<'a>, input: &Tensor) -> Result<(&'a Tensor, &'a Tensor)> {
    let Head {
        cfg,
        unit,
        params,
        tied,
        ..
    } = *head;
    check_shapes(unit, params)?;
    if unit.kind != UnitKind::Head || unit.uses_embedding != tied.is_some() {
        bail!(
            "unit {} ({:?}) is not a head with the tied embedding given exactly when it uses one",
            unit.index,
            unit.kind
        );
    }
    let lm_head = lm_head(cfg, params, tied)?;
    let size = input.size();
    if size.len() != 3 || size[2] != cfg.hidden_size || input.kind() != params[0].kind() {
        bail!(
            "expected hidden states [B, T, {}] of kind {:?}, got {size:?} {:?}",
            cfg.hidden_size,
            params[0].kind(),
            input.kind()
        );
    }
    Ok((&params[0], lm_head))
}

/// `(start, len)` of each chunk of `rows` rows, `chunk` at a time.
fn chunks(rows: i64, chunk: i64) -> impl Iterator<Item = (i64, i64)> {
    let chunk = chunk.max(1);
    (0..rows)
        .step_by(chunk as usize)
        .map(move |s| (s, chunk.min(rows - s)))
}

/// The chunks' pieces end to end (the one piece itself when there is one).
fn joined(mut parts: Vec<Tensor>) -> Tensor {
    match parts.len() {
        1 => parts.pop().expect("one part"),
        _ => Tensor::cat(&parts, 0),
    }
}

/// Per-token cross-entropy of `x [N, H]` through `lm_head` against `target [N]`
/// (0 where the target is -100), f32 `[N]`.
fn nll(cfg: &LlamaConfig, x: &Tensor, lm_head: &Tensor, target: &Tensor) -> Tensor {
    let logits = logits(cfg, x, lm_head).to_kind(Kind::Float);
    logits.cross_entropy_loss::<Tensor>(target, None, Reduction::None, -100, 0.0)
}

/// Every token's negative log-likelihood of its shifted label (the causal-LM
/// loss per position, 0 where the target is -100), f32 `[B, T]`, computed
/// `chunk` tokens at a time. Run it under `no_grad`.
pub fn head_nll(head: &Head, input: &Tensor, labels: &Tensor, chunk: i64) -> Result<Tensor> {
    let (norm_w, lm_head) = parts(head, input)?;
    let cfg = head.cfg;
    let (b, t, h) = input.size3()?;
    let x = norm(cfg, input, norm_w).reshape([-1, h]);
    let target = shifted_labels(labels).reshape([-1]);
    let out = Tensor::zeros([b * t], (Kind::Float, input.device()));
    for (s, n) in chunks(b * t, chunk) {
        let piece = nll(cfg, &x.narrow(0, s, n), lm_head, &target.narrow(0, s, n));
        out.narrow(0, s, n).copy_(&piece);
    }
    Ok(out.view([b, t]))
}

/// The gradients of `sum(weight * nll)`, `nll` as [`head_nll`] computes it
/// and `weight` the loss's gradient per token (f32 `[B, T]`), `chunk` tokens
/// at a time: each chunk's logits and their gradient are freed before the
/// next chunk's are computed. A frozen head's weights get no gradient.
pub fn head_backward(
    head: &Head,
    input: &Tensor,
    labels: &Tensor,
    weight: &Tensor,
    chunk: i64,
) -> Result<HeadGrads> {
    let (norm_w, lm_head) = parts(head, input)?;
    let (cfg, trained) = (head.cfg, !head.frozen);
    let (b, t, h) = input.size3()?;
    let leaf = |x: &Tensor| x.detach().set_requires_grad(true);
    let weight_leaf = |x: &Tensor| if trained { leaf(x) } else { x.detach() };
    let (norm_w, input, lm_head) = (weight_leaf(norm_w), leaf(input), weight_leaf(lm_head));
    let normed = norm(cfg, &input, &norm_w).reshape([-1, h]);
    let x = normed.detach();
    let target = shifted_labels(labels).reshape([-1]);
    let weight = weight.to_kind(Kind::Float).reshape([-1]);
    let (mut grad_x, mut nll_out, mut grad_head) = (vec![], vec![], None::<Tensor>);
    for (s, n) in chunks(b * t, chunk) {
        let xc = leaf(&x.narrow(0, s, n));
        let w = weight_leaf(&lm_head);
        let piece = nll(cfg, &xc, &w, &target.narrow(0, s, n));
        let root = (&piece * weight.narrow(0, s, n)).sum(Kind::Float);
        let wrt = if trained { vec![&xc, &w] } else { vec![&xc] };
        let mut g = Tensor::run_backward(&[root], &wrt, false, false);
        if trained {
            grad_head = Some(added(grad_head, g.pop().expect("two gradients")));
        }
        grad_x.push(g.pop().expect("the input's gradient"));
        nll_out.push(piece.detach());
    }
    let (grad_x, nll_out) = (joined(grad_x), joined(nll_out));
    let root = (normed * grad_x).sum(Kind::Float);
    let wrt = if trained {
        vec![&norm_w, &input]
    } else {
        vec![&input]
    };
    let mut g = Tensor::run_backward(&[root], &wrt, false, false);
    let input_grad = g.pop().expect("the input's gradient");
    Ok(HeadGrads {
        norm: g.pop(),
        lm_head: grad_head,
        input: input_grad.view([b, t, h]),
        nll: nll_out.view([b, t]),
    })
}

/// `g` added to `sum` in place (`g` itself when there is no sum yet).
fn added(sum: Option<Tensor>, g: Tensor) -> Tensor {
    match sum {
        None => g,
        Some(mut sum) => {
            let _ = sum.g_add_(&g);
            sum
        }
    }
}
