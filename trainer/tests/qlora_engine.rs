//! QLoRA in the ZeRO-3 engine (`lora.base: nf4`), against transformers +
//! bitsandbytes + PEFT on the references of `scripts/make-qlora-references`:
//! the base weights the engine gathers are bitsandbytes' dequantised 4-bit
//! weights bit for bit at every world size, the forward pass gives the
//! logits of PEFT's adapter on the 4-bit base, training agrees across world
//! sizes, and the frozen base takes about a quarter of its bf16 bytes.

mod common;

use common::lora_engine::{base_config_in, engine, on_ranks, run, Opts, Refs, Run};
use common::{read_tensors, rel_err};
use runconfig::model::shard::shard_len;
use runconfig::model::{is_nf4_weight, Lora};
use std::collections::HashMap;
use tch::{Device, Kind, Tensor};
use trainer::comm::Comm;
use trainer::model::testing::load_named;
use trainer::model::{is_adapter, units, LlamaConfig, RandomInit, SafetensorsWeights};
use trainer::objective::Batch;
use trainer::zero::Engine;

const VARIANTS: [&str; 2] = ["llama_odd", "qwen2_wide"];

/// The QLoRA run of the references: bf16 compute, the base in NF4.
fn qlora(kind: Kind) -> Opts {
    Opts {
        kind,
        nf4: true,
        refs: Refs::Qlora,
        ..Opts::peft(usize::MAX)
    }
}

/// Every weight of `name`'s model as rank 0 of `world` gathers it (f32).
fn gathered(name: &'static str, world: usize, opts: Opts) -> HashMap<String, Tensor> {
    let mut all = on_ranks(world, move |r, w, port| {
        let mut e = engine(name, r, w, port, opts);
        let mut weights = HashMap::new();
        for u in 0..e.units() {
            for (n, t) in e.gather_unit(u).unwrap() {
                weights.insert(n, t.copy());
            }
        }
        weights
    });
    all.swap_remove(0)
}

#[test]
fn gathered_base_weights_are_bitsandbytes_dequantized_4bit_weights() {
    for name in VARIANTS {
        let dir = Refs::Qlora.dir(name);
        let r = read_tensors(&dir.join("reference.safetensors"));
        let cfg = base_config_in(Refs::Qlora, name);
        let source = SafetensorsWeights::open(dir.join("base")).unwrap();
        let base = load_named(&cfg, &source, Kind::Float, Device::Cpu).unwrap();
        let held = base.iter().filter(|(n, w)| is_nf4_weight(n, w.dim()));
        assert_eq!(
            held.count(),
            r.keys().filter(|k| k.starts_with("deq.")).count()
        );
        for world in [1, 2, 4] {
            let got = gathered(name, world, qlora(Kind::BFloat16));
            for (n, w) in &base {
                let want = match r.get(&format!("deq.{n}")) {
                    Some(deq) => deq.to_kind(Kind::Float),
                    None => w.to_kind(Kind::BFloat16).to_kind(Kind::Float),
                };
                let diff = (&got[n] - &want).abs().max().double_value(&[]);
                assert!(got[n].equal(&want), "{name} W={world} {n}: off by {diff:e}");
            }
            println!("{name} W={world}: every base weight is bitsandbytes' bit for bit");
        }
    }
}

/// The logits of `opts`' engine (one rank) on the reference batch.
fn engine_logits(name: &'static str, opts: Opts) -> Tensor {
    let mut all = on_ranks(1, move |r, w, port| {
        let refs = read_tensors(&Refs::Qlora.dir(name).join("reference.safetensors"));
        let ids = &refs["input_ids"];
        let mut e = engine(name, r, w, port, opts);
        let batch = Batch {
            labels: ids.full_like(-100),
            input_ids: ids.shallow_clone(),
            position_ids: None,
            segment_ids: None,
            tokens: 0,
        };
        e.forward(&batch).unwrap().to_kind(Kind::Float)
    });
    all.swap_remove(0)
}

/// PEFT's adapter on bitsandbytes' 4-bit base in bf16 (its CPU 4-bit
/// matmul, the adapters in f32): the engine's logits agree within bf16
/// rounding (a few units in the last place of the largest logit, as two
/// torch forwards in bf16 over the same weights differ), ten times closer
/// than the same adapter on the base in plain bf16 comes.
#[test]
fn qlora_forward_matches_peft_on_bitsandbytes_4bit() {
    for name in VARIANTS {
        let r = read_tensors(&Refs::Qlora.dir(name).join("reference.safetensors"));
        let want = &r["logits"];
        let nf4 = rel_err(&engine_logits(name, qlora(Kind::BFloat16)), want);
        let plain = Opts {
            nf4: false,
            ..qlora(Kind::BFloat16)
        };
        let bf16 = rel_err(&engine_logits(name, plain), want);
        let adapter = rel_err(&r["base_logits"], want);
        println!(
            "{name}: rel err of the logits {nf4:.2e} (a bf16 base: {bf16:.2e}, no adapter: {adapter:.2e})"
        );
        assert!(nf4 < 4e-2, "{name}: {nf4:e}");
        assert!(nf4 * 10.0 < bf16, "{name}: NF4 {nf4:e}, bf16 base {bf16:e}");
    }
}

