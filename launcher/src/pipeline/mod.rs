//! `launch N pipeline.yaml`: runs a pipeline's jobs one at a time, each as
//! its own `launch` process (see [`job`]), keeping the ledger
//! `<output_dir>/pipeline.jsonl` ([`ledger`]). A re-run skips completed
//! jobs, resumes interrupted or failed ones from their newest checkpoint and
//! refuses a config that changed the meaning of a completed job.

pub mod check;
mod job;
pub mod ledger;
mod preflight;
mod rerun;
pub mod status;

use crate::cli::Usage;
use crate::hub::fetch::Mode;
use crate::{lock, signals};
use anyhow::{bail, Result};
use job::End;
use ledger::{now, Ledger, Status};
use runconfig::contracts::checkpoint::complete_checkpoints;
use runconfig::contracts::finished::{state, State};
use runconfig::pipeline::{fans_out, Job, Pipeline, Start};
use runconfig::YamlFile;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

/// How a job the pipeline ran ended, for the caller.
enum Next {
    Continue,
    Stop(ExitCode),
}

/// Runs the pipeline `file` with `nproc` processes per job (unless a
/// stage says `world_size`), with `sets` applied to every stage after its
/// own `set:`. Every stage is checked before the first one trains.
pub fn run(nproc: usize, file: &YamlFile, sets: &[String], rerun: &[String]) -> Result<ExitCode> {
    let p = runconfig::pipeline::load_file(file)?;
    let path = file.path();
    let device = (crate::resolve::visible_gpus() >= nproc)
        .then(crate::resolve::device_memory)
        .flatten();
    let opts = preflight::Options {
        sets,
        device,
        must_fit: true,
    };
    preflight::all(&p, path, nproc, &opts)?;
    std::fs::create_dir_all(&p.output_dir)?;
    let _lock = lock::acquire(&p.output_dir)?;
    let mut ledger = Ledger::open(&p.output_dir).map_err(|e| Usage(format!("{e:#}")))?;
    rerun::apply(&p, rerun, &mut ledger)?;
    pending(&p, &mut ledger)?;
    signals::install();
    println!(
        "launch: pipeline {}: {} stage(s), ledger {}",
        p.pipeline,
        p.stages.len(),
        p.output_dir.join(ledger::LEDGER).display()
    );
    let mut starts = BTreeMap::new();
    for i in 0..p.stages.len() {
        let s = &p.stages[i];
        let world = s.world_size.unwrap_or(nproc as u32);
        let start = s.from.as_ref().and_then(|f| starts.get(f));
        let jobs = jobs(&p, i, sets, start.unwrap_or(&Start::Model))?;
        for job in &jobs {
            if let Next::Stop(code) = run_job(&p, job, world, &mut ledger)? {
                return Ok(code);
            }
        }
        if p.stages
            .iter()
            .any(|later| later.from.as_ref() == Some(&s.name))
        {
            // What it trained, as its run resolved it (its base model's
            // snapshot, its adapters' settings).
            let r = job_config(&jobs[0], world)?;
            starts.insert(s.name.clone(), Start::of(&r.config));
        }
    }
    println!("launch: pipeline {} complete", p.pipeline);
    Ok(ExitCode::SUCCESS)
}

/// Gives every stage a row before anything runs, so that `launch status`
/// lists the whole pipeline in order (a fanned-out stage gets its rows
/// when the jobs are known).
fn pending(p: &Pipeline, ledger: &mut Ledger) -> Result<()> {
    for s in p.stages.iter().filter(|s| !fans_out(s)) {
        ledger.row(&s.name, "main", &p.stage_dir(&s.name));
    }
    ledger.order(&p.stages.iter().map(|s| s.name.as_str()).collect::<Vec<_>>());
    ledger.save()
}

/// The jobs of stage `i` (a fan-out lists its `from` stage's checkpoints
/// now), starting as `start` says, each with the command line's `sets`
/// after the stage's own.
fn jobs(p: &Pipeline, i: usize, sets: &[String], start: &Start) -> Result<Vec<Job>> {
    let s = &p.stages[i];
    let mut checkpoints = Vec::new();
    if fans_out(s) {
        let from = s.from.as_deref().unwrap_or_default();
        checkpoints = complete_checkpoints(&p.stage_dir(from).join("checkpoints"));
        if checkpoints.is_empty() {
            bail!("stage {}: each_checkpoint, but stage {from} saved no complete checkpoint (set its checkpoint.every_steps)", s.name);
        }
    }
    let mut jobs = p.jobs(i, &checkpoints, start);
    if jobs.is_empty() {
        bail!(
            "stage {}: none of the steps in each_checkpoint has a complete checkpoint of stage {}",
            s.name,
            s.from.as_deref().unwrap_or_default()
        );
    }
    for job in &mut jobs {
        job.sets.extend_from_slice(sets);
    }
    Ok(jobs)
}

fn label(job: &Job) -> String {
    if job.job == "main" {
        job.stage.clone()
    } else {
        format!("{}/{}", job.stage, job.job)
    }
}

