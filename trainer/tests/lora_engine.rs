//! The ZeRO-3 engine training LoRA adapters on a frozen base, against PEFT
//! on the references of `scripts/make-lora-references`: five steps at world
//! sizes 1, 2 and 4 give PEFT's losses, gradient norms and trained
//! adapters, whether the backward pass recomputes each unit or keeps its
//! forward graph, and leave the base bit for bit as it was. The frozen base
//! holds no master, gradient or optimizer state.

mod common;

use common::lora_engine::{base_config, engine, on_ranks, run, Opts, Run};
use common::{lora_refs, read_tensors};
use runconfig::model::shard::shard_len;
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};
use trainer::model::testing::load_named;
use trainer::model::{is_adapter, units, PeftAdapter, SafetensorsWeights, PEFT_PREFIX};

const TOL: f64 = 1e-4;

/// Relative error of `got` against `want`.
fn rel(got: f64, want: f64) -> f64 {
    (got - want).abs() / want.abs()
}

/// The adapters' max difference and |diff| / |update| against `want`.
fn adapter_diff(w: &Tensor, want: &Tensor, initial: &Tensor) -> (f64, f64) {
    let diff = (w - want).abs().max().double_value(&[]);
    let update = (want - initial).norm().double_value(&[]);
    (diff, (w - want).norm().double_value(&[]) / update)
}

/// The losses and gradient norms against PEFT's: the worst relative errors.
fn check_curves(name: &str, world: usize, got: &Run, t: &HashMap<String, Tensor>) -> f64 {
    let mut worst: f64 = 0.0;
    for (step, (&loss, &norm)) in got.losses.iter().zip(&got.norms).enumerate() {
        let at = [step as i64];
        let (want_loss, want_norm) = (
            t["losses"].double_value(&at),
            t["grad_norms"].double_value(&at),
        );
        let (e_loss, e_norm) = (rel(loss, want_loss), rel(norm, want_norm));
        assert!(
            e_loss < TOL,
            "{name} W={world} step {step}: loss {loss} vs {want_loss}"
        );
        assert!(
            e_norm < TOL,
            "{name} W={world} step {step}: norm {norm} vs {want_norm}"
        );
        worst = worst.max(e_loss).max(e_norm);
    }
    worst
}

/// Five steps at W = 1, 2, 4 against PEFT, and against W = 1.
fn check(name: &'static str, recomputed: usize) {
    let dir = lora_refs().join(name);
    let t = read_tensors(&dir.join("train.safetensors"));
    let after = read_tensors(&dir.join("after-steps/adapter_model.safetensors"));
    let initial = read_tensors(&dir.join("adapter/adapter_model.safetensors"));
    let base_weights = SafetensorsWeights::open(dir.join("base")).unwrap();
    let base = load_named(&base_config(name), &base_weights, Kind::Float, Device::Cpu).unwrap();
    let mut first: Option<Run> = None;
    for world in [1, 2, 4] {
        let got = run(name, world, Opts::peft(recomputed));
        let worst_curve = check_curves(name, world, &got, &t);
        assert_eq!(got.off_plan, 0, "{name} W={world}: gathers off the plan");
        let adapters = got.weights.keys().filter(|n| is_adapter(n)).count();
        assert_eq!(adapters, after.len(), "{name}: adapters trained");
        let mut worst: f64 = 0.0;
        for (n, want) in &after {
            let key = n.strip_prefix(PEFT_PREFIX).unwrap();
            let (diff, r) = adapter_diff(&got.weights[key], want, &initial[n]);
            assert!(
                diff < TOL && r < 1e-3,
                "{name} W={world} {key}: {diff:e}, {r:e}"
            );
            worst = worst.max(diff);
        }
        for (n, w) in &base {
            assert!(
                got.weights[n].equal(w),
                "{name} W={world}: frozen {n} changed"
            );
        }
        println!(
            "{name} recompute {} W={world}: worst rel err of losses and grad norms \
             {worst_curve:.1e}, worst adapter diff {worst:.1e}",
            match recomputed {
                usize::MAX => "all".to_string(),
                n => n.to_string(),
            }
        );
        match &first {
            Some(w1) => agree(name, world, &got, w1, &initial),
            None => first = Some(got),
        }
    }
}

