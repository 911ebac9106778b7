//! Every stage of a pipeline checked before the first one trains, as
//! `launch check` checks a run config: its config and files, its Hub ids
//! (the tokenizer of a Hub model included), the token and namespace of a
//! stage that pushes, and its memory plan. A stage `from:` an earlier one
//! is checked with what can be known before that stage runs: its model is
//! the earlier stage's model (the same shapes and tokenizer), so its data,
//! push rights and memory plan are checked now, not hours later.

use crate::cli::Usage;
use crate::hub::{self, fetch};
use anyhow::Result;
use runconfig::memory::fit::{plan, MemoryPlan};
use runconfig::pipeline::{fans_out, Job, Pipeline, Start};
use runconfig::{Config, ConfigError, PushWhen, Resolved};
use std::collections::BTreeMap;
use std::path::Path;

/// What a stage was checked at.
pub struct Options<'a> {
    /// `--set` pairs given for every stage (after the stage's own `set:`).
    pub sets: &'a [String],
    /// Device bytes to plan against, when known.
    pub device: Option<u64>,
    /// A plan that does not fit the device is an error (a run), or a
    /// verdict to print (`launch check`).
    pub must_fit: bool,
}

/// One stage, checked.
pub struct Checked {
    /// Per world size: the resolved config and its memory plan.
    pub plans: Vec<(Resolved, MemoryPlan)>,
    /// One line per Hub id of the stage.
    pub hub: Vec<String>,
    /// How many jobs the stage makes, in words.
    pub jobs: String,
}

/// The config of each checked stage (its model as written, Hub ids not
/// resolved; its `lora:` settled): what a later stage `from:` it starts
/// from ([`Start::of`]).
pub type Models = BTreeMap<String, Config>;

/// Checks stage `i` at each of `sizes`; its model goes into `models`.
pub fn stage(
    p: &Pipeline,
    i: usize,
    sizes: &[u32],
    opts: &Options,
    models: &mut Models,
) -> Result<Checked> {
    let s = &p.stages[i];
    let fail = |e: String| Usage(format!("stage {}: {e}", s.name));
    let earlier = s.from.as_deref().and_then(|f| Some((f, models.get(f)?)));
    let start = earlier.map_or(Start::Model, |(_, c)| Start::of(c));
    let (job, jobs) = first_job(p, i, &start);
    let mut sets = job.sets.clone();
    sets.extend_from_slice(opts.sets);
    let mut plans: Vec<(Resolved, MemoryPlan)> = Vec::new();
    let mut hub = Vec::new();
    let mut model = None;
    for &w in sizes {
        let origin = |f: &str| p.stage_dir(f).join("final").display().to_string();
        let from = earlier.map(|(f, c)| (origin(f), c));
        let mut r = load(&job, w, &sets, from).map_err(|e| fail(format!("{e:#}")))?;
        let at = |e: anyhow::Error| fail(format!("{}: {e:#}", s.config.display()));
        match plans.first() {
            Some((first, _)) => crate::resolve::adopt(&first.config, &mut r).map_err(at)?,
            None => {
                // Local files are checked as they are; Hub ids are looked
                // up (config.json fetched), their files come with the run.
                runconfig::check_run(&r.config, &s.config.display().to_string())
                    .map_err(|e| fail(e.to_string()))?;
                let mut written = r.config.clone();
                hub = crate::resolve::hub_ids(&mut r, fetch::Mode::Plan).map_err(at)?;
                written.lora.clone_from(&r.config.lora);
                model = Some(written);
            }
        }
        let mut memory = plan(&r.config, w, r.plan.micro_batch_size, opts.device)
            .map_err(|m| fail(format!("{}: {m}", s.config.display())))?;
        if let Some(device) = opts.device {
            let resolved = plans.first().map_or(&r.config, |(first, _)| &first.config);
            let fits = |w: u32, extra: &[String]| {
                let from = earlier.map(|(f, c)| (origin(f), c));
                let loaded = load(&job, w, &[sets.as_slice(), extra].concat(), from);
                crate::advice::fits(loaded, Some(resolved), w, device)
            };
            crate::advice::check_resizes(&mut memory, fits);
        }
        if opts.must_fit && memory.fits == Some(false) {
            let text = runconfig::memory::render::render(&memory, opts.device);
            let verdict = text.lines().next().unwrap_or_default();
            return Err(fail(format!(
                "{verdict}; `launch check` on the pipeline prints the whole plan"
            ))
            .into());
        }
        plans.push((r, memory));
    }
    if let (Some((first, _)), Some(model)) = (plans.first(), model) {
        push_rights(&first.config).map_err(|e| fail(format!("{e:#}")))?;
        models.insert(s.name.clone(), model);
    }
    Ok(Checked { plans, hub, jobs })
}

