//! The training loop: resume, then steps of gradient-accumulated
//! micro-batches under the learning-rate schedule, metrics, checkpoints, a
//! graceful stop on request, and the final export.

use crate::ckpt::{self, RunState};
use crate::comm::ReduceOp;
use crate::data::batches::{Steps, IGNORE};
use crate::device::{flops_per_token, peak_bf16_flops, Gpu};
use crate::export::{write_final, ModelFiles, Summary};
use crate::metrics::{memory_fields, MetricsFile};
use crate::objective::{Batch, CausalLm};
use crate::schedule::Schedule;
use crate::zero::Engine;
use anyhow::{bail, Result};
use runconfig::resume::{checkpoints_dir, fingerprint};
use runconfig::{Config, Plan};
use serde_json::{json, Map, Value};
use std::time::Instant;
use tch::{Kind, Tensor};

/// How the loop ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Finish {
    /// Every step ran and the final weights were exported.
    Completed,
    /// A stop was requested: a checkpoint was saved after this step.
    Stopped(u64),
}

/// Number of optimizer steps the run takes.
pub fn total_steps(config: &Config, steps: &Steps) -> Result<u64> {
    match (config.train.max_steps, config.train.epochs) {
        (Some(n), _) => Ok(n),
        (None, Some(e)) if e > 0.0 => Ok(((e * steps.per_epoch as f64).ceil() as u64).max(1)),
        _ => bail!("set `train.max_steps` or a positive `train.epochs`"),
    }
}

fn start_record(
    config: &Config,
    plan: &Plan,
    engine: &Engine,
    total: u64,
    resumed: Option<&ckpt::Resumed>,
) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("event".into(), json!("start"));
    r.insert("world_size".into(), json!(plan.world_size));
    r.insert("grad_accum".into(), json!(plan.grad_accum));
    r.insert("total_steps".into(), json!(total));
    r.insert(
        "parameters".into(),
        json!(engine.specs.iter().map(|s| s.numel()).sum::<i64>()),
    );
    r.insert(
        "model_state_bytes_per_rank".into(),
        json!(engine.state_bytes()),
    );
    r.insert("optimizer_bits".into(), json!(config.optimizer.bits));
    let (opt, len) = engine.shards.iter().fold((0, 0), |(b, n), s| {
        (b + s.opt.state_bytes(), n + s.layout.shard_len as u64)
    });
    r.insert(
        "optimizer_bytes_per_param".into(),
        json!(opt as f64 / len as f64),
    );
    if let Some(res) = resumed {
        r.insert("resumed_from".into(), json!(res.path.display().to_string()));
        r.insert("resumed_step".into(), json!(res.step));
    }
    r
}

