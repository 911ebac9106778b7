//! The training loop: steps of gradient-accumulated micro-batches, the
//! learning-rate schedule, metrics, and the final weights.

use crate::comm::ReduceOp;
use crate::data::batches::Steps;
use crate::metrics::{memory_fields, MetricsFile};
use crate::schedule::Schedule;
use crate::zero::Engine;
use anyhow::{bail, Result};
use runconfig::{Config, Plan};
use serde_json::{json, Map, Value};
use std::time::Instant;
use tch::{Kind, Tensor};

/// Number of optimizer steps the run takes.
pub fn total_steps(config: &Config, steps: &Steps) -> Result<u64> {
    match (config.train.max_steps, config.train.epochs) {
        (Some(n), _) => Ok(n),
        (None, Some(e)) if e > 0.0 => Ok(((e * steps.per_epoch as f64).ceil() as u64).max(1)),
        _ => bail!("set `train.max_steps` or a positive `train.epochs`"),
    }
}

/// Runs every step; rank 0 logs metrics and writes the final weights.
pub fn run(config: &Config, plan: &Plan, engine: &mut Engine, steps: &Steps) -> Result<()> {
    let total = total_steps(config, steps)?;
    let schedule = Schedule::new(&config.train.lr_schedule, config.train.learning_rate, total);
    let rank = engine.comm.rank();
    let out_dir = config.output_dir();
    let mut metrics = if rank == 0 {
        Some(MetricsFile::open(&out_dir)?)
    } else {
        None
    };
    if let Some(m) = metrics.as_mut() {
        let mut info = Map::new();
        info.insert("event".into(), json!("start"));
        info.insert("world_size".into(), json!(plan.world_size));
        info.insert("grad_accum".into(), json!(plan.grad_accum));
        info.insert("total_steps".into(), json!(total));
        info.insert(
            "parameters".into(),
            json!(engine.specs.iter().map(|s| s.numel()).sum::<i64>()),
        );
        info.insert(
            "model_state_bytes_per_rank".into(),
            json!(engine.state_bytes()),
        );
        let (opt, len) = engine.shards.iter().fold((0, 0), |(b, n), s| {
            (b + s.opt.state_bytes(), n + s.layout.shard_len as u64)
        });
        info.insert(
            "optimizer_bytes_per_param".into(),
            json!(opt as f64 / len as f64),
        );
        m.record(&info)?;
    }
    let mut total_tokens: i64 = 0;
    let (mut window_start, mut window_tokens) = (Instant::now(), 0i64);
    for step in engine.steps_done..total {
        let targets = steps.targets(step);
        let comm_before = engine.comm_bytes;
        let mut local = [0.0f64; 2]; // loss sum, input tokens
        for micro in 0..plan.grad_accum {
            let mb = steps.micro_batch(step, rank, micro, engine.device);
            local[0] += engine.micro_step(&mb.input_ids, &mb.labels, targets)?;
            local[1] += mb
                .labels
                .ne(crate::data::batches::IGNORE)
                .sum(Kind::Int64)
                .int64_value(&[]) as f64;
        }
        let mut sums = Tensor::from_slice(&local);
        engine.comm.all_reduce(&mut sums, ReduceOp::Sum)?;
        let (loss_sum, tokens) = (sums.double_value(&[0]), sums.double_value(&[1]) as i64);
        let lr = schedule.lr(step);
        let stats = engine.step(lr, config.train.max_grad_norm)?;
        let loss = loss_sum / targets.max(1) as f64;
        if !loss.is_finite() {
            bail!(
                "the loss became {loss} at step {}: stopping (lower the learning rate?)",
                step + 1
            );
        }
        total_tokens += tokens;
        window_tokens += tokens;
        let done = step + 1;
        if done % config.logging.every_steps == 0 || done == total {
            if let Some(m) = metrics.as_mut() {
                let secs = window_start.elapsed().as_secs_f64().max(1e-9);
                let tps = window_tokens as f64 / secs;
                let mut r = Map::new();
                r.insert("step".into(), json!(done));
                r.insert("train_loss".into(), json!(loss));
                r.insert("learning_rate".into(), json!(lr));
                r.insert("grad_norm".into(), json!(stats.grad_norm));
                r.insert("total_tokens".into(), json!(total_tokens));
                r.insert("tokens_per_s".into(), json!(tps));
                r.insert("per_device_tps".into(), json!(tps / plan.world_size as f64));
                r.insert("comm_bytes".into(), json!(engine.comm_bytes - comm_before));
                if let Value::Object(mem) = memory_fields() {
                    r.extend(mem);
                }
                m.record(&r)?;
            }
            (window_start, window_tokens) = (Instant::now(), 0);
        }
    }
    crate::export::write_final(engine, config, &out_dir.join("final"))
}
