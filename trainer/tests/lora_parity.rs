//! LoRA against PEFT on the tiny references of `scripts/make-lora-references`:
//! a PEFT adapter loads under PEFT's names, the model with it gives PEFT's
//! logits (and the base alone the base's), and five AdamW steps on the
//! adapters alone, the base frozen, give PEFT's losses, gradient norms and
//! trained adapters.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::parity::train_like_torch;
use common::{lora_refs, read_tensors, rel_err};
use tch::{Device, Kind, Tensor};
use trainer::model::testing::{forward, forward_with_ctx, load_named};
use trainer::model::{
    is_adapter, Ctx, LlamaConfig, PeftAdapter, SafetensorsWeights, WithAdapters, PEFT_PREFIX,
};

const TOL: f64 = 1e-4;

/// The base's config with the variant's initial adapter, and every weight by name.
fn load(dir: &Path) -> (LlamaConfig, HashMap<String, Tensor>) {
    let base_cfg = LlamaConfig::load(dir.join("base/config.json")).unwrap();
    let adapter = PeftAdapter::open(&dir.join("adapter"), base_cfg.num_hidden_layers).unwrap();
    let cfg = adapter.apply(&base_cfg);
    let base = SafetensorsWeights::open(dir.join("base")).unwrap();
    let source = WithAdapters {
        base: &base,
        adapters: &adapter,
    };
    let named = load_named(&cfg, &source, Kind::Float, Device::Cpu).unwrap();
    (cfg, named)
}

fn check_forward(name: &str) {
    let dir = lora_refs().join(name);
    let (cfg, named) = load(&dir);
    let r = read_tensors(&dir.join("reference.safetensors"));
    let t = r["input_ids"].size()[1];
    let ctx = Ctx::causal(&cfg, t, Kind::Float, Device::Cpu);
    let logits = forward_with_ctx(&cfg, &named, &r["input_ids"], &ctx).unwrap();
    let err = rel_err(&logits, &r["logits"]);
    let base_cfg = LlamaConfig { lora: None, ..cfg };
    let base = forward(&base_cfg, &named, &r["input_ids"]).unwrap();
    let base_err = rel_err(&base, &r["base_logits"]);
    println!("{name}: logits rel err {err:.2e}, base alone {base_err:.2e}");
    assert!(err < TOL, "{name}: logits rel err {err:e}");
    assert!(base_err < TOL, "{name}: base logits rel err {base_err:e}");
}

/// Five steps of torch.optim.AdamW on the adapters (all matrices, so all
/// decayed, as the Trainer's groups make them), the base frozen.
fn check_training(name: &str) {
    let dir = lora_refs().join(name);
    let (cfg, named) = load(&dir);
    let t = read_tensors(&dir.join("train.safetensors"));
    let names: Vec<String> = named.keys().filter(|n| is_adapter(n)).cloned().collect();
    let params = train_like_torch(name, &cfg, &named, &names, &t);
    let after = read_tensors(&dir.join("after-steps/adapter_model.safetensors"));
    for (n, p) in names.iter().zip(&params) {
        let want = &after[&format!("{PEFT_PREFIX}{n}")];
        let diff = (p - want).abs().max().double_value(&[]);
        assert!(diff < TOL, "{name} {n}: differs from PEFT's by {diff:e}");
    }
    println!(
        "{name}: {} adapters trained as PEFT trains them",
        names.len()
    );
}

#[test]
fn forward_parity_llama_all_projections() {
    check_forward("llama_all");
}

#[test]
fn forward_parity_qwen2_rslora_q_v() {
    check_forward("qwen2_rslora");
}

#[test]
fn training_parity_llama_all_projections() {
    check_training("llama_all");
}

#[test]
fn training_parity_qwen2_rslora_q_v() {
    check_training("qwen2_rslora");
}
