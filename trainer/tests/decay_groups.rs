//! Weight decay applies to the matrices only, as transformers' Trainer
//! groups the parameters: five AdamW steps on a zero gradient leave biases
//! and norm weights unchanged and shrink the matrices exactly as
//! `torch.optim.AdamW` with `Trainer.get_decay_parameter_names` does, with
//! 32-bit and 8-bit state, at world sizes 1 and 2.

mod common;

use common::{on_ranks, python, read_tensors, scratch, variant};
use runconfig::OptimizerConfig;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use tch::{Device, Kind, Tensor};
use trainer::model::{LlamaConfig, SafetensorsWeights};
use trainer::zero::Engine;

const STEPS: usize = 5;
const LR: f64 = 0.05;
const DECAY: f64 = 0.1;

/// The weights after `STEPS` steps of the engine on a zero gradient.
fn engine_weights(
    model: &'static str,
    world: usize,
    opt: OptimizerConfig,
) -> HashMap<String, Tensor> {
    let runs = on_ranks(world, move |_, comm| {
        let dir = variant(model);
        let cfg = LlamaConfig::load(dir.join("config.json")).unwrap();
        let source = SafetensorsWeights::open(&dir).unwrap();
        let mut engine = Engine::new(cfg, &source, comm, Kind::Float, Device::Cpu, &opt).unwrap();
        for _ in 0..STEPS {
            assert_eq!(engine.step(LR, 1.0).unwrap().grad_norm, 0.0);
        }
        let mut weights = HashMap::new();
        for u in 0..engine.units() {
            weights.extend(engine.gather_unit(u).unwrap());
        }
        weights
    });
    runs.into_iter().next().unwrap()
}

/// The same with transformers' parameter groups and `torch.optim.AdamW`.
fn torch_weights(model: &str, out: &Path) -> HashMap<String, Tensor> {
    let script = r#"
import sys, torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, Trainer
src, out, steps, lr, wd = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
model = AutoModelForCausalLM.from_pretrained(src, dtype=torch.float32)
decay = set(Trainer.get_decay_parameter_names(None, model))
named = list(model.named_parameters())
groups = [
    {"params": [p for n, p in named if n in decay], "weight_decay": wd},
    {"params": [p for n, p in named if n not in decay], "weight_decay": 0.0},
]
opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)
for _ in range(steps):
    for _, p in named:
        p.grad = torch.zeros_like(p)
    opt.step()
save_file({n: p.detach().contiguous() for n, p in named}, out)
"#;
    let status = Command::new(python())
        .arg("-c")
        .arg(script)
        .arg(variant(model))
        .arg(out)
        .args([STEPS.to_string(), LR.to_string(), DECAY.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "the torch reference failed");
    read_tensors(out)
}

fn check(model: &'static str, bits: u32) {
    let out = scratch(&format!("decay-{model}-{bits}")).join("torch.safetensors");
    let want = torch_weights(model, &out);
    let dir = variant(model);
    let initial = read_tensors(&dir.join("model.safetensors"));
    let opt = OptimizerConfig {
        weight_decay: DECAY,
        bits,
        min_8bit_size: 0,
        ..OptimizerConfig::default()
    };
    let shrink = (1.0 - LR * DECAY).powi(STEPS as i32);
    for world in [1, 2] {
        let got = engine_weights(model, world, opt.clone());
        let mut kept = 0;
        for (name, w) in &want {
            let g = &got[name];
            let w0 = initial[name].to_kind(Kind::Float);
            let diff = (g - w).abs().max().double_value(&[]);
            assert!(
                diff < 1e-6,
                "{model} {bits}-bit W={world} {name}: {diff:e} from torch"
            );
            let matrix = w0.dim() >= 2;
            let expect = if matrix {
                &w0 * shrink
            } else {
                w0.shallow_clone()
            };
            let off = (g - expect).abs().max().double_value(&[]);
            assert!(
                off < 1e-6,
                "{model} W={world} {name}: decayed wrongly ({off:e})"
            );
            kept += usize::from(!matrix);
        }
        assert!(kept > 0, "{model} has no norms or biases to keep");
    }
}

#[test]
fn biases_and_norms_are_not_decayed_32bit() {
    check("qwen2_bias", 32);
}

#[test]
fn biases_and_norms_are_not_decayed_8bit() {
    check("qwen2_bias", 8);
}

#[test]
fn qwen3_qk_norms_are_not_decayed() {
    check("qwen3", 32);
}

#[test]
fn olmo2_and_gemma3_norms_are_not_decayed() {
    check("olmo2", 32);
    check("gemma3", 8);
}

#[test]
fn decay_norms_and_biases_decays_everything() {
    let dir = variant("gqa");
    let initial = read_tensors(&dir.join("model.safetensors"));
    let opt = OptimizerConfig {
        weight_decay: DECAY,
        decay_norms_and_biases: true,
        ..OptimizerConfig::default()
    };
    let got = engine_weights("gqa", 2, opt);
    let shrink = (1.0 - LR * DECAY).powi(STEPS as i32);
    for (name, w0) in &initial {
        let off = (&got[name] - w0.to_kind(Kind::Float) * shrink)
            .abs()
            .max()
            .double_value(&[]);
        assert!(off < 1e-6, "{name}: {off:e}");
    }
}
