//! Which files of a Hub dataset repository hold one split, found as the
//! Hub's dataset viewer and `datasets.load_dataset` find them: the
//! `configs:` section of the dataset card (README.md) when it has one, else
//! the conventional names (`data/train-00000-of-00002.parquet`,
//! `train.jsonl`, `train/…`; see [`defaults`]). Only the formats the
//! trainer reads count as data: Parquet and JSON (Lines).

mod card;
mod defaults;
#[cfg(test)]
mod tests;

/// Extensions of the data files the trainer reads.
const DATA_EXTENSIONS: &[&str] = &[".parquet", ".jsonl", ".json", ".ndjson"];

/// Whether `path` is a data file the trainer reads and not hidden
/// (`.cache/…`, `__pycache__/…`), as `datasets` leaves those out; a name
/// that would leave the snapshot (`/abs/x.jsonl`, `../x.jsonl`) never is.
fn is_data(path: &str) -> bool {
    if !super::names::is_plain_path(path) {
        return false;
    }
    let lower = path.to_ascii_lowercase();
    let hidden = path
        .split('/')
        .any(|part| part.starts_with('.') || part.starts_with("__"));
    !hidden && DATA_EXTENSIONS.iter().any(|e| lower.ends_with(e))
}

/// The files of `split` (of configuration `name`, if given) among `listing`,
/// the repository's files; `readme` is the dataset card, if it has one.
pub fn split_files(
    listing: &[String],
    readme: Option<&str>,
    name: Option<&str>,
    split: &str,
) -> Result<Vec<String>, String> {
    let data: Vec<&String> = listing.iter().filter(|f| is_data(f)).collect();
    let configs = readme.map(card::configs).transpose()?.unwrap_or_default();
    let found = match configs.is_empty() {
        false => card::files(&configs, name, split, &data)?,
        true if name.is_some_and(|n| n != "default") => {
            return Err(format!(
                "its card declares no configurations, so there is no `name: {}` (leave `name` out)",
                name.unwrap_or_default()
            ))
        }
        true => defaults::files(&data, split)?,
    };
    if found.is_empty() {
        return Err(no_files(listing, split));
    }
    Ok(found)
}

/// Why no file was found: what the repository holds instead.
fn no_files(listing: &[String], split: &str) -> String {
    let others: Vec<&str> = listing
        .iter()
        .map(String::as_str)
        .filter(|f| !f.starts_with('.') && *f != "README.md")
        .take(4)
        .collect();
    match others.is_empty() {
        true => format!("it holds no data files for split `{split}`"),
        false => format!(
            "it holds no Parquet or JSON Lines file for split `{split}` (it holds {}{}): \
             Ferrospeed reads .parquet, .jsonl and .json files",
            others.join(", "),
            if listing.len() > others.len() + 2 {
                ", ..."
            } else {
                ""
            }
        ),
    }
}