/// World sizes agree up to summation order (as `engine_parity` checks).
fn agree(name: &str, world: usize, got: &Run, w1: &Run, initial: &HashMap<String, Tensor>) {
    for (a, b) in got.losses.iter().zip(&w1.losses) {
        assert!(rel(*a, *b) < 1e-5, "{name} W={world}: loss {a} vs W=1 {b}");
    }
    for (n, w) in got.weights.iter().filter(|(n, _)| is_adapter(n)) {
        let init = &initial[&format!("{PEFT_PREFIX}{n}")];
        let (d, r) = adapter_diff(w, &w1.weights[n], init);
        assert!(
            d < 1e-5 || (d < 5e-5 && r < 1e-4),
            "{name} W={world} {n}: {d:e}, {r:e}"
        );
    }
}

#[test]
fn lora_engine_matches_peft_llama_all_projections() {
    check("llama_all", usize::MAX);
}

#[test]
fn lora_engine_matches_peft_qwen2_rslora() {
    check("qwen2_rslora", usize::MAX);
}

#[test]
fn lora_engine_without_recompute_matches_peft_llama_all_projections() {
    check("llama_all", 0);
}

#[test]
fn lora_engine_without_recompute_matches_peft_qwen2_rslora() {
    check("qwen2_rslora", 0);
}

/// The (frozen) embedding and the first block recomputed, the others kept.
#[test]
fn lora_engine_recomputing_some_units_matches_peft() {
    check("llama_all", 2);
}

/// 8-bit AdamW on the adapters: it runs, and the loss of a batch trained
/// on falls.
#[test]
fn lora_engine_with_8bit_adamw_trains() {
    let opts = Opts {
        bits: 8,
        lr: 1e-2,
        same_batch: true,
        ..Opts::peft(usize::MAX)
    };
    for world in [1, 2] {
        let got = run("llama_all", world, opts);
        println!("8-bit W={world}: losses {:?}", got.losses);
        assert!(got.optimizer_bytes < 3.0, "{} bytes", got.optimizer_bytes);
        assert!(got.losses.iter().all(|l| l.is_finite()));
        assert!(got.losses[4] < got.losses[0], "{:?}", got.losses);
    }
}

/// At W = 2, in fp32 (the master is what is gathered, so a full fine-tune
/// keeps 16 bytes per element: master, gradient, m, v): the LoRA engine
/// holds the base's shards in the compute dtype only, and the adapters'
/// 16 bytes per element; it saves the base's master + gradient +
/// optimizer bytes, less the frozen copy and the adapters' state.
#[test]
fn lora_state_bytes_count_the_frozen_shards_and_the_adapters() {
    let name = "llama_all";
    let bytes = |lora| {
        let opts = Opts {
            lora,
            ..Opts::peft(usize::MAX)
        };
        on_ranks(2, move |r, w, port| {
            engine(name, r, w, port, opts).state_bytes()
        })
    };
    let (lora, full) = (bytes(true), bytes(false));
    let dir = lora_refs().join(name);
    let base_cfg = base_config(name);
    let adapter = PeftAdapter::open(&dir.join("adapter"), base_cfg.num_hidden_layers).unwrap();
    let (mut base, mut adapters) = (0, 0);
    for unit in units(&adapter.apply(&base_cfg)) {
        let numel = |trained: bool| {
            let params = unit
                .params
                .iter()
                .filter(|p| is_adapter(&p.name) == trained);
            params.map(|p| p.numel() as u64).sum::<u64>()
        };
        base += shard_len(numel(false), 2);
        adapters += shard_len(numel(true), 2);
    }
    let (base_state, frozen_copy, adapter_state) = (base * (4 + 4 + 8), base * 4, adapters * 16);
    for (l, f) in lora.iter().zip(&full) {
        println!("W=2: LoRA {l} bytes, full fine-tune {f} bytes");
        assert_eq!(*f, base_state);
        assert_eq!(*l, frozen_copy + adapter_state);
        assert_eq!(f - l, base_state - frozen_copy - adapter_state);
        assert!(l < f);
    }
}