/// The stage's config at world size `w`; a stage `from:` an earlier one
/// (its config, and the `final/` it will write) gets that stage's model in
/// place of the `final/` it has yet to write, or, when that `final/` will
/// be an adapter, its base model and the adapters' settings.
fn load(job: &Job, w: u32, sets: &[String], from: Option<(String, &Config)>) -> Result<Resolved> {
    let mut r = runconfig::load_unchecked(&job.config, w, sets)?;
    let Some((final_dir, earlier)) = from else {
        return Ok(r);
    };
    let (m, was) = (&mut r.config.model, &earlier.model);
    m.path.clone_from(&was.path);
    m.config.clone_from(&was.config);
    m.tokenizer.clone_from(&was.tokenizer);
    m.revision.clone_from(&was.revision);
    if let (Start::Adapter(_), Some(lora)) = (Start::of(earlier), &earlier.lora) {
        (m.adapter, m.adapter_revision) = (None, None);
        let at = |e: String| ConfigError::new(format!("{}: {e}", job.config.display()));
        let random_base = m.path.is_none();
        let (seed, was) = (r.config.train.seed, earlier.train.seed);
        if random_base && seed != was {
            return Err(at(format!("`train.seed` is {seed}, but the adapters of {final_dir} are trained on a random-init base that seed {was} makes; set train.seed: {was} (or export.merge: true in the earlier stage, to start from its whole model)")).into());
        }
        r.start_from(lora, &format!("{final_dir} (once written)"))
            .map_err(at)?;
    }
    Ok(r)
}

/// A stage that pushes at the end: its token exists and may write there.
fn push_rights(cfg: &Config) -> Result<()> {
    match cfg.hub.as_ref().filter(|h| h.push == PushWhen::OnFinish) {
        Some(h) => hub::preflight(h),
        None => Ok(()),
    }
}

/// A representative job of stage `i` (which starts as `start` says), and
/// how many jobs it makes, in words.
pub fn first_job(p: &Pipeline, i: usize, start: &Start) -> (Job, String) {
    let s = &p.stages[i];
    let from = s.from.as_deref().unwrap_or_default();
    if fans_out(s) {
        let step = match &s.each_checkpoint {
            Some(runconfig::pipeline::EachCheckpoint::Steps(v)) => v.first().copied().unwrap_or(0),
            _ => 0,
        };
        let ck = [(step, p.stage_dir(from).join("checkpoints"))];
        let job = p.jobs(i, &ck, start).remove(0);
        return (
            job,
            format!("one job per checkpoint of stage {from}, each from its export"),
        );
    }
    let what = match &s.from {
        Some(f) if matches!(start, Start::Adapter(_)) => {
            format!("1 job, adapters from stage {f}'s final/ on its base model")
        }
        Some(f) => format!("1 job, model from stage {f}'s final/"),
        None => "1 job".into(),
    };
    (p.jobs(i, &[], start).remove(0), what)
}

/// Checks every stage of the pipeline at its world size before a run.
pub fn all(p: &Pipeline, path: &Path, nproc: usize, opts: &Options) -> Result<()> {
    let mut models = Models::new();
    for (i, s) in p.stages.iter().enumerate() {
        let world = s.world_size.unwrap_or(nproc as u32);
        stage(p, i, &[world], opts, &mut models)?;
    }
    println!(
        "launch: pipeline {}: every stage checked ({})",
        p.pipeline,
        path.display()
    );
    Ok(())
}
