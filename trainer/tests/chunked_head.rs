//! The head and the loss over chunks of tokens give the loss and the
//! gradients (of the head's input, the norm and the LM head matrix) of the
//! whole-logits computation, for the causal-LM loss and for DPO, on the
//! reference checkpoints with a chunk size that divides neither the sequence
//! nor the batch's tokens.

mod common;

use common::{read_tensors, rel_err, variant};
use runconfig::DpoLossType;
use tch::{Device, Kind, Tensor};
use trainer::dpo::loss::PairLoss;
use trainer::dpo::Dpo;
use trainer::model::testing::load_named;
use trainer::model::{
    forward_unit, head_backward, head_nll, units, Ctx, Head, LlamaConfig, SafetensorsWeights,
    EMBED_WEIGHT,
};
use trainer::objective::{Batch, CausalLm, Objective};

/// Relative tolerance in f32.
const TOL: f64 = 1e-5;

/// Tokens per chunk: 7 divides neither T nor B * T of the reference batches.
const CHUNK: i64 = 7;

/// Loss value and gradients of the norm weight, the LM head matrix and the
/// head's input.
struct Result4 {
    loss: f64,
    norm: Tensor,
    lm_head: Tensor,
    input: Tensor,
}

/// The head's weights (norm, LM head matrix) and input hidden states of
/// the reference batch of `name`, with the batch.
fn setup(name: &str) -> (LlamaConfig, Vec<Tensor>, Tensor, Batch) {
    let dir = variant(name);
    let cfg = LlamaConfig::load(dir.join("config.json")).unwrap();
    let named = load_named(
        &cfg,
        &SafetensorsWeights::open(&dir).unwrap(),
        Kind::Float,
        Device::Cpu,
    )
    .unwrap();
    let r = read_tensors(&dir.join("reference.safetensors"));
    let ctx = Ctx::with_positions(&cfg, &r["position_ids"], Kind::Float);
    let specs = units(&cfg);
    let mut x = r["input_ids"].shallow_clone();
    for unit in &specs[..specs.len() - 1] {
        let params: Vec<Tensor> = unit
            .params
            .iter()
            .map(|p| named[&p.name].shallow_clone())
            .collect();
        x = forward_unit(&cfg, unit, &params, None, &x, &ctx).unwrap();
    }
    let head = &specs[specs.len() - 1];
    let mut weights = vec![named["model.norm.weight"].shallow_clone()];
    let lm = if head.uses_embedding {
        EMBED_WEIGHT
    } else {
        "lm_head.weight"
    };
    weights.push(named[lm].shallow_clone());
    let (b, t, _) = x.size3().unwrap();
    assert!(t % CHUNK != 0 && (b * t) % CHUNK != 0, "{name}: {b} x {t}");
    let batch = Batch {
        input_ids: r["input_ids"].shallow_clone(),
        labels: r["labels"].shallow_clone(),
        position_ids: None,
        segment_ids: None,
        tokens: 0,
    };
    (cfg, weights, x, batch)
}

/// The whole logits through `forward_unit`, the loss, autograd.
fn unchunked(
    cfg: &LlamaConfig,
    w: &[Tensor],
    x: &Tensor,
    batch: &Batch,
    obj: &dyn Objective,
) -> Result4 {
    let specs = units(cfg);
    let head = &specs[specs.len() - 1];
    let leaf = |t: &Tensor| t.detach().set_requires_grad(true);
    let (norm, lm, input) = (leaf(&w[0]), leaf(&w[1]), leaf(x));
    let own = match head.uses_embedding {
        true => vec![norm.shallow_clone()],
        false => vec![norm.shallow_clone(), lm.shallow_clone()],
    };
    let tied = head.uses_embedding.then(|| lm.shallow_clone());
    let ctx = Ctx::causal(cfg, x.size()[1], Kind::Float, Device::Cpu);
    let logits = forward_unit(cfg, head, &own, tied.as_ref(), &input, &ctx).unwrap();
    let (loss, _) = obj.loss(&logits, batch).unwrap();
    let value = loss.double_value(&[]);
    let g = Tensor::run_backward(&[loss], &[&norm, &lm, &input], false, false);
    Result4 {
        loss: value,
        norm: g[0].copy(),
        lm_head: g[1].copy(),
        input: g[2].copy(),
    }
}

