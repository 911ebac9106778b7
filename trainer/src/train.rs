//! The training loop: resume, then steps of gradient-accumulated
//! micro-batches under the learning-rate schedule, metrics, evaluation,
//! checkpoints, a graceful stop on request, and the final export.

use crate::ckpt::{self, RunState};
use crate::comm::ReduceOp;
use crate::data::batches::Steps;
use crate::data::{SampleSet, SetKind};
use crate::device::{flops_per_token, peak_bf16_flops, Gpu};
use crate::dpo::{self, Dpo};
use crate::eval::{evaluate, EvalRefs};
use crate::export::{ModelFiles, Summary};
use crate::metrics::{check_grad_norm, host_memory, memory_fields, start_record, MetricsFile};
use crate::objective::CausalLm;
use crate::progress::Progress;
use crate::references::{references, References};
use crate::sanity::{self, Observed};
use crate::schedule::Schedule;
use crate::zero::Engine;
use anyhow::{bail, Result};
use runconfig::resume::{checkpoints_dir, fingerprint};
use runconfig::{Config, Plan};
use serde_json::{json, Map, Value};
use std::time::Instant;
use tch::Tensor;

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
    let planned = config
        .train
        .planned_steps(steps.per_epoch)
        .map_err(anyhow::Error::msg)?;
    Ok(config
        .train
        .sanity_steps
        .map_or(planned, |s| s.min(planned)))
}

