//! One repository resolved in the cache: located at a listing, brought in
//! (or, planning, only what the plan reads), and the line that says so.

use super::repo::{self, Ctx, Listing, Located, Pick, Wanted};
use crate::hub::progress::human;
use anyhow::Result;

/// Download what is missing (a run), or only say what would be downloaded
/// (`launch check`: config.json alone is fetched, to plan memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Download,
    Plan,
}

/// Resolves one repository at `listing`: where its files are, and a line that says
/// what is cached and what was (or, planning, would be) downloaded; when
/// planning, the files of `eager` (small ones the plan reads) are fetched.
pub(super) fn one(
    ctx: &Ctx,
    w: &Wanted,
    listing: &Listing,
    mode: Mode,
    pick: &Pick,
    eager: &[&str],
) -> Result<(Located, String)> {
    let mut located = repo::locate(ctx, w, listing, pick)?;
    let what = format!(
        "{}@{} (commit {})",
        w.id,
        w.revision,
        &located.commit[..12.min(located.commit.len())]
    );
    if mode == Mode::Download || located.missing.is_empty() {
        repo::bring_in(ctx, w, &located)?;
        let line = format!(
            "{what}: {} file(s) in {}",
            located.files.len(),
            located.snapshot.display()
        );
        return Ok((located, line));
    }
    let later: Vec<String> = located
        .missing
        .iter()
        .filter(|f| !eager.contains(&f.as_str()))
        .cloned()
        .collect();
    located.missing.retain(|f| eager.contains(&f.as_str()));
    repo::bring_in(ctx, w, &located)?;
    located.missing = later;
    let line = plan_line(ctx, w, &located, &what);
    Ok((located, line))
}

/// "N of M files cached, K to download (size)", sizes asked with `HEAD`.
fn plan_line(ctx: &Ctx, w: &Wanted, located: &Located, what: &str) -> String {
    let cached = located.files.len() - located.missing.len();
    let size = match repo::describe(ctx, w, located) {
        Ok(metas) => human(metas.iter().map(|(_, m)| m.size).sum::<u64>() as f64),
        Err(_) => "size unknown offline".into(),
    };
    format!(
        "{what}: {cached} of {} file(s) cached; `launch` would download {} ({size}): {}",
        located.files.len(),
        located.missing.len(),
        located.missing.join(", ")
    )
}
