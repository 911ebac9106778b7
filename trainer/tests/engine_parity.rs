//! The ZeRO-3 engine against transformers + torch.optim.AdamW: five steps on
//! the reference batches at world sizes 1, 2 and 4 give the same losses,
//! gradient norms and final weights, whether the backward pass recomputes
//! each unit or differentiates the graph its forward pass kept.

mod common;

use common::{read_tensors, variant};
use rendezvous::{StoreClient, StoreServer};
use runconfig::OptimizerConfig;
use std::collections::HashMap;
use std::time::Duration;
use tch::{Device, Kind, Tensor};
use trainer::comm::{Comm, CpuComm};
use trainer::model::testing::load_named;
use trainer::model::{LlamaConfig, SafetensorsWeights};
use trainer::objective::CausalLm;
use trainer::zero::Engine;

struct Run {
    losses: Vec<f64>,
    norms: Vec<f64>,
    weights: HashMap<String, Tensor>,
    comm_bytes: u64,
    state_bytes: u64,
}

/// One rank: builds the engine, trains on its rows of each batch, gathers the weights.
/// `recomputed`: the units the backward pass recomputes (`usize::MAX`: all).
fn rank_run(name: &str, rank: usize, world: usize, port: u16, recomputed: usize) -> Run {
    let dir = variant(name);
    let cfg = LlamaConfig::load(dir.join("config.json")).unwrap();
    let weights = SafetensorsWeights::open(&dir).unwrap();
    let mut store =
        StoreClient::connect("127.0.0.1", port, "t", "", Duration::from_secs(10)).unwrap();
    let comm: Box<dyn Comm> = Box::new(CpuComm::connect(rank, world, &mut store).unwrap());
    let opt = OptimizerConfig {
        weight_decay: 0.01,
        ..OptimizerConfig::default()
    };
    let mut engine = Engine::new(cfg, &weights, comm, Kind::Float, Device::Cpu, &opt).unwrap();
    engine.set_recomputed_units(recomputed);
    let t = read_tensors(&dir.join("train.safetensors"));
    let (steps, batch) = (t["input_ids"].size()[0], t["input_ids"].size()[1]);
    let rows = batch / world as i64;
    let (mut losses, mut norms) = (Vec::new(), Vec::new());
    for step in 0..steps {
        let (ids, labels) = (t["input_ids"].get(step), t["labels"].get(step));
        let (batch, targets) = common::rank_rows(&ids, &labels, rank, rows);
        let sum = engine
            .micro_step(&batch, &CausalLm { norm: targets })
            .unwrap()
            .double_value(&[0]);
        let mut total = Tensor::from_slice(&[sum]);
        engine.all_reduce_sum(&mut total).unwrap();
        losses.push(total.double_value(&[0]) / targets as f64);
        norms.push(engine.step(1e-3, 1.0).unwrap().grad_norm);
    }
    let comm_bytes = engine.comm_bytes();
    let state_bytes = engine.state_bytes();
    let mut weights = HashMap::new();
    for u in 0..engine.units() {
        for (name, w) in engine.gather_unit(u).unwrap() {
            weights.insert(name, w.copy());
        }
    }
    Run {
        losses,
        norms,
        weights,
        comm_bytes,
        state_bytes,
    }
}

/// Runs `world` ranks on threads; returns rank 0's view and every rank's state bytes.
fn run(name: &'static str, world: usize, recomputed: usize) -> (Run, Vec<u64>) {
    tch::set_num_threads(1);
    let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "t").unwrap();
    let port = server.addr().port();
    let handles: Vec<_> = (0..world)
        .map(|r| std::thread::spawn(move || rank_run(name, r, world, port, recomputed)))
        .collect();
    let mut runs: Vec<Run> = handles
        .into_iter()
        .map(|h| h.join().expect("rank failed"))
        .collect();
    let states = runs.iter().map(|r| r.state_bytes).collect();
    (runs.swap_remove(0), states)
}

