//! `launch check pipeline.yaml`: every stage checked with its links
//! resolved, and each stage's plan printed, with what its Hub ids have in
//! the cache and what a run would download.

use crate::hub::fetch;
use crate::Usage;
use runconfig::pipeline::{fans_out, Pipeline};
use std::path::Path;
use std::process::ExitCode;

/// Checks each stage at its world size (`world_size`, else `nproc`, else 1).
pub fn run(path: &Path, nproc: Option<u32>) -> anyhow::Result<ExitCode> {
    let p = runconfig::pipeline::load(path)?;
    for (i, s) in p.stages.iter().enumerate() {
        let world = s.world_size.or(nproc).unwrap_or(1);
        let (job, jobs) = first_job(&p, i);
        let mut r = if s.from.is_some() {
            // The model is written by an earlier stage: its files are checked when it runs.
            runconfig::load_unchecked(&job.config, world, &job.sets)
        } else {
            runconfig::load(&job.config, world, &job.sets)
        }
        .map_err(|e| runconfig::ConfigError::new(format!("stage {}: {e}", s.name)))?;
        let hub = fetch::resolve(&mut r.config, fetch::Mode::Plan)
            .map_err(|e| Usage(format!("stage {}: {}: {e:#}", s.name, s.config.display())))?;
        println!("stage {} ({}): {}", s.name, s.config.display(), r.plan);
        for line in hub {
            println!("  {line}");
        }
        println!(
            "  world size {world}; {jobs}; output_dir {}",
            p.stage_dir(&s.name).display()
        );
    }
    println!("{}: ok ({} stages)", path.display(), p.stages.len());
    Ok(ExitCode::SUCCESS)
}

/// A representative job of stage `i`, and how many jobs it makes, in words.
fn first_job(p: &Pipeline, i: usize) -> (runconfig::pipeline::Job, String) {
    let s = &p.stages[i];
    let from = s.from.as_deref().unwrap_or_default();
    if fans_out(s) {
        let step = match &s.each_checkpoint {
            Some(runconfig::pipeline::EachCheckpoint::Steps(v)) => v.first().copied().unwrap_or(0),
            _ => 0,
        };
        let ck = [(step, p.stage_dir(from).join("checkpoints"))];
        let job = p.jobs(i, &ck).remove(0);
        return (
            job,
            format!("one job per checkpoint of stage {from}, each from its export"),
        );
    }
    let what = match &s.from {
        Some(f) => format!("1 job, model from stage {f}'s final/"),
        None => "1 job".into(),
    };
    (p.jobs(i, &[]).remove(0), what)
}
