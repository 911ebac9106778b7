//! `launch check pipeline.yaml`: every stage checked as a run config is
//! (see [`super::preflight`]), and each stage's plan and memory plan
//! printed at the world sizes `launch check` plans for a run config, with
//! what its Hub ids have in the cache and what a run would download.

use super::preflight::{self, Models, Options};
use runconfig::memory::render::render;
use runconfig::YamlFile;
use std::process::ExitCode;

/// Checks each stage at its `world_size`, else `nproc`, else 1, 2 and 8,
/// with `sets` applied to every stage, against `device` bytes when given.
pub fn run(
    file: &YamlFile,
    nproc: Option<u32>,
    sets: &[String],
    device: Option<u64>,
) -> anyhow::Result<ExitCode> {
    let p = runconfig::pipeline::load_file(file)?;
    let opts = Options {
        sets,
        device,
        must_fit: false,
    };
    let mut models = Models::new();
    for (i, s) in p.stages.iter().enumerate() {
        let sizes = match s.world_size.or(nproc) {
            Some(w) => vec![w],
            None => vec![1, 2, 8],
        };
        let checked = preflight::stage(&p, i, &sizes, &opts, &mut models)?;
        println!("stage {} ({}):", s.name, s.config.display());
        for line in &checked.hub {
            println!("  {line}");
        }
        for (r, memory) in &checked.plans {
            println!("  {}", r.plan);
            for line in render(memory, device).lines() {
                println!("  {line}");
            }
        }
        println!(
            "  {}; output_dir {}",
            checked.jobs,
            p.stage_dir(&s.name).display()
        );
    }
    println!("{}: ok ({} stages)", file.path().display(), p.stages.len());
    Ok(ExitCode::SUCCESS)
}
