//! The launcher's memory planner (runconfig::memory, which never links
//! libtorch) predicts exactly the model state the ZeRO-3 engine allocates:
//! fp32 master and gradient, optimizer state and the compute copy, per rank.

mod common;
use common::variant;
use rendezvous::StoreServer;
use runconfig::memory::{breakdown, ModelShape, Setup};
use runconfig::{Dtype, OptimizerConfig};
use std::time::Duration;
use tch::{Device, Kind};
use trainer::comm::{Comm, CpuComm};
use trainer::model::{LlamaConfig, PeftAdapter, RandomInit};
use trainer::zero::Engine;

/// Each rank's `Engine::state_bytes()` for model `name` at `world`.
fn engine_state(name: &'static str, world: usize, dtype: Kind, opt: OptimizerConfig) -> Vec<u64> {
    let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "t").unwrap();
    let port = server.addr().port();
    let ranks: Vec<_> = (0..world)
        .map(|rank| {
            let opt = opt.clone();
            std::thread::spawn(move || {
                let cfg = LlamaConfig::load(variant(name).join("config.json")).unwrap();
                let mut store = rendezvous::StoreClient::connect(
                    "127.0.0.1",
                    port,
                    "t",
                    "",
                    Duration::from_secs(10),
                )
                .unwrap();
                let comm: Box<dyn Comm> =
                    Box::new(CpuComm::connect(rank, world, &mut store).unwrap());
                let init = RandomInit::new(&cfg, 1);
                let engine = Engine::new(cfg, &init, comm, dtype, Device::Cpu, &opt).unwrap();
                engine.state_bytes()
            })
        })
        .collect();
    ranks.into_iter().map(|h| h.join().unwrap()).collect()
}

/// The planner's master + gradient + optimizer state + compute copy (and
/// the frozen base of a LoRA run) for `name`'s config.json.
fn planned_state(name: &str, world: usize, dtype: Dtype, opt: &OptimizerConfig) -> u64 {
    let text = std::fs::read_to_string(variant(name).join("config.json")).unwrap();
    let shape = ModelShape::from_json(&text).unwrap();
    planned(&shape, world, dtype, opt)
}

fn planned(shape: &ModelShape, world: usize, dtype: Dtype, opt: &OptimizerConfig) -> u64 {
    let setup = Setup {
        world_size: world as u64,
        micro_batch: 1,
        seq_len: 8,
        dtype,
        bits: opt.bits,
        min_8bit_size: opt.min_8bit_size,
        rows_per_sequence: 1,
        offload: false,
        overlap: false,
        recomputed: u64::MAX,
        lora_dropout: false,
    };
    let items = breakdown(shape, &setup);
    let state = [
        "master_weights",
        "gradient_accumulator",
        "optimizer_state",
        "compute_copy",
        "frozen_weights",
    ];
    items
        .iter()
        .filter(|i| state.contains(&i.item))
        .map(|i| i.bytes)
        .sum()
}

#[test]
fn planned_model_state_is_what_the_engine_allocates() {
    tch::set_num_threads(1);
    let families = ["mistral_window", "olmo2", "gemma3", "gemma3_legacy"];
    for name in ["gqa", "tied", "qwen2_bias", "qwen3", "qwen3_tied_bias"]
        .into_iter()
        .chain(families)
    {
        for (bits, min_8bit_size) in [(32, 4096), (8, 4096), (8, 1 << 40), (8, 2000)] {
            let opt = OptimizerConfig {
                bits,
                min_8bit_size,
                ..OptimizerConfig::default()
            };
            for (dtype, kind) in [(Dtype::F32, Kind::Float), (Dtype::Bf16, Kind::BFloat16)] {
                for world in [1, 2] {
                    let want = planned_state(name, world, dtype, &opt);
                    let got = engine_state(name, world, kind, opt.clone());
                    let case = format!("{name} bits {bits}/{min_8bit_size} {dtype:?} W={world}");
                    assert!(got.iter().all(|&g| g == want), "{case}: {got:?} vs {want}");
                }
            }
        }
    }
}

/// Asserts that the engine of LoRA reference `name` (its base in NF4 with
/// `nf4`), with `bits`-bit AdamW in `dtype`, allocates at each of `worlds`
/// what the plan says.
fn assert_planned_lora(
    name: &'static str,
    nf4: bool,
    bits: u32,
    (dtype, kind): (Dtype, Kind),
    worlds: &[usize],
) {
    use common::lora_engine::{base_config, engine, on_ranks, Opts};
    let dir = common::lora_refs().join(name);
    let base = base_config(name);
    let adapter = PeftAdapter::open(&dir.join("adapter"), base.num_hidden_layers).unwrap();
    let mut shape = adapter.apply(&base).shape();
    shape.lora.as_mut().unwrap().nf4 = nf4;
    for &world in worlds {
        let opts = Opts {
            bits,
            kind,
            nf4,
            ..Opts::peft(usize::MAX)
        };
        let got = on_ranks(world, move |r, w, port| {
            engine(name, r, w, port, opts).state_bytes()
        });
        let opt = OptimizerConfig {
            bits,
            min_8bit_size: 0,
            ..OptimizerConfig::default()
        };
        let want = planned(&shape, world, dtype, &opt);
        let case = format!("{name} NF4 {nf4} bits {bits} {dtype:?} W={world}");
        assert!(got.iter().all(|&g| g == want), "{case}: {got:?} vs {want}");
    }
}

/// With LoRA the plan holds the base's shards in the compute dtype and the
/// adapters' state, as the engine allocates them.
#[test]
fn planned_lora_state_is_what_the_engine_allocates() {
    for name in ["llama_all", "qwen2_rslora"] {
        for bits in [32, 8] {
            for dtype in [(Dtype::F32, Kind::Float), (Dtype::Bf16, Kind::BFloat16)] {
                assert_planned_lora(name, false, bits, dtype, &[1, 2]);
            }
        }
    }
}

/// With an NF4 base (QLoRA) the plan holds, per unit, the norms' shard in
/// bf16, 33 bytes per block of 64 the rank owns and every matrix's nested
/// scales, as the engine allocates them.
#[test]
fn planned_qlora_state_is_what_the_engine_allocates() {
    for name in ["llama_all", "qwen2_rslora"] {
        for bits in [32, 8] {
            assert_planned_lora(name, true, bits, (Dtype::Bf16, Kind::BFloat16), &[1, 2, 3]);
        }
    }
}