fn check(name: &'static str, recomputed: usize) {
    let dir = variant(name);
    let t = read_tensors(&dir.join("train.safetensors"));
    let after = read_tensors(&dir.join("after-steps/model.safetensors"));
    let cfg = LlamaConfig::load(dir.join("config.json")).unwrap();
    let initial = load_named(
        &cfg,
        &SafetensorsWeights::open(&dir).unwrap(),
        Kind::Float,
        Device::Cpu,
    )
    .unwrap();
    let mut first: Option<Run> = None;
    for world in [1, 2, 4] {
        let (got, _) = run(name, world, recomputed);
        for (step, (&loss, &norm)) in got.losses.iter().zip(&got.norms).enumerate() {
            let (want_loss, want_norm) = (
                t["losses"].double_value(&[step as i64]),
                t["grad_norms"].double_value(&[step as i64]),
            );
            assert!(
                (loss - want_loss).abs() / want_loss < 1e-4,
                "{name} W={world} step {step}: loss {loss} vs {want_loss}"
            );
            assert!(
                (norm - want_norm).abs() / want_norm < 1e-4,
                "{name} W={world} step {step}: grad norm {norm} vs {want_norm}"
            );
        }
        for (n, want) in &after {
            let w = &got.weights[n];
            let diff = (w - want).abs().max().double_value(&[]);
            let update = (want - &initial[n]).norm().double_value(&[]);
            let rel = (w - want).norm().double_value(&[]) / update;
            assert!(
                diff < 1e-4 && rel < 1e-3,
                "{name} W={world} {n}: max diff {diff:e}, |diff|/|update| {rel:e}"
            );
        }
        // Across world sizes: the same numbers up to summation order.
        if let Some(base) = &first {
            for (a, b) in got.losses.iter().zip(&base.losses) {
                assert!(
                    (a - b).abs() / b < 1e-5,
                    "{name} W={world}: loss {a} vs W=1 {b}"
                );
            }
            // Adam divides near-zero gradients by their RMS, so summation
            // order shows as a small fraction of the update itself.
            for (n, w) in &got.weights {
                let d = (w - &base.weights[n]).abs().max().double_value(&[]);
                let update = (&base.weights[n] - &initial[n]).norm().double_value(&[]);
                let rel = (w - &base.weights[n]).norm().double_value(&[]) / update;
                assert!(
                    d < 1e-5 || (d < 5e-5 && rel < 1e-4),
                    "{name} W={world} {n}: differs from W=1 by {d:e}, |diff|/|update| {rel:e}"
                );
            }
        } else {
            first = Some(got);
        }
    }
}

#[test]
fn engine_matches_transformers_untied_gqa() {
    check("gqa", usize::MAX);
}

#[test]
fn engine_matches_transformers_tied_embeddings() {
    check("tied", usize::MAX);
}

#[test]
fn engine_matches_transformers_qkv_bias() {
    check("qwen2_bias", usize::MAX);
}

#[test]
fn engine_matches_transformers_qwen3_qk_norms() {
    check("qwen3", usize::MAX);
}

#[test]
fn engine_without_recompute_matches_transformers_qwen3_qk_norms() {
    check("qwen3", 0);
}

#[test]
fn engine_matches_transformers_qwen3_tied_attention_bias() {
    check("qwen3_tied_bias", usize::MAX);
}

#[test]
fn engine_matches_transformers_llama3_rope() {
    check("llama3_rope", usize::MAX);
}

#[test]
fn engine_without_recompute_matches_transformers_untied_gqa() {
    check("gqa", 0);
}

#[test]
fn engine_without_recompute_matches_transformers_tied_embeddings() {
    check("tied", 0);
}

#[test]
fn engine_without_recompute_matches_transformers_qkv_bias() {
    check("qwen2_bias", 0);
}

#[test]
fn engine_without_recompute_matches_transformers_llama3_rope() {
    check("llama3_rope", 0);
}

/// The embedding and the first block recomputed, the other blocks kept.
#[test]
fn engine_recomputing_some_units_matches_transformers() {
    check("gqa", 2);
}

/// Every unit is gathered for the forward and again for the backward, and its
/// gradient reduce-scattered: 3 x the padded model bytes, less one gather of
/// the head (its forward is the recompute of the backward). A tied head also
/// gathers the embedding and reduce-scatters its gradient. Model state per
/// rank: 4 x 4 bytes per owned element (master, m, v, grad; in fp32 the
/// master is what is gathered, so there is no separate compute copy).
#[test]
fn communication_and_memory_follow_the_formulas() {
    for name in ["gqa", "tied"] {
        let cfg = LlamaConfig::load(variant(name).join("config.json")).unwrap();
        for world in [1usize, 2, 4] {
            let quantum = 256 * world as u64;
            let padded: Vec<u64> = trainer::model::units(&cfg)
                .iter()
                .map(|u| (u.numel() as u64).div_ceil(quantum) * quantum)
                .collect();
            let (total, head, embed) = (
                padded.iter().sum::<u64>(),
                *padded.last().unwrap(),
                padded[0],
            );
            let tied_extra = if cfg.tie_word_embeddings {
                2 * embed
            } else {
                0
            };
            let (got, states) = run(name, world, usize::MAX);
            let steps = got.losses.len() as u64;
            assert_eq!(
                got.comm_bytes,
                steps * (3 * total - head + tied_extra) * 4,
                "{name} W={world}"
            );
            // A unit that keeps its graph is gathered once: the first two
            // units recomputed, every later one gathered once less.
            let kept: u64 = padded[2..padded.len() - 1].iter().sum();
            let (got, _) = run(name, world, 2);
            assert_eq!(
                got.comm_bytes,
                steps * (3 * total - head + tied_extra - kept) * 4,
                "{name} W={world}, units 2.. kept"
            );
            for s in states {
                assert_eq!(s, total / world as u64 * 4 * 4, "{name} W={world}");
            }
        }
    }
}

#[test]
fn engine_matches_transformers_mistral_sliding_window() {
    check("mistral_window", usize::MAX);
}

#[test]
fn engine_without_recompute_matches_transformers_olmo2() {
    check("olmo2", 0);
}

#[test]
fn engine_matches_transformers_gemma3_local_global_softcap() {
    check("gemma3", usize::MAX);
}

#[test]
fn engine_without_recompute_matches_transformers_gemma3_legacy() {
    check("gemma3_legacy", 0);
}
