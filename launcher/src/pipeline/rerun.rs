//! `launch N pipeline.yaml --rerun STAGE`: the way out when a completed
//! stage's config (or data) changed on purpose. The stage, and every stage
//! that starts from it, trains again from the start; what they wrote before
//! is moved aside (`<stage>.before-rerun-<unix time>`), never deleted.

use super::ledger::{now, Ledger, Status};
use crate::cli::Usage;
use anyhow::{Context, Result};
use runconfig::pipeline::Pipeline;

/// The named stages and those downstream of them, in pipeline order.
fn affected(p: &Pipeline, named: &[String]) -> Result<Vec<String>> {
    let names: Vec<&str> = p.stages.iter().map(|s| s.name.as_str()).collect();
    if let Some(bad) = named.iter().find(|n| !names.contains(&n.as_str())) {
        return Err(Usage(format!(
            "--rerun {bad}: the pipeline has no such stage (stages: {})",
            names.join(", ")
        ))
        .into());
    }
    let mut out: Vec<String> = Vec::new();
    for s in &p.stages {
        let from_affected = s.from.as_ref().is_some_and(|f| out.contains(f));
        if named.contains(&s.name) || from_affected {
            out.push(s.name.clone());
        }
    }
    Ok(out)
}

/// Moves the affected stages' folders aside and marks their jobs pending.
pub fn apply(p: &Pipeline, named: &[String], ledger: &mut Ledger) -> Result<()> {
    if named.is_empty() {
        return Ok(());
    }
    let stamp = now();
    for stage in affected(p, named)? {
        let dir = p.stage_dir(&stage);
        if std::fs::symlink_metadata(&dir).is_ok() {
            let aside = p.output_dir.join(format!("{stage}.before-rerun-{stamp}"));
            std::fs::rename(&dir, &aside)
                .with_context(|| format!("cannot move {} aside", dir.display()))?;
            println!(
                "launch: pipeline: {stage}: trained again from the start; its earlier output is kept in {}",
                aside.display()
            );
        }
        for row in ledger.rows.iter_mut().filter(|r| r.stage == stage) {
            row.status = Status::Pending;
            row.final_dir = None;
            row.exit_code = None;
        }
    }
    ledger.save()
}
