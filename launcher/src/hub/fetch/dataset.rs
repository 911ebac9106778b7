//! A dataset named by Hub id: its card (README.md) first, which says in its
//! `configs:` which files hold which split, then those files.

use super::super::splits::split_files;
use super::locate::{one, Mode};
use super::repo::{self, Ctx, Located, Wanted};
use anyhow::Result;
use runconfig::DatasetConfig;
use std::path::PathBuf;

const CARD: &str = "README.md";

/// Brings in the card of `w` (small; also when planning), then resolves
/// the files of the entry's split as [`one`] does, from one listing.
pub fn resolve(ctx: &Ctx, d: &DatasetConfig, w: &Wanted, mode: Mode) -> Result<(Located, String)> {
    let card = |files: &[String], _: &dyn Fn(&str) -> Option<String>| {
        Ok(files.iter().filter(|f| *f == CARD).cloned().collect())
    };
    let listing = repo::list(ctx, w)?;
    repo::bring_in(ctx, w, &repo::locate(ctx, w, &listing, &card)?)?;
    let (name, split) = (d.name.as_deref(), d.split());
    let offline = ctx.remote.is_none();
    let pick = move |files: &[String], read: &dyn Fn(&str) -> Option<String>| {
        let readme = files
            .iter()
            .any(|f| f == CARD)
            .then(|| read(CARD))
            .flatten();
        let found = split_files(files, readme.as_deref(), name, split);
        let mut data = found.map_err(|why| match offline {
            true => format!(
                "offline (HF_HUB_OFFLINE is set) and the cache holds no data files of split \
                 `{split}` ({why}); unset HF_HUB_OFFLINE to download them"
            ),
            false => why,
        })?;
        if readme.is_some() {
            data.push(CARD.to_string());
        }
        Ok(data)
    };
    one(ctx, w, &listing, mode, &pick, &[])
}

/// The data files of a resolved dataset, as paths in its snapshot.
pub fn data_files(located: &Located) -> Vec<PathBuf> {
    let data = located.files.iter().filter(|f| *f != CARD);
    data.map(|f| located.snapshot.join(f)).collect()
}