/// [`head_nll`], the objective, [`head_backward`], `CHUNK` tokens at a time.
fn chunked(
    cfg: &LlamaConfig,
    w: &[Tensor],
    x: &Tensor,
    batch: &Batch,
    obj: &dyn Objective,
) -> Result4 {
    let specs = units(cfg);
    let unit = &specs[specs.len() - 1];
    let own: Vec<Tensor> = w[..if unit.uses_embedding { 1 } else { 2 }]
        .iter()
        .map(|t| t.shallow_clone())
        .collect();
    let tied = unit.uses_embedding.then(|| w[1].shallow_clone());
    let head = Head {
        cfg,
        unit,
        params: &own,
        tied: tied.as_ref(),
        frozen: false,
    };
    let nll = tch::no_grad(|| head_nll(&head, x, &batch.labels, CHUNK)).unwrap();
    let nll = nll.set_requires_grad(true);
    let (loss, _) = obj.loss_from_nll(&nll, batch).unwrap();
    let value = loss.double_value(&[]);
    let weight = Tensor::run_backward(&[loss], &[&nll], false, false).remove(0);
    let g = head_backward(&head, x, &batch.labels, &weight, CHUNK).unwrap();
    // The backward's own nll is the forward's.
    let d = (&g.nll - nll.detach()).abs().max().double_value(&[]);
    assert!(
        d < 1e-6,
        "head_backward's nll differs from head_nll by {d:e}"
    );
    Result4 {
        loss: value,
        norm: g.norm.unwrap(),
        lm_head: g.lm_head.unwrap(),
        input: g.input,
    }
}

fn compare(what: &str, a: &Result4, b: &Result4) {
    let loss = (a.loss - b.loss).abs() / b.loss.abs();
    let errs = [
        ("loss", loss),
        ("norm grad", rel_err(&a.norm, &b.norm)),
        ("head grad", rel_err(&a.lm_head, &b.lm_head)),
        ("input grad", rel_err(&a.input, &b.input)),
    ];
    println!("{what}: {errs:?}");
    for (name, e) in errs {
        assert!(e < TOL, "{what}: {name} rel err {e:e}");
    }
    assert!(
        b.lm_head.abs().max().double_value(&[]) > 0.0,
        "{what}: zero gradient"
    );
}

fn check(name: &str) {
    let (cfg, w, x, batch) = setup(name);
    let targets = batch
        .labels
        .narrow(1, 1, batch.labels.size()[1] - 1)
        .ne(-100)
        .sum(Kind::Int64);
    let lm = CausalLm {
        norm: targets.int64_value(&[]),
    };
    compare(
        &format!("{name} causal lm"),
        &chunked(&cfg, &w, &x, &batch, &lm),
        &unchunked(&cfg, &w, &x, &batch, &lm),
    );
    // DPO on the same rows: the first half chosen, the second rejected
    // (summed log-probs, and WPO's per-token means and weights).
    let m = batch.labels.size()[0] / 2;
    let (x2, batch2) = (
        x.narrow(0, 0, 2 * m),
        Batch {
            labels: batch.labels.narrow(0, 0, 2 * m),
            ..batch
        },
    );
    for kind in [DpoLossType::Dpo, DpoLossType::Wpo] {
        let dpo = Dpo {
            loss: PairLoss {
                kind,
                beta: 0.5,
                label_smoothing: 0.1,
                simpo_gamma: 0.0,
            },
            pairs: m,
            reference: Some((
                Tensor::full([m], -30.0, (Kind::Float, Device::Cpu)),
                Tensor::full([m], -25.0, (Kind::Float, Device::Cpu)),
            )),
        };
        compare(
            &format!("{name} {kind}"),
            &chunked(&cfg, &w, &x2, &batch2, &dpo),
            &unchunked(&cfg, &w, &x2, &batch2, &dpo),
        );
    }
}

#[test]
fn chunked_head_matches_whole_logits_gqa() {
    check("gqa");
}

#[test]
fn chunked_head_matches_whole_logits_tied_embeddings() {
    check("tied");
}

#[test]
fn chunked_head_matches_whole_logits_qwen2_bias() {
    check("qwen2_bias");
}

#[test]
fn chunked_head_matches_whole_logits_qwen3() {
    check("qwen3");
}

#[test]
fn chunked_head_matches_whole_logits_gemma3_final_softcap() {
    check("gemma3");
}