/// Adapters of two runs: the worst max difference relative to the largest
/// adapter value.
fn adapters_diff(a: &Run, b: &Run) -> f64 {
    let adapters = a.weights.iter().filter(|(n, _)| is_adapter(n));
    adapters.fold(0.0, |worst: f64, (n, w)| {
        worst.max(rel_err(w, &b.weights[n]))
    })
}

/// `world` against `w1`: losses within `loss_tol` (relative), adapters
/// within `adapter_tol`.
fn agree(name: &str, world: usize, got: &Run, w1: &Run, (loss_tol, adapter_tol): (f64, f64)) {
    for (step, (a, b)) in got.losses.iter().zip(&w1.losses).enumerate() {
        let rel = (a - b).abs() / b.abs();
        assert!(
            rel < loss_tol,
            "{name} W={world} step {step}: {a} vs W=1 {b}"
        );
    }
    let diff = adapters_diff(got, w1);
    assert!(
        diff < adapter_tol,
        "{name} W={world}: adapters off by {diff:e}"
    );
    let worst = got.losses.iter().zip(&w1.losses);
    let worst = worst.fold(0.0, |m: f64, (a, b)| m.max((a - b).abs() / b.abs()));
    println!("{name} W={world}: losses {worst:.1e} and adapters {diff:.1e} off W=1's");
}

/// The quantised base is the same at every world size, so runs agree as
/// far as their summation order lets them: in f32 as `engine_parity`
/// asks, in bf16 within its rounding. The loss falls.
#[test]
fn qlora_training_agrees_across_world_sizes() {
    for name in VARIANTS {
        let f32 = Opts {
            lr: 1e-2,
            ..qlora(Kind::Float)
        };
        let w1 = run(name, 1, f32);
        for world in [2, 4] {
            agree(name, world, &run(name, world, f32), &w1, (1e-5, 1e-5));
        }
        let bf16 = Opts {
            lr: 1e-2,
            same_batch: true,
            ..qlora(Kind::BFloat16)
        };
        let w1 = run(name, 1, bf16);
        assert!(w1.losses[3] < w1.losses[0], "{name}: {:?}", w1.losses);
        agree(name, 2, &run(name, 2, bf16), &w1, (5e-3, 1e-1));
    }
}

/// A model whose blocks are most of it: hidden 256, 2 layers, vocab 64.
fn wide_model(nf4: bool) -> LlamaConfig {
    let mut cfg = LlamaConfig::from_json_str(
        r#"{"hidden_size": 256, "intermediate_size": 700, "num_hidden_layers": 2,
            "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 64}"#,
        "test",
    )
    .unwrap();
    let targets = ["q_proj".to_string(), "v_proj".to_string()];
    let mut lora = Lora::new(8, 16.0, 0.0, false, &targets).unwrap();
    lora.shape.nf4 = nf4;
    cfg.lora = Some(lora);
    cfg
}

/// Frozen-store bytes of each rank of `world` on [`wide_model`].
fn frozen_bytes(nf4: bool, world: usize) -> Vec<u64> {
    common::on_ranks(world, move |_, comm: Box<dyn Comm>| {
        let cfg = wide_model(nf4);
        let init = RandomInit::new(&cfg, 3);
        let opt = runconfig::OptimizerConfig::default();
        let e = Engine::new(cfg, &init, comm, Kind::BFloat16, Device::Cpu, &opt).unwrap();
        e.frozen_state_bytes()
    })
}

/// What a rank of `world` holds of [`wide_model`]'s NF4 base: per block,
/// its plain shard (norms) in bf16, 33 bytes per block of 64 it owns
/// (codes and absmax code), and every matrix's nested scales and offset;
/// the embedding and the head in bf16.
fn nf4_bytes(world: u64) -> u64 {
    let cfg = wide_model(true);
    let mut bytes = 0;
    for unit in units(&cfg) {
        let frozen = unit.params.iter().filter(|p| !is_adapter(&p.name));
        let (held, plain): (Vec<_>, Vec<_>) =
            frozen.partition(|p| is_nf4_weight(&p.name, p.shape.len()));
        bytes += 2 * shard_len(plain.iter().map(|p| p.numel() as u64).sum(), world);
        let blocks: Vec<u64> = held
            .iter()
            .map(|p| (p.numel() as u64).div_ceil(64))
            .collect();
        bytes += 33 * blocks.iter().sum::<u64>().div_ceil(world);
        bytes += blocks.iter().map(|b| 4 * b.div_ceil(256) + 4).sum::<u64>();
    }
    bytes
}

#[test]
fn an_nf4_base_takes_about_a_quarter_of_the_bf16_bytes() {
    for world in [1, 2] {
        let (nf4, bf16) = (frozen_bytes(true, world), frozen_bytes(false, world));
        for (q, b) in nf4.iter().zip(&bf16) {
            let ratio = *q as f64 / *b as f64;
            println!("W={world}: NF4 base {q} bytes, bf16 base {b} bytes ({ratio:.3})");
            assert_eq!(*q, nf4_bytes(world as u64));
            assert!((0.25..0.28).contains(&ratio), "{ratio}");
        }
    }
}