/// Runs the remaining steps; rank 0 logs metrics and writes the final weights.
pub fn run(
    config: &Config,
    plan: &Plan,
    engine: &mut Engine,
    steps: &Steps,
    validation: &SampleSet,
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
        &ckpt::candidates(&config.checkpoint.resume(), &root)?,
        &state.fingerprint,
    )?;
    if let Some(r) = &resumed {
        state.total_tokens = r.total_tokens;
        if rank == 0 {
            println!("resumed from {} at step {}", r.path.display(), r.step);
        }
    }
    crate::finish::clear(config, rank)?;
    let pairs = steps.set().kind == SetKind::Pairs;
    let refs: Option<References> = match pairs {
        true => Some(references(
            engine,
            config,
            &state.fingerprint,
            steps,
            validation,
            resumed.is_some(),
        )?),
        false => None,
    };
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
    let params = engine.specs.iter().map(|s| s.numel()).sum::<i64>() as f64;
    let per_token = flops_per_token(
        params,
        engine.cfg.num_hidden_layers as f64,
        engine.cfg.hidden_size as f64,
        config.data.max_seq_length as f64,
    );
    let micro = plan.micro_batch_size as usize;
    let mut seen = Observed {
        memory_limit_bytes: sanity::system_memory(),
        ..Observed::default()
    };
    let run_eval = |engine: &mut Engine, step: u64| -> Result<Option<Map<String, Value>>> {
        if validation.is_empty() {
            return Ok(None);
        }
        let r = refs.as_ref().map(|r| EvalRefs {
            beta: config.train.dpo_beta,
            chosen: &r.val_chosen,
            rejected: &r.val_rejected,
        });
        let mut m = evaluate(
            engine,
            validation,
            steps.pad_id(),
            micro,
            config.eval.max_batches,
            r.as_ref(),
        )?;
        m.insert("step".into(), json!(step));
        Ok(Some(m))
    };
    let (mut window_start, mut window_tokens) = (Instant::now(), 0i64);
    let mut last_loss = None;
    let progress = Progress::new(engine.steps_done, total);
    let (run_start, mut run_tokens) = (Instant::now(), 0i64);
    for step in engine.steps_done..total {
        let norm = steps.normaliser(step);
        let comm_before = engine.comm_bytes;
        let mut local: Vec<f64> = Vec::new();
        let mut tokens = 0i64;
        for m in 0..plan.grad_accum {
            let batch = steps.micro_batch(step, rank, m, engine.device);
            tokens += batch.tokens;
            let values = match &refs {
                None => engine.micro_step(&batch, &CausalLm { targets: norm })?,
                Some(r) => {
                    let items: Vec<i64> = steps
                        .micro_items(step, rank, m)
                        .iter()
                        .map(|&i| i as i64)
                        .collect();
                    let idx = Tensor::from_slice(&items);
                    let dpo = Dpo {
                        beta: config.train.dpo_beta,
                        pairs: norm,
                        ref_chosen: r.train_chosen.index_select(0, &idx),
                        ref_rejected: r.train_rejected.index_select(0, &idx),
                    };
                    engine.micro_step(&batch, &dpo)?
                }
            };
            local.resize(values.len(), 0.0);
            local.iter_mut().zip(&values).for_each(|(a, b)| *a += b);
        }
        local.push(tokens as f64);
        local.push(f64::from(u8::from(crate::stop::requested())));
        let mut sums = Tensor::from_slice(&local);
        engine.comm.all_reduce(&mut sums, ReduceOp::Sum)?;
        let sums = Vec::<f64>::try_from(sums)?;
        let (values, tokens, stop) = (
            &sums[..sums.len() - 2],
            sums[sums.len() - 2] as i64,
            sums[sums.len() - 1] > 0.0,
        );
        let lr = schedule.lr(step);
        let loss = values[0] / norm.max(1) as f64;
        last_loss = Some(loss);
        let kept = || {
            std::fs::read_to_string(root.join("latest"))
                .map_or("none".to_string(), |n| n.trim().to_string())
        };
        if !loss.is_finite() {
            bail!("the loss became {loss} at step {}: stopping before the update; the last checkpoint ({}) is kept (lower the learning rate?)", step + 1, kept());
        }
        let stats = engine
            .step(lr, config.train.max_grad_norm)
            .map_err(|e| anyhow::anyhow!("{e} at step {}: stopping; the last checkpoint ({}) is kept (lower the learning rate?)", step + 1, kept()))?;
        if rank == 0 {
            check_grad_norm(&seen.grad_norms, stats.grad_norm, step + 1);
        }
        seen.losses.push(loss);
        seen.grad_norms.push(stats.grad_norm);
        state.total_tokens += tokens;
        window_tokens += tokens;
        let done = step + 1;
        run_tokens += tokens;
        if rank == 0 {
            progress.update(
                done,
                loss,
                run_tokens as f64 / run_start.elapsed().as_secs_f64().max(1e-9),
            );
        }
        state.epoch = done / steps.per_epoch;
        if done % config.logging.every_steps == 0 || done == total {
            let secs = window_start.elapsed().as_secs_f64().max(1e-9);
            let tps = window_tokens as f64 / secs;
            seen.tokens_per_s = tps;
            let mut r = Map::new();
            r.insert("step".into(), json!(done));
            match pairs {
                false => drop(r.insert("train_loss".into(), json!(loss))),
                true => dpo::STATS
                    .iter()
                    .zip(values)
                    .for_each(|(k, v)| drop(r.insert(k.to_string(), json!(v / norm as f64)))),
            }
            r.insert("learning_rate".into(), json!(lr));
            r.insert("grad_norm".into(), json!(stats.grad_norm));
            r.insert("epoch".into(), json!(done as f64 / steps.per_epoch as f64));
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
                seen.peak_memory_bytes = seen.peak_memory_bytes.max(used);
            }
            if let Some(m) = metrics.as_mut() {
                m.record(&r)?;
            }
            (window_start, window_tokens) = (Instant::now(), 0);
        }
        let eval_due = config
            .eval
            .every_steps
            .is_some_and(|e| done % e == 0 || done == total);
        if eval_due || (done == 1 && config.eval.every_steps.is_some()) {
            if let Some(e) = run_eval(engine, done)? {
                seen.eval_losses
                    .push(e["eval_loss"].as_f64().unwrap_or(f64::NAN));
                if let Some(m) = metrics.as_mut() {
                    m.record(&e)?;
                }
            }
        }
        let epoch_end = config.checkpoint.at_epoch_end && done % steps.per_epoch == 0;
        // The end of a full run is always saved: `finished` points at it.
        let last = done == total && (saving.is_some() || config.train.sanity_steps.is_none());
        let due = epoch_end || last || saving.is_some_and(|every| done % every == 0);
        if due || stop {
            ckpt::save(engine, &root, &state)?;
        }
        if stop {
            return Ok(Finish::Stopped(done));
        }
    }
    if config.train.sanity_steps.is_some() {
        seen.peak_memory_bytes = seen.peak_memory_bytes.max(host_memory().1);
        let (text, green) = sanity::table(&seen, config.train.max_grad_norm);
        if rank == 0 {
            println!("{text}");
        }
        if !green {
            bail!("the sanity check is red (see the table above)");
        }
        return Ok(Finish::Completed);
    }
    let summary = Summary {
        step: total,
        train_loss: last_loss,
        total_tokens: state.total_tokens,
        world_size: plan.world_size as usize,
    };
    engine.check_finite().map_err(|e| {
        let kept = ckpt::last_good(&root);
        anyhow::anyhow!("{e}: final/ was not written; the last good checkpoint is {kept}")
    })?;
    crate::finish::export(engine, config, plan, &summary)?;
    Ok(Finish::Completed)
}
