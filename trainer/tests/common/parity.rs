//! The parity checks against transformers' references: the forward pass
//! (f32 and bf16 logits, the loss) and five AdamW steps with the Trainer's
//! decay groups.

use std::collections::HashMap;
use std::path::Path;

use super::{read_tensors, rel_err, variant};
use tch::{Device, Kind, Tensor};
use trainer::model::testing::{forward, forward_with_ctx, load_named, token_loss_sum};
use trainer::model::{Ctx, LlamaConfig, SafetensorsWeights};

/// Logits and loss relative tolerance in f32.
pub const TOL: f64 = 1e-4;

pub fn load(dir: &Path, kind: Kind) -> (LlamaConfig, HashMap<String, Tensor>) {
    let cfg = LlamaConfig::load(dir.join("config.json")).unwrap();
    let weights = SafetensorsWeights::open(dir).unwrap();
    let named = load_named(&cfg, &weights, kind, Device::Cpu).unwrap();
    (cfg, named)
}

pub fn check_forward(name: &str) {
    let dir = variant(name);
    let (cfg, named) = load(&dir, Kind::Float);
    let r = read_tensors(&dir.join("reference.safetensors"));
    let ctx = Ctx::with_positions(&cfg, &r["position_ids"], Kind::Float);
    let logits = forward_with_ctx(&cfg, &named, &r["input_ids"], &ctx).unwrap();
    let logit_err = rel_err(&logits, &r["logits"]);

    let (loss_sum, n) = token_loss_sum(&logits, &r["labels"]);
    assert_eq!(n, r["n_targets"].int64_value(&[]), "{name}: target count");
    let sum_err = rel_err(&loss_sum, &r["loss_sum"]);
    let mean = loss_sum.double_value(&[]) / n as f64;
    let hf_mean = r["loss_mean"].double_value(&[]);
    let mean_err = (mean - hf_mean).abs() / hf_mean.abs();
    println!("{name}: logits rel err {logit_err:.2e}, loss sum {sum_err:.2e}, mean {mean_err:.2e}");
    assert!(logit_err < TOL, "{name}: logits rel err {logit_err:e}");
    assert!(sum_err < TOL, "{name}: loss sum rel err {sum_err:e}");
    assert!(mean_err < TOL, "{name}: loss mean rel err {mean_err:e}");

    // bf16 compute against transformers in bf16: same recipe, rounding apart.
    let (_, named16) = load(&dir, Kind::BFloat16);
    let ctx16 = Ctx::with_positions(&cfg, &r["position_ids"], Kind::BFloat16);
    let logits16 = forward_with_ctx(&cfg, &named16, &r["input_ids"], &ctx16).unwrap();
    assert_eq!(logits16.kind(), Kind::BFloat16);
    let ours = rel_err(&logits16, &r["logits"]);
    let hf = rel_err(&r["logits_bf16"], &r["logits"]);
    let between = rel_err(&logits16, &r["logits_bf16"]);
    println!("{name}: bf16 logits vs f32: ours {ours:.2e}, transformers {hf:.2e}; ours vs transformers {between:.2e}");
    assert!(
        ours < 1.5 * hf,
        "{name}: bf16 error {ours:e} vs transformers' {hf:e}"
    );
}