/// Runs the remaining steps; rank 0 logs metrics and writes the final weights.
pub fn run(
    config: &Config,
    plan: &Plan,
    engine: &mut Engine,
    steps: &Steps,
    gpu: Option<&Gpu>,
) -> Result<Finish> {
    crate::stop::install();
    let total = total_steps(config, steps)?;
    let schedule = Schedule::new(&config.train.lr_schedule, config.train.learning_rate, total);
    let rank = engine.comm.rank();
    let out_dir = config.output_dir();
    let root = checkpoints_dir(config);
    let config_yaml = serde_yaml::to_string(config)?;
    let mut state = RunState {
        fingerprint: fingerprint(config, plan),
        config_yaml: &config_yaml,
        epoch: 0,
        total_tokens: 0,
        keep_last: config.checkpoint.keep_last,
        model_config: ModelFiles::of(config)?.config_json,
    };
    let resumed = ckpt::resume(
        engine,
        &ckpt::candidates(config.checkpoint.resume.as_deref(), &root)?,
        &state.fingerprint,
    )?;
    if let Some(r) = &resumed {
        state.total_tokens = r.total_tokens;
        if rank == 0 {
            println!("resumed from {} at step {}", r.path.display(), r.step);
        }
    }
    let mut metrics = if rank == 0 {
        Some(MetricsFile::open(&out_dir)?)
    } else {
        None
    };
    if let Some(m) = metrics.as_mut() {
        m.record(&start_record(config, plan, engine, total, resumed.as_ref()))?;
    }
    let saving = config.checkpoint.every_steps;
    let peak = config
        .logging
        .peak_flops_per_device
        .or_else(|| gpu.and_then(|g| peak_bf16_flops(&g.name)));
    let m = &engine.cfg;
    let params = engine.specs.iter().map(|s| s.numel()).sum::<i64>() as f64;
    let per_token = flops_per_token(
        params,
        m.num_hidden_layers as f64,
        m.hidden_size as f64,
        config.data.max_seq_length as f64,
    );
    let mut last_loss = None;
    let (mut window_start, mut window_tokens) = (Instant::now(), 0i64);
    for step in engine.steps_done..total {
        let targets = steps.targets(step);
        let comm_before = engine.comm_bytes;
        let mut local = [0.0f64; 3]; // loss sum, input tokens, stop requested
        for micro in 0..plan.grad_accum {
            let mb = steps.micro_batch(step, rank, micro, engine.device);
            let batch = Batch {
                input_ids: mb.input_ids,
                labels: mb.labels,
                position_ids: None,
                segment_ids: None,
            };
            local[0] += engine.micro_step(&batch, &CausalLm { targets })?[0];
            local[1] += batch.labels.ne(IGNORE).sum(Kind::Int64).int64_value(&[]) as f64;
        }
        local[2] = f64::from(u8::from(crate::stop::requested()));
        let mut sums = Tensor::from_slice(&local);
        engine.comm.all_reduce(&mut sums, ReduceOp::Sum)?;
        let (loss_sum, tokens, stop) = (
            sums.double_value(&[0]),
            sums.double_value(&[1]) as i64,
            sums.double_value(&[2]) > 0.0,
        );
        let lr = schedule.lr(step);
        let stats = engine.step(lr, config.train.max_grad_norm)?;
        let loss = loss_sum / targets.max(1) as f64;
        last_loss = Some(loss);
        if !loss.is_finite() {
            bail!(
                "the loss became {loss} at step {}: stopping (lower the learning rate?)",
                step + 1
            );
        }
        state.total_tokens += tokens;
        window_tokens += tokens;
        let done = step + 1;
        state.epoch = done / steps.per_epoch;
        if done % config.logging.every_steps == 0 || done == total {
            if let Some(m) = metrics.as_mut() {
                let secs = window_start.elapsed().as_secs_f64().max(1e-9);
                let tps = window_tokens as f64 / secs;
                let mut r = Map::new();
                r.insert("step".into(), json!(done));
                r.insert("train_loss".into(), json!(loss));
                r.insert("learning_rate".into(), json!(lr));
                r.insert("grad_norm".into(), json!(stats.grad_norm));
                r.insert("total_tokens".into(), json!(state.total_tokens));
                r.insert("tokens_per_s".into(), json!(tps));
                r.insert("per_device_tps".into(), json!(tps / plan.world_size as f64));
                r.insert("comm_bytes".into(), json!(engine.comm_bytes - comm_before));
                if let Some(p) = peak {
                    r.insert(
                        "mfu".into(),
                        json!(tps / plan.world_size as f64 * per_token / p),
                    );
                }
                if let Value::Object(mem) = memory_fields() {
                    r.extend(mem);
                }
                if let Some(used) = gpu.and_then(Gpu::used_bytes) {
                    r.insert("gpu_memory_used_bytes".into(), json!(used));
                }
                m.record(&r)?;
            }
            (window_start, window_tokens) = (Instant::now(), 0);
        }
        let epoch_end = config.checkpoint.at_epoch_end && done % steps.per_epoch == 0;
        let due = epoch_end || saving.is_some_and(|every| done % every == 0 || done == total);
        if due || stop {
            ckpt::save(engine, &root, &state)?;
        }
        if stop {
            return Ok(Finish::Stopped(done));
        }
    }
    let summary = Summary {
        step: total,
        train_loss: last_loss,
        total_tokens: state.total_tokens,
        world_size: plan.world_size as usize,
    };
    write_final(
        engine,
        config,
        &ModelFiles::of(config)?,
        &out_dir.join("final"),
        &summary,
    )?;
    Ok(Finish::Completed)
}
