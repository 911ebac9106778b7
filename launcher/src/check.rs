//! `launch check`: validates a config at each planned world size and prints
//! the batch plan and the memory plan, as text or (`--json`) as JSON.

use crate::cli::Usage;
use crate::hub::fetch;
use crate::pipeline;
use anyhow::Result;
use runconfig::memory::fit::plan;
use runconfig::memory::render::render;
use runconfig::YamlFile;
use std::path::Path;
use std::process::ExitCode;

/// `launch check FILE`: reads FILE once, then checks it as a pipeline (it
/// has `stages:`) or as a run config.
pub fn command(
    config: &Path,
    nproc: Option<u32>,
    sets: &[String],
    device_memory: Option<u64>,
    json: bool,
) -> Result<ExitCode> {
    let file = YamlFile::read(config);
    match file.is_pipeline() {
        true if json => Err(Usage(format!(
            "{}: --json plans one run config; for a pipeline, check a stage's config with --json",
            config.display()
        ))
        .into()),
        true => pipeline::check::run(&file, nproc, sets, device_memory),
        false => run(&file, nproc, sets, device_memory, json),
    }
}

/// Checks `file` at `nproc` devices (or 1, 2 and 8), planning memory
/// against `device_memory` bytes when given.
fn run(
    file: &YamlFile,
    nproc: Option<u32>,
    sets: &[String],
    device_memory: Option<u64>,
    json: bool,
) -> Result<ExitCode> {
    let config = file.path();
    let detected = crate::cluster::detect(&|k| std::env::var(k).ok()).map_err(Usage)?;
    if let Some(d) = detected.filter(|_| !json) {
        let at = d
            .master_addr
            .as_deref()
            .unwrap_or("(no address: pass --master-addr)");
        println!(
            "{}: this job: {}; node 0 at {at}",
            config.display(),
            d.describe()
        );
    }
    let sizes = nproc.map_or(vec![1, 2, 8], |n| vec![n]);
    let mut plans = Vec::new();
    let mut first: Option<runconfig::Config> = None;
    for w in sizes {
        let mut r = runconfig::load_file(file, w, sets)?;
        let at = |e: anyhow::Error| Usage(format!("{}: {e:#}", config.display()));
        match &first {
            Some(done) => crate::resolve::adopt(done, &mut r).map_err(at)?,
            None => {
                let lines = crate::resolve::hub_ids(&mut r, fetch::Mode::Plan).map_err(at)?;
                for line in lines {
                    match json {
                        true => eprintln!("{}: {line}", config.display()),
                        false => println!("{}: {line}", config.display()),
                    }
                }
                first = Some(r.config.clone());
            }
        }
        let mut memory = plan(&r.config, w, r.plan.micro_batch_size, device_memory)
            .map_err(|m| runconfig::ConfigError::new(format!("{}: {m}", config.display())))?;
        if let Some(device) = device_memory {
            let fits = |w: u32, extra: &[String]| {
                let loaded = runconfig::load_file(file, w, &[sets, extra].concat());
                crate::advice::fits(loaded.map_err(Into::into), first.as_ref(), w, device)
            };
            crate::advice::check_resizes(&mut memory, fits);
        }
        if !json {
            println!("{}: {}", config.display(), r.plan);
            println!("{}: {}", config.display(), render(&memory, device_memory));
        }
        plans.push(memory);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&plans)?);
    } else {
        println!("{}: ok", config.display());
    }
    Ok(ExitCode::SUCCESS)
}