/// The steps of `train.safetensors` with torch.optim.AdamW (lr 1e-3,
/// weight decay 0.01 on the matrices only, as transformers' Trainer groups
/// them, gradients clipped to norm 1) on the parameters `names` of
/// `named`, the rest frozen, on gradients from autograd through our
/// forward; each step's loss and gradient norm must be the reference's.
/// Gives the trained parameters, in `names` order.
pub fn train_like_torch(
    label: &str,
    cfg: &LlamaConfig,
    named: &HashMap<String, Tensor>,
    names: &[String],
    t: &HashMap<String, Tensor>,
) -> Vec<Tensor> {
    let params: Vec<Tensor> = names
        .iter()
        .map(|n| named[n].set_requires_grad(true))
        .collect();
    let mut m: Vec<Tensor> = params.iter().map(Tensor::zeros_like).collect();
    let mut v: Vec<Tensor> = params.iter().map(Tensor::zeros_like).collect();
    let (lr, b1, b2, eps, wd) = (1e-3, 0.9f64, 0.999f64, 1e-8, 0.01);
    let close = |what: &str, step: i64, got: f64, key: &str| {
        let want = t[key].double_value(&[step]);
        assert!(
            (got - want).abs() / want < TOL,
            "{label} step {step}: {what} {got} vs {want}"
        );
    };
    for step in 0..t["losses"].size()[0] {
        let logits = forward(cfg, named, &t["input_ids"].get(step)).unwrap();
        let (sum, n) = token_loss_sum(&logits, &t["labels"].get(step));
        let loss = sum / n as f64;
        close("loss", step, loss.double_value(&[]), "losses");
        let grads = Tensor::run_backward(&[&loss], &params, false, false);
        let norm = grads
            .iter()
            .map(|g| g.square().sum(Kind::Float))
            .fold(Tensor::zeros([], (Kind::Float, Device::Cpu)), |a, b| a + b)
            .sqrt();
        close("grad norm", step, norm.double_value(&[]), "grad_norms");
        let coef = (&norm + 1e-6).reciprocal().clamp_max(1.0);
        let k = (step + 1) as i32;
        let (bc1, bc2) = (1.0 - b1.powi(k), 1.0 - b2.powi(k));
        tch::no_grad(|| {
            for (i, p) in params.iter().enumerate() {
                let g = &grads[i] * &coef;
                let mut p = p.shallow_clone();
                // transformers' Trainer groups: decay on the matrices only.
                if p.dim() >= 2 {
                    let _ = p.g_mul_scalar_(1.0 - lr * wd);
                }
                m[i] = &m[i] * b1 + &g * (1.0 - b1);
                v[i] = &v[i] * b2 + g.square() * (1.0 - b2);
                let denom = v[i].sqrt() / bc2.sqrt() + eps;
                let _ = p.g_sub_(&(&m[i] / denom * (lr / bc1)));
            }
        });
    }
    params
}

/// Five steps as transformers' training ran them (`train_like_torch` on
/// every parameter): checks the backward path, tied embeddings and the
/// padding row against transformers' training.
pub fn check_training(name: &str) {
    let dir = variant(name);
    let (cfg, named) = load(&dir, Kind::Float);
    let t = read_tensors(&dir.join("train.safetensors"));
    let names: Vec<String> = named.keys().cloned().collect();
    let params = train_like_torch(name, &cfg, &named, &names, &t);
    let steps = t["losses"].size()[0];
    let after = read_tensors(&dir.join("after-steps/model.safetensors"));
    let weights = SafetensorsWeights::open(&dir).unwrap();
    let initial = load_named(&cfg, &weights, Kind::Float, Device::Cpu).unwrap();
    let (mut worst_max, mut worst_rel) = ((0.0, String::new()), (0.0, String::new()));
    for (n, p) in names.iter().zip(&params) {
        let want = &after[n];
        // The training moved each weight by about lr per step; Adam divides
        // tiny gradients by their tiny RMS, so float noise in them shows up
        // as a fraction of one step: compare against the update itself.
        let diff = (p - want).abs().max().double_value(&[]);
        let update = (want - &initial[n]).norm().double_value(&[]);
        let rel = (p - want).norm().double_value(&[]) / update;
        if diff > worst_max.0 {
            worst_max = (diff, n.clone());
        }
        if rel > worst_rel.0 {
            worst_rel = (rel, n.clone());
        }
    }
    println!(
        "{name}: {steps} AdamW steps; worst weight diff {:.2e} ({}), worst |diff|/|update| {:.2e} ({})",
        worst_max.0, worst_max.1, worst_rel.0, worst_rel.1
    );
    assert!(
        worst_max.0 < 1e-4,
        "{name}: weights differ by {:e} in {}",
        worst_max.0,
        worst_max.1
    );
    assert!(
        worst_rel.0 < 1e-3,
        "{name}: |diff|/|update| {:e} in {}",
        worst_rel.0,
        worst_rel.1
    );
}
