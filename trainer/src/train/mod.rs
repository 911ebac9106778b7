//! The training loop. [`Trainer`] owns the loop's state; [`run`] is the
//! loop: one [`Trainer::step`] (gradient-accumulated micro-batches, one
//! optimizer step) per iteration, then what follows it: metrics,
//! evaluation, checkpoint, stop request; at the end the sanity table or the
//! final export.
//!
//! `trainer.rs` sets a run up (resume, objective, metrics); `step.rs` is
//! the step; `report.rs` turns a [`StepReport`] into the metrics record;
//! `cadence.rs` decides when to evaluate and save, and ends the run.

mod cadence;
mod report;
mod step;
mod trainer;

pub use step::StepReport;
pub use trainer::Trainer;

use crate::data::batches::Steps;
use crate::data::SampleSet;
use crate::device::Gpu;
use crate::zero::Engine;
use anyhow::Result;
use runconfig::{Config, Plan};

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
    let mut trainer = Trainer::new(config, plan, engine, steps, validation, gpu)?;
    for step in trainer.remaining() {
        let report = trainer.step(step)?;
        trainer.observe(&report)?;
        trainer.evaluate_if_due(report.step)?;
        let stop = trainer.stop_after(&report)?;
        trainer.checkpoint_if_due(&report, stop)?;
        if stop {
            return Ok(Finish::Stopped(report.step));
        }
    }
    trainer.finish()
}
