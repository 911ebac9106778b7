//! Whole-model references for tests: every weight by name, the model run
//! from them in one pass, the plain token loss and the parameter count.
//! Training never calls these (it loads and runs unit by unit, and its loss
//! is the chunked head's); the parity tests compare it against them and
//! against transformers.

use std::collections::HashMap;

use anyhow::{Context, Result};
use runconfig::model::LlamaConfig;
use tch::{Device, Kind, Reduction, Tensor};

use super::ctx::Ctx;
use super::llama::{forward_unit, shifted_labels};
use super::source::ParamSource;
use super::units::{units, UnitSpec, EMBED_WEIGHT};

/// The whole model on token ids `[B, T]` with positions `0..T` and causal
/// attention, from weights by HF name (e.g. from [`load_named`]).
pub fn forward(
    cfg: &LlamaConfig,
    weights: &HashMap<String, Tensor>,
    input_ids: &Tensor,
) -> Result<Tensor> {
    let embed = weights
        .get(EMBED_WEIGHT)
        .with_context(|| format!("weight {EMBED_WEIGHT} missing"))?;
    let t = input_ids.size().last().copied().unwrap_or(0);
    let ctx = Ctx::causal(cfg, t, embed.kind(), input_ids.device());
    forward_with_ctx(cfg, weights, input_ids, &ctx)
}

/// Like [`forward`], with the caller's positions and mask.
pub fn forward_with_ctx(
    cfg: &LlamaConfig,
    weights: &HashMap<String, Tensor>,
    input_ids: &Tensor,
    ctx: &Ctx,
) -> Result<Tensor> {
    let get = |name: &str| {
        weights
            .get(name)
            .map(|t| t.shallow_clone())
            .with_context(|| format!("weight {name} missing"))
    };
    let mut x = input_ids.shallow_clone();
    for unit in units(cfg) {
        let params = unit
            .params
            .iter()
            .map(|p| get(&p.name))
            .collect::<Result<Vec<_>>>()?;
        let tied = if unit.uses_embedding {
            Some(get(EMBED_WEIGHT)?)
        } else {
            None
        };
        x = forward_unit(cfg, &unit, &params, tied.as_ref(), &x, ctx)?;
    }
    Ok(x)
}

/// Shifted causal-LM cross-entropy: position `t` predicts `labels[t + 1]`;
/// labels equal to -100 are ignored. Returns the SUM of the token losses (an
/// f32 scalar, differentiable) and the number of target tokens; the caller
/// divides by the global number of targets.
pub fn token_loss_sum(logits: &Tensor, labels: &Tensor) -> (Tensor, i64) {
    let (b, t, v) = logits.size3().expect("logits must be [B, T, V]");
    assert_eq!(
        labels.size(),
        [b, t],
        "labels must be [B, T] like the logits"
    );
    if t < 2 {
        let zero = logits.to_kind(Kind::Float).sum(Kind::Float) * 0.0;
        return (zero, 0);
    }
    // Shift the labels, not the logits (as transformers 5 does): the logits
    // stay one contiguous [B*T, V] view, with no copy forward or backward.
    let lg = logits.to_kind(Kind::Float).reshape([-1, v]);
    let target = shifted_labels(labels).reshape([-1]);
    let loss = lg.cross_entropy_loss::<Tensor>(&target, None, Reduction::Sum, -100, 0.0);
    let n = target.ne(-100).sum(Kind::Int64).int64_value(&[]);
    (loss, n)
}

/// A unit's parameters, whole, in `kind` on `device`, in the order of `unit.params`.
fn load_unit(
    source: &dyn ParamSource,
    unit: &UnitSpec,
    kind: Kind,
    device: Device,
) -> Result<Vec<Tensor>> {
    unit.params
        .iter()
        .map(|p| Ok(source.read(p)?.to_device(device).to_kind(kind)))
        .collect()
}

/// Every parameter of the model by HF name, in `kind` on `device` (for tests
/// and single-process use; the engine loads shards with [`read_unit_range`]).
pub fn load_named(
    cfg: &LlamaConfig,
    source: &dyn ParamSource,
    kind: Kind,
    device: Device,
) -> Result<HashMap<String, Tensor>> {
    let mut out = HashMap::new();
    for unit in units(cfg) {
        for (p, t) in unit
            .params
            .iter()
            .zip(load_unit(source, &unit, kind, device)?)
        {
            out.insert(p.name.clone(), t);
        }
    }
    Ok(out)
}

/// Number of parameters of the model (the embedding counted once when tied).
pub fn num_params(cfg: &LlamaConfig) -> i64 {
    units(cfg).iter().map(UnitSpec::numel).sum()
}
