//! LoRA runs of the ZeRO-3 engine on the references of
//! `scripts/make-lora-references` (or `make-qlora-references`), every rank
//! on its own thread over `CpuComm`: the engine of `tests/lora_engine.rs`
//! and `tests/qlora_engine.rs`.

use super::{lora_refs, qlora_refs, read_tensors};
use rendezvous::{StoreClient, StoreServer};
use runconfig::OptimizerConfig;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tch::{Device, Kind, Tensor};
use trainer::comm::{Comm, CpuComm, Queued};
use trainer::model::{LlamaConfig, PeftAdapter, SafetensorsWeights, WithAdapters};
use trainer::objective::CausalLm;
use trainer::zero::Engine;

/// How a run trains.
#[derive(Clone, Copy)]
pub struct Opts {
    /// Units the backward pass recomputes.
    pub recomputed: usize,
    pub bits: u32,
    pub lr: f64,
    /// Every step on the first batch (else step i on batch i).
    pub same_batch: bool,
    /// The adapters on a frozen base (else the base alone, all trained).
    pub lora: bool,
    /// The compute dtype.
    pub kind: Kind,
    /// The frozen base in NF4 (`lora.base: nf4`).
    pub nf4: bool,
    /// The references the variant is one of.
    pub refs: Refs,
    /// `lora_dropout` (the references are made with 0).
    pub dropout: f64,
}

/// Which references a variant is read from.
#[derive(Clone, Copy)]
pub enum Refs {
    /// `scripts/make-lora-references`.
    Lora,
    /// `scripts/make-qlora-references`.
    Qlora,
}

impl Refs {
    /// The folder of variant `name`.
    pub fn dir(self, name: &str) -> std::path::PathBuf {
        let root: &Path = match self {
            Refs::Lora => lora_refs(),
            Refs::Qlora => qlora_refs(),
        };
        root.join(name)
    }
}

impl Opts {
    /// PEFT's run of the references.
    pub fn peft(recomputed: usize) -> Opts {
        let (bits, lr, same_batch, lora) = (32, 1e-3, false, true);
        Opts {
            recomputed,
            bits,
            lr,
            same_batch,
            lora,
            kind: Kind::Float,
            nf4: false,
            refs: Refs::Lora,
            dropout: 0.0,
        }
    }
}

pub struct Run {
    pub losses: Vec<f64>,
    pub norms: Vec<f64>,
    pub weights: HashMap<String, Tensor>,
    pub optimizer_bytes: f64,
    /// Gathers that were not the one the engine planned next.
    pub off_plan: u64,
}

/// `name`'s base config.
pub fn base_config(name: &str) -> LlamaConfig {
    base_config_in(Refs::Lora, name)
}

/// The base config of `refs`' variant `name`.
pub fn base_config_in(refs: Refs, name: &str) -> LlamaConfig {
    LlamaConfig::load(refs.dir(name).join("base/config.json")).unwrap()
}

/// Rank `rank` of `world`'s engine on `name`'s base and initial adapters.
pub fn engine(name: &str, rank: usize, world: usize, port: u16, opts: Opts) -> Engine {
    let dir = opts.refs.dir(name);
    let folders = (dir.join("base"), dir.join("adapter"));
    engine_at((&folders.0, &folders.1), rank, world, port, opts)
}

/// Rank `rank` of `world`'s engine on the base model and the PEFT adapter
/// in `(base, adapter)` (its `lora_dropout` replaced by `opts.dropout`).
pub fn engine_at(
    (base, adapter): (&Path, &Path),
    rank: usize,
    world: usize,
    port: u16,
    opts: Opts,
) -> Engine {
    let base_cfg = LlamaConfig::load(base.join("config.json")).unwrap();
    let adapter = PeftAdapter::open(adapter, base_cfg.num_hidden_layers).unwrap();
    let base = SafetensorsWeights::open(base).unwrap();
    let source = WithAdapters {
        base: &base,
        adapters: &adapter,
    };
    let mut cfg = match opts.lora {
        true => adapter.apply(&base_cfg),
        false => base_cfg,
    };
    if let Some(lora) = cfg.lora.as_mut() {
        lora.shape.nf4 = opts.nf4;
        lora.dropout = opts.dropout;
    }
    let mut store =
        StoreClient::connect("127.0.0.1", port, "t", "", Duration::from_secs(10)).unwrap();
    let cpu = CpuComm::connect(rank, world, &mut store).unwrap();
    // From W = 2 on, over a communication thread: the gathers are then
    // started ahead along the engine's plan.
    let comm: Box<dyn Comm> = match world {
        1 => Box::new(cpu),
        _ => Box::new(Queued::start(Box::new(cpu)).unwrap()),
    };
    let opt = OptimizerConfig {
        weight_decay: 0.01,
        bits: opts.bits,
        min_8bit_size: 0,
        ..OptimizerConfig::default()
    };
    let mut e = Engine::new(cfg, &source, comm, opts.kind, Device::Cpu, &opt).unwrap();
    e.set_recomputed_units(opts.recomputed);
    e
}

/// One rank: trains on its rows of each batch, then gathers every weight.
pub fn train(name: &str, rank: usize, world: usize, port: u16, opts: Opts) -> Run {
    let mut engine = engine(name, rank, world, port, opts);
    let t = read_tensors(&opts.refs.dir(name).join("train.safetensors"));
    let (steps, batch) = (t["input_ids"].size()[0], t["input_ids"].size()[1]);
    let rows = batch / world as i64;
    let (mut losses, mut norms) = (Vec::new(), Vec::new());
    for step in 0..steps {
        let at = if opts.same_batch { 0 } else { step };
        let (ids, labels) = (t["input_ids"].get(at), t["labels"].get(at));
        let (batch, targets) = super::rank_rows(&ids, &labels, rank, rows);
        let objective = CausalLm { norm: targets };
        let sum = engine.micro_step(&batch, &objective).unwrap();
        let mut total = Tensor::from_slice(&[sum.double_value(&[0])]);
        engine.all_reduce_sum(&mut total).unwrap();
        losses.push(total.double_value(&[0]) / targets as f64);
        norms.push(engine.step(opts.lr, 1.0).unwrap().grad_norm);
    }
    let mut weights = HashMap::new();
    for u in 0..engine.units() {
        for (name, w) in engine.gather_unit(u).unwrap() {
            weights.insert(name, w.copy());
        }
    }
    let optimizer_bytes = engine.optimizer_bytes_per_param();
    let off_plan = engine.off_plan_gathers();
    Run {
        losses,
        norms,
        weights,
        optimizer_bytes,
        off_plan,
    }
}

/// `f(rank, world, port)` on `world` ranks, each on its thread; every rank's result.
pub fn on_ranks<T: Send + 'static>(
    world: usize,
    f: impl Fn(usize, usize, u16) -> T + Send + Copy + 'static,
) -> Vec<T> {
    tch::set_num_threads(1);
    let server = StoreServer::start("127.0.0.1:0".parse().unwrap(), "t").unwrap();
    let port = server.addr().port();
    let handles: Vec<_> = (0..world)
        .map(|r| std::thread::spawn(move || f(r, world, port)))
        .collect();
    let results = handles.into_iter().map(|h| h.join().expect("rank failed"));
    results.collect()
}

/// Rank 0's run of `name` at `world`.
pub fn run(name: &'static str, world: usize, opts: Opts) -> Run {
    on_ranks(world, move |r, w, port| train(name, r, w, port, opts)).swap_remove(0)
}
