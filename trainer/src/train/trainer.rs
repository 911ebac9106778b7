//! The state of a training run and its setup: resume from a checkpoint,
//! the objective from `data.objective` (DPO computes or loads its
//! reference log-probs), the metrics file and its first record.

use super::report::{Mfu, Window};
use super::total_steps;
use crate::ckpt::{self, Resumed};
use crate::data::batches::Steps;
use crate::data::SampleSet;
use crate::device::Gpu;
use crate::export::ModelFiles;
use crate::metrics::{start_record, MetricsFile};
use crate::objective::{NextToken, RunObjective, Setup};
use crate::progress::Progress;
use crate::references::dpo_run;
use crate::sanity::{system_memory, Observed};
use crate::schedule::Schedule;
use crate::zero::Engine;
use anyhow::Result;
use runconfig::contracts::checkpoint::{checkpoints_dir, fingerprint};
use runconfig::{Config, Objective, Plan};
use serde_json::Value;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A run in progress: the engine, its data and everything the loop keeps
/// between steps.
pub struct Trainer<'a> {
    pub(super) config: &'a Config,
    pub(super) plan: &'a Plan,
    pub(super) engine: &'a mut Engine,
    pub(super) steps: &'a Steps,
    pub(super) validation: &'a SampleSet,
    pub(super) gpu: Option<&'a Gpu>,
    /// What each step optimises (`data.objective`).
    pub(super) objective: Box<dyn RunObjective>,
    pub(super) schedule: Schedule,
    /// Optimizer steps of the whole run.
    pub(super) total: u64,
    /// `<output_dir>/checkpoints`.
    pub(super) root: PathBuf,
    /// What every checkpoint records besides the shards.
    pub(super) fingerprint: Value,
    pub(super) config_yaml: String,
    pub(super) model_config: PathBuf,
    pub(super) epoch: u64,
    pub(super) total_tokens: i64,
    /// Rank 0's metrics.jsonl.
    pub(super) metrics: Option<MetricsFile>,
    /// What the sanity table judges.
    pub(super) seen: Observed,
    pub(super) mfu: Option<Mfu>,
    /// Tokens since the last metrics record, and since the loop started.
    pub(super) window: Window,
    pub(super) since_start: Window,
    pub(super) progress: Progress,
    pub(super) last_loss: Option<f64>,
    /// The last step's objective values and the last evaluation, for the card.
    pub(super) last_values: Vec<(&'static str, f64)>,
    pub(super) last_eval: serde_json::Map<String, Value>,
}

impl<'a> Trainer<'a> {
    /// Sets a run up: resumes `engine` from the newest usable checkpoint,
    /// prepares the objective and opens the metrics (rank 0).
    pub fn new(
        config: &'a Config,
        plan: &'a Plan,
        engine: &'a mut Engine,
        steps: &'a Steps,
        validation: &'a SampleSet,
        gpu: Option<&'a Gpu>,
    ) -> Result<Trainer<'a>> {
        let total = total_steps(config, steps)?;
        let root = checkpoints_dir(config);
        let config_yaml = serde_yaml::to_string(config)?;
        let model_config = ModelFiles::of(config)?.config_json;
        let fingerprint = fingerprint(config, plan);
        let resumed = resume(engine, config, &root, &fingerprint)?;
        crate::finish::clear(config, engine.rank())?;
        let objective = run_objective(&mut Setup {
            engine: &mut *engine,
            config,
            fingerprint: &fingerprint,
            steps,
            validation,
            resumed: resumed.is_some(),
        })?;
        let metrics = (engine.rank() == 0)
            .then(|| MetricsFile::open(&config.output_dir(), config.logging.tensorboard))
            .transpose()?;
        let mut trainer = Trainer {
            schedule: Schedule::new(&config.train.lr_schedule, config.train.learning_rate, total),
            mfu: Mfu::of(config, engine, gpu),
            progress: Progress::new(engine.steps_done(), total),
            total_tokens: resumed.as_ref().map_or(0, |r| r.total_tokens),
            seen: Observed {
                memory_limit_bytes: gpu.and_then(Gpu::total_bytes).unwrap_or_else(system_memory),
                ..Observed::default()
            },
            window: Window::start(),
            since_start: Window::start(),
            epoch: 0,
            last_loss: None,
            last_values: Vec::new(),
            last_eval: serde_json::Map::new(),
            config,
            plan,
            engine,
            steps,
            validation,
            gpu,
            objective,
            total,
            root,
            fingerprint,
            config_yaml,
            model_config,
            metrics,
        };
        let mut first = start_record(config, plan, trainer.engine, total, resumed.as_ref());
        let recomputed = trainer.engine.recomputed_units() as u64;
        first.extend(crate::memory::start_fields(config, plan, recomputed)?);
        trainer.record(&first)?;
        Ok(trainer)
    }

    /// The 0-based steps still to run.
    pub fn remaining(&self) -> Range<u64> {
        self.engine.steps_done()..self.total
    }

    /// Writes and prints a metrics record (rank 0; other ranks have no
    /// metrics file).
    pub(super) fn record(&mut self, record: &serde_json::Map<String, Value>) -> Result<()> {
        if let Some(m) = self.metrics.as_mut() {
            m.record(record)?;
            println!(
                "{}",
                crate::console::line(record, &self.progress, self.plan)
            );
        }
        Ok(())
    }
}

/// What each step optimises, from `data.objective`.
fn run_objective(setup: &mut Setup) -> Result<Box<dyn RunObjective>> {
    Ok(match setup.config.data.objective {
        Objective::Pretrain | Objective::Sft => Box::new(NextToken),
        Objective::Dpo => Box::new(dpo_run(setup)?),
    })
}

/// Resumes `engine` as `checkpoint.resume` says; rank 0 says from where.
fn resume(
    engine: &mut Engine,
    config: &Config,
    root: &Path,
    fingerprint: &Value,
) -> Result<Option<Resumed>> {
    let resumed = ckpt::resume(
        engine,
        &ckpt::candidates(&config.checkpoint.resume(), root)?,
        fingerprint,
    )?;
    if let Some(r) = &resumed {
        if engine.rank() == 0 {
            println!("resumed from {} at step {}", r.path.display(), r.step);
        }
    }
    Ok(resumed)
}
