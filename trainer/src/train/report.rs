//! What rank 0 records after a step: the metrics record of a
//! [`StepReport`] with the run's totals, throughput and model FLOPs
//! utilisation; and the observations the sanity table judges.

use super::{StepReport, Trainer};
use crate::device::{flops_per_token, peak_bf16_flops, Gpu};
use crate::metrics::{check_grad_norm, memory_fields};
use crate::zero::Engine;
use anyhow::Result;
use runconfig::Config;
use serde_json::{json, Map, Value};
use std::time::Instant;

/// Tokens counted since an instant.
pub struct Window {
    start: Instant,
    tokens: i64,
}

impl Window {
    /// A window opening now.
    pub fn start() -> Window {
        Window {
            start: Instant::now(),
            tokens: 0,
        }
    }

    /// Tokens per second since the window opened.
    pub fn rate(&self) -> f64 {
        self.tokens as f64 / self.start.elapsed().as_secs_f64().max(1e-9)
    }
}

/// Model FLOPs utilisation: training FLOPs per token over the device's peak.
pub struct Mfu {
    flops_per_token: f64,
    peak: f64,
}

impl Mfu {
    /// With `logging.peak_flops_per_device`, else the GPU's known peak; None
    /// when neither is known (the CPU).
    pub fn of(config: &Config, engine: &Engine, gpu: Option<&Gpu>) -> Option<Mfu> {
        let peak = config
            .logging
            .peak_flops_per_device
            .or_else(|| gpu.and_then(|g| peak_bf16_flops(&g.name)))?;
        let model = engine.model_config();
        let flops_per_token = flops_per_token(
            engine.parameter_count() as f64,
            model.num_hidden_layers as f64,
            model.hidden_size as f64,
            config.data.max_seq_length as f64,
        );
        Some(Mfu {
            flops_per_token,
            peak,
        })
    }
}

impl Mfu {
    /// Tokens/s of one device at utilisation `share` (0..1).
    pub fn tokens_per_s_at(&self, share: f64) -> f64 {
        share * self.peak / self.flops_per_token
    }
}

/// The run as it stands when a step is recorded.
pub struct Totals {
    /// Epochs done, fractional.
    pub epoch: f64,
    /// Real tokens trained on so far (a resumed run counts from its start).
    pub total_tokens: i64,
    /// Tokens per second over the window since the last record.
    pub tokens_per_s: f64,
    /// Ranks, for the per-device throughput.
    pub world_size: f64,
    /// GPU memory in use (all processes), when on a GPU.
    pub gpu_used_bytes: Option<u64>,
}

/// The metrics record of step `r`.
pub fn step_record(r: &StepReport, t: &Totals, mfu: Option<&Mfu>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("step".into(), json!(r.step));
    for (name, value) in &r.objective {
        m.insert(name.to_string(), json!(value));
    }
    m.insert("learning_rate".into(), json!(r.lr));
    m.insert("grad_norm".into(), json!(r.grad_norm));
    m.insert("epoch".into(), json!(t.epoch));
    m.insert("total_tokens".into(), json!(t.total_tokens));
    m.insert("tokens_per_s".into(), json!(t.tokens_per_s));
    let per_device = t.tokens_per_s / t.world_size;
    m.insert("per_device_tps".into(), json!(per_device));
    m.insert("comm_bytes".into(), json!(r.comm_bytes));
    m.insert("comm_wait_s".into(), json!(r.comm_wait_s));
    if let Some(u) = mfu {
        m.insert("mfu".into(), json!(per_device * u.flops_per_token / u.peak));
    }
    if let Value::Object(mem) = memory_fields() {
        m.extend(mem);
    }
    if let Some(used) = t.gpu_used_bytes {
        m.insert("gpu_memory_used_bytes".into(), json!(used));
    }
    m
}

impl Trainer<'_> {
    /// Takes in a step: the sanity observations, token counts, the progress
    /// bar, and every `logging.every_steps` (and at the end) the metrics.
    pub fn observe(&mut self, r: &StepReport) -> Result<()> {
        let rank0 = self.engine.rank() == 0;
        if rank0 {
            check_grad_norm(&self.seen.grad_norms, r.grad_norm, r.step);
        }
        self.seen.losses.push(r.loss);
        self.seen.grad_norms.push(r.grad_norm);
        self.total_tokens += r.tokens;
        self.window.tokens += r.tokens;
        self.since_start.tokens += r.tokens;
        if rank0 {
            self.progress
                .update(r.step, r.loss, self.since_start.rate());
        }
        self.epoch = r.step / self.steps.per_epoch;
        if r.step.is_multiple_of(self.config.logging.every_steps) || r.step == self.total {
            self.log(r)?;
        }
        Ok(())
    }

    /// The line rank 0 prints when the last step has run.
    pub(super) fn end_line(&self) -> String {
        crate::console::end(&crate::console::End {
            steps: self.total,
            ran: self.total.saturating_sub(self.progress.first_step()),
            seconds: self.since_start.start.elapsed().as_secs_f64(),
            tokens: self.since_start.tokens.max(0) as u64,
            train_loss: self.last_loss,
            eval_loss: self.last_eval.get("eval_loss").and_then(|v| v.as_f64()),
        })
    }

    /// Records step `r` and opens a new throughput window.
    fn log(&mut self, r: &StepReport) -> Result<()> {
        let totals = Totals {
            epoch: r.step as f64 / self.steps.per_epoch as f64,
            total_tokens: self.total_tokens,
            tokens_per_s: self.window.rate(),
            world_size: self.plan.world_size as f64,
            gpu_used_bytes: self.gpu.and_then(Gpu::used_bytes),
        };
        self.seen.tokens_per_s = totals.tokens_per_s;
        if let Some(used) = totals.gpu_used_bytes {
            self.seen.peak_memory_bytes = self.seen.peak_memory_bytes.max(used);
        }
        let record = step_record(r, &totals, self.mfu.as_ref());
        self.record(&record)?;
        self.window = Window::start();
        Ok(())
    }
}
