//! The trainer's entry point for a config-driven run: configuration, comm,
//! model shards and data, then the training loop.

use crate::data::batches::Steps;
use crate::data::{self, Dataset};
use crate::model::{
    validate, Adapted, FromAdapter, LlamaConfig, ParamSource, PeftAdapter, RandomInit,
    SafetensorsWeights,
};
use crate::zero::Engine;
use anyhow::{bail, Context, Result};
use rendezvous::RankEnv;
use runconfig::{Config, LoraInit, ModelSource, Plan};
use std::path::Path;
use tch::{Device, Kind};

/// The most units any rank plans to recompute: every rank must run the
/// same collectives (a recomputed unit is gathered again in the backward
/// pass) and the most recompute fits on every rank, whose free memory may
/// differ.
fn agreed_recompute(engine: &mut Engine, units: u64) -> Result<usize> {
    let mine = tch::Tensor::from_slice(&[units as f32]).to_device(engine.device());
    let all = engine.all_gather(&mine)?;
    Ok(all.max().double_value(&[]) as usize)
}

/// Reads the resolved configuration `launch` wrote for this run.
pub fn load_config(env: &RankEnv) -> Result<(Config, Plan)> {
    let path = RankEnv::config_path()
        .context("FERROSPEED_CONFIG is not set: start the trainer with `launch N config.yaml`")?;
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let origin = path.display().to_string();
    let resolved = runconfig::from_str(&text, &origin, env.world_size as u32, &[])?;
    runconfig::check_run(&resolved.config, &origin)?;
    Ok((resolved.config, resolved.plan))
}

/// CPU threads for this rank: `train.threads`, else the cores shared evenly
/// among the ranks of this node.
pub fn threads(config: &Config, env: &RankEnv) -> usize {
    config.train.threads.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / env.local_world_size).max(1)
    })
}

/// The model's architecture and where its initial weights come from; with
/// `lora:`, the adapters on the base: those of `model.adapter`, or new
/// ones initialised from the seed.
pub fn model_source(config: &Config) -> Result<(LlamaConfig, Box<dyn ParamSource>)> {
    let (cfg, base): (LlamaConfig, Box<dyn ParamSource>) =
        match config.model.source().map_err(anyhow::Error::msg)? {
            ModelSource::Weights(dir) => {
                let cfg = LlamaConfig::load(dir.join("config.json"))?;
                let weights = SafetensorsWeights::open(dir)?;
                validate(&cfg, &weights)?;
                (cfg, Box::new(weights))
            }
            ModelSource::RandomInit(file) => {
                let cfg = LlamaConfig::load(file)?;
                let source = RandomInit::new(&cfg, config.train.seed);
                (cfg, Box::new(source))
            }
        };
    let Some(lora) = config
        .lora_on(cfg.tie_word_embeddings)
        .map_err(anyhow::Error::msg)?
    else {
        return Ok((cfg, base));
    };
    let cfg = LlamaConfig {
        lora: Some(lora),
        ..cfg
    };
    if let Some(dir) = &config.model.adapter {
        let source = from_adapter(&cfg, base, dir)?;
        return Ok((cfg, Box::new(source)));
    }
    let mut init = RandomInit::new(&cfg, config.train.seed);
    if config
        .lora
        .as_ref()
        .is_some_and(|l| l.init == LoraInit::Gaussian)
    {
        init = init.gaussian_adapters();
    }
    let source = Adapted {
        base,
        adapters: Box::new(init),
    };
    Ok((cfg, Box::new(source)))
}

