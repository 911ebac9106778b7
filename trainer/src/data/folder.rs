//! Which files of a dataset folder are its data. A Hugging Face dataset
//! folder holds its card (README.md) and dotfiles (.gitattributes) next to
//! the data: neither is ever read as data. Of the data formats, JSON
//! (`.jsonl` / `.ndjson` files, else `.json` ones) and Parquet are never
//! mixed: a folder holding both asks for `format:`. Text files (`.txt`,
//! `.text`) are read only when they are the only kind; Markdown only with
//! `format: text`.

use anyhow::{bail, Context, Result};
use runconfig::DataFormat;
use std::path::{Path, PathBuf};

/// A file's kind, by its extension.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    JsonLines,
    Json,
    Parquet,
    Text,
    Markdown,
}

fn kind_of(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_str()?.to_ascii_lowercase();
    let ext = name.rsplit_once('.')?.1;
    Some(match ext {
        "jsonl" | "ndjson" => Kind::JsonLines,
        "json" => Kind::Json,
        "parquet" => Kind::Parquet,
        "txt" | "text" => Kind::Text,
        "md" | "markdown" => Kind::Markdown,
        _ => return None,
    })
}

/// A folder's candidate files with their kinds.
type Files = Vec<(PathBuf, Kind)>;

/// Dotfiles and the dataset card (README, README.md, ...).
fn ignored(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    name.starts_with('.') || lower == "readme" || lower.starts_with("readme.")
}

/// The folder's candidate files (name order) and its subfolders.
fn list(dir: &Path) -> Result<(Files, Vec<String>)> {
    let (mut files, mut subdirs) = (Vec::new(), Vec::new());
    for e in std::fs::read_dir(dir).with_context(|| format!("reading folder {}", dir.display()))? {
        let path = e?.path();
        let name = path
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        if ignored(&name) {
            continue;
        }
        if path.is_dir() {
            subdirs.push(name);
        } else if let Some(kind) = kind_of(&path).filter(|_| path.is_file()) {
            files.push((path, kind));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    subdirs.sort();
    Ok((files, subdirs))
}

/// The files of `kinds`.
fn of(files: &[(PathBuf, Kind)], kinds: &[Kind]) -> Vec<PathBuf> {
    let chosen = files.iter().filter(|(_, kind)| kinds.contains(kind));
    chosen.map(|(p, _)| p.clone()).collect()
}

/// The JSON files: the `.jsonl` ones, else the `.json` ones.
fn json(files: &[(PathBuf, Kind)]) -> Vec<PathBuf> {
    match of(files, &[Kind::JsonLines]) {
        lines if lines.is_empty() => of(files, &[Kind::Json]),
        lines => lines,
    }
}

/// `name (a, b, c and 2 more)`.
fn named(label: &str, files: &[PathBuf]) -> String {
    let names: Vec<String> = files
        .iter()
        .take(3)
        .map(|p| {
            p.file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned())
        })
        .collect();
    let more = match files.len() {
        n if n > 3 => format!(" and {} more", n - 3),
        _ => String::new(),
    };
    format!("{label} ({}{more})", names.join(", "))
}

/// The data files of folder `dir` and their format (`setting`: the
/// dataset's `format:`, if set).
pub fn data_files(dir: &Path, setting: Option<DataFormat>) -> Result<(Vec<PathBuf>, DataFormat)> {
    let (files, subdirs) = list(dir)?;
    let (json, parquet) = (json(&files), of(&files, &[Kind::Parquet]));
    let (chosen, format) = match setting {
        Some(DataFormat::Jsonl) => (json, DataFormat::Jsonl),
        Some(DataFormat::Parquet) => (parquet, DataFormat::Parquet),
        Some(DataFormat::Text) => (of(&files, &[Kind::Text, Kind::Markdown]), DataFormat::Text),
        None if !json.is_empty() && !parquet.is_empty() => bail!(
            "dataset folder {} mixes data formats: {} and {}; set `format: jsonl` or \
             `format: parquet` on this dataset to read one of them",
            dir.display(),
            named("jsonl", &json),
            named("parquet", &parquet)
        ),
        None if !json.is_empty() => (json, DataFormat::Jsonl),
        None if !parquet.is_empty() => (parquet, DataFormat::Parquet),
        None => (of(&files, &[Kind::Text]), DataFormat::Text),
    };
    if chosen.is_empty() {
        let wanted = match setting {
            None => ".jsonl, .json, .parquet or .txt",
            Some(DataFormat::Jsonl) => ".jsonl or .json",
            Some(DataFormat::Parquet) => ".parquet",
            Some(DataFormat::Text) => ".txt or .md",
        };
        let hint = match subdirs.is_empty() {
            true => String::new(),
            false => format!(
                "; its subfolders: {} (point `path` at one)",
                subdirs.join(", ")
            ),
        };
        bail!(
            "dataset folder {} holds no {wanted} file (README and dotfiles are not data){hint}",
            dir.display()
        );
    }
    Ok((chosen, format))
}