/// Skips a completed job (after checking its config still means the same
/// run), or runs it and records how it ended.
fn run_job(p: &Pipeline, job: &Job, world: u32, ledger: &mut Ledger) -> Result<Next> {
    let name = label(job);
    if ledger.row(&job.stage, &job.job, &job.output_dir).status == Status::Completed {
        unchanged(job, world, &name)?;
        println!("launch: pipeline: {name}: completed, skipped");
        return Ok(Next::Continue);
    }
    let logs = p.output_dir.join("logs").join(&job.stage).join(&job.job);
    let row = ledger.row(&job.stage, &job.job, &job.output_dir);
    row.status = Status::Running;
    row.attempts += 1;
    row.started = Some(now());
    row.finished = None;
    row.log = Some(logs.clone());
    ledger.save()?;
    println!(
        "launch: pipeline: {name}: starting (attempt {})",
        ledger.row(&job.stage, &job.job, &job.output_dir).attempts
    );
    let end = match &job.base_checkpoint {
        Some(ck) => match job::export(ck, &model_dir(job)) {
            Ok(End::Done) => job::run(job, world, &logs)?,
            other => other?,
        },
        None => job::run(job, world, &logs)?,
    };
    let end = match end {
        End::Done => completed(job, world),
        other => other,
    };
    record(ledger, job, &end, &logs)?;
    Ok(report(
        p,
        &name,
        &end,
        ledger
            .row(&job.stage, &job.job, &job.output_dir)
            .log
            .clone(),
    ))
}

/// The export a fanned-out job starts from (its model or adapter).
fn model_dir(job: &Job) -> std::path::PathBuf {
    job.model.clone().unwrap_or_default()
}

/// A job that exited 0 is completed only with its `final/` written, as
/// the config the run used (Hub ids resolved) says.
fn completed(job: &Job, world: u32) -> End {
    match job_config(job, world) {
        Ok(r) if matches!(state(&r.config, &r.plan), State::Finished { .. }) => End::Done,
        Ok(_) => {
            eprintln!("launch: error: {}: the run ended without a complete final/ (a run with train.sanity_steps writes none; set train.max_steps or train.epochs instead)", label(job));
            End::Failed(1)
        }
        Err(e) => {
            eprintln!("launch: error: {}: {e:#}", label(job));
            End::Failed(1)
        }
    }
}

/// The config `job` runs with, resolved as its run resolves it (Hub ids
/// looked up, nothing downloaded).
fn job_config(job: &Job, world: u32) -> Result<runconfig::Resolved> {
    let run = crate::resolve::run_config(
        &YamlFile::read(&job.config),
        world as usize,
        world,
        &job.sets,
        Mode::Plan,
    )?;
    Ok(run.resolved)
}

fn record(ledger: &mut Ledger, job: &Job, end: &End, logs: &Path) -> Result<()> {
    let row = ledger.row(&job.stage, &job.job, &job.output_dir);
    row.finished = Some(now());
    (row.status, row.exit_code) = match end {
        End::Done => (Status::Completed, Some(0)),
        End::Stopped(sig) => (Status::Interrupted, Some(128 + sig)),
        End::Failed(code) => (Status::Failed, Some(*code)),
    };
    row.final_dir = matches!(end, End::Done).then(|| job.output_dir.join("final"));
    row.log = Some(job::newest_log(logs));
    ledger.save()
}

fn report(p: &Pipeline, name: &str, end: &End, log: Option<std::path::PathBuf>) -> Next {
    let log = log.map_or(String::new(), |l| l.display().to_string());
    match end {
        End::Done => {
            println!("launch: pipeline: {name}: completed");
            Next::Continue
        }
        End::Stopped(sig) => {
            eprintln!("launch: pipeline {} stopped by {} during stage {name}: marked interrupted, no further job started; run the same command again to resume it", p.pipeline, signals::name(*sig));
            Next::Stop(ExitCode::from((128 + sig) as u8))
        }
        End::Failed(code) => {
            eprintln!("launch: error: pipeline {}: stage {name} failed (exit {code}); log: {log}. Fix the cause and run the same command again: completed stages are skipped", p.pipeline);
            Next::Stop(ExitCode::FAILURE)
        }
    }
}

/// Refuses a config (or data) that changed what a completed job means.
fn unchanged(job: &Job, world: u32, name: &str) -> Result<()> {
    let r = job_config(job, world)?;
    match state(&r.config, &r.plan) {
        State::Changed { key, .. } if key.starts_with("data_files.") => Err(Usage(format!(
            "stage {name} completed on other contents of the data file {}; that is a different run. Restore the file, run again with --rerun {} to train it again (its earlier output is moved aside), or give the pipeline a new output_dir",
            &key["data_files.".len()..],
            job.stage
        ))
        .into()),
        State::Changed { key, was, now } => Err(Usage(format!(
            "stage {name} completed with `{key}` = {was}, but its config now says {now}; that is a different run. Restore the value, run again with --rerun {} to train it again (its earlier output is moved aside), or give the pipeline a new output_dir",
            job.stage
        ))
        .into()),
        _ => Ok(()),
    }
}