/// The adapters of the PEFT folder `dir` on `base`, for the model `cfg`:
/// refused, naming the key or the tensor, when its settings are not the
/// run's or a tensor is missing or of another shape (an adapter made for
/// another base model).
fn from_adapter(cfg: &LlamaConfig, base: Box<dyn ParamSource>, dir: &Path) -> Result<FromAdapter> {
    let adapter = PeftAdapter::open(dir, cfg.num_hidden_layers)
        .with_context(|| format!("`model.adapter`: {}", dir.display()))?;
    if let Some(lora) = &cfg.lora {
        let origin = dir.display().to_string();
        runconfig::adapter::agrees(lora, &adapter.lora, &origin).map_err(anyhow::Error::msg)?;
    }
    let source = FromAdapter { base, adapter };
    validate(cfg, &source).with_context(|| {
        format!(
            "`model.adapter`: {} does not fit this model (an adapter made for another base model)",
            dir.display()
        )
    })?;
    Ok(source)
}

/// Builds this rank's engine: comm, layouts, master shards; LoRA dropout
/// masks drawn from `train.seed`.
pub fn engine(config: &Config, env: &RankEnv, device: Device) -> Result<Engine> {
    let (cfg, source) = model_source(config)?;
    let comm = crate::comm::connect(env, config.comm, config.overlap_comm)?;
    let dtype = crate::model::compute_kind(config.model.dtype);
    let mut engine = Engine::new(cfg, source.as_ref(), comm, dtype, device, &config.optimizer)?;
    engine.set_dropout_seed(config.train.seed);
    Ok(engine)
}

/// The training samples of the configured datasets, checked against the model.
pub fn samples(config: &Config, model: &LlamaConfig, rank: usize) -> Result<Dataset> {
    let tokenizer = data::tokenizer_path(config);
    let dataset = data::load_samples(config, tokenizer.as_deref(), &config.output_dir())?;
    if rank == 0 {
        for line in dataset.summary.lines() {
            println!("{line}");
        }
        for w in &dataset.summary.warnings {
            eprintln!("warning: {w}");
        }
    }
    let longest = dataset.train.max_row_len();
    if longest as i64 > model.max_position_embeddings {
        bail!(
            "sequences of {longest} tokens exceed the model's max_position_embeddings ({}); lower data.max_seq_length",
            model.max_position_embeddings
        );
    }
    if let Some(bad) = dataset
        .train
        .max_token()
        .filter(|&t| t as i64 >= model.vocab_size)
    {
        bail!(
            "token id {bad} is outside the model's vocabulary (vocab_size {})",
            model.vocab_size
        );
    }
    Ok(dataset)
}

/// Trains as the configuration says.
pub fn train(env: &RankEnv) -> Result<()> {
    let (config, plan) = load_config(env)?;
    crate::finish::check_final(&config)?;
    tch::set_num_threads(threads(&config, env) as i32);
    let (device, gpu) = crate::device::choose(config.device, env.local_rank)?;
    if env.rank == 0 {
        if let Some(g) = &gpu {
            println!("device: GPU {} ({})", g.index, g.name);
        }
    }
    // libtorch is initialised (threads, device); no model state exists yet.
    let _ = tch::Tensor::zeros([1], (Kind::Float, device));
    crate::memory::mark_baseline();
    // The plan against the free memory also settles which units
    // `train.activation_checkpointing: auto` recomputes.
    let memory = crate::memory::planned_here(&config, &plan, gpu.as_ref(), env.local_world_size)?;
    let mut engine = engine(&config, env, device)?;
    let recomputed = agreed_recompute(&mut engine, memory.recomputed_units)?;
    engine.set_recomputed_units(recomputed);
    let dataset = samples(&config, engine.model_config(), env.rank)?;
    let steps = Steps::new(
        dataset.train,
        dataset.pad_id,
        plan,
        config.train.seed,
        config.data.shuffle,
    )?;
    match crate::train::run(
        &config,
        &plan,
        &mut engine,
        &steps,
        &dataset.validation,
        gpu.as_ref(),
    )? {
        crate::train::Finish::Completed => {}
        crate::train::Finish::Stopped(step) => {
            if env.rank == 0 {
                println!(
                    "stopped on request after step {step}; re-run the same command to continue"
                );
            }
        }
    }
    Ok(())
}
