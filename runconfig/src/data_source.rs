//! One dataset of the mixture (`data.datasets[i]`): where its rows come
//! from (a local `path`, a list of `files`, or a dataset repository of the
//! Hub: `hub`, with `split`, `revision` and `name`), how they are read, and
//! its rules, checked when a config is loaded so that `launch check`
//! refuses what the trainer would.

use crate::repo_id;
use crate::rules::{floats, positive, positive_number};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One dataset of a mixture.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
    /// A file, or a folder whose files of the dataset's format are read in
    /// name order (e.g. the Parquet shards of a Hugging Face dataset).
    /// Exactly one of `path` and `hub` is set.
    pub path: Option<PathBuf>,
    /// A dataset repository of the Hub (`org/name`): `launch` downloads the
    /// data files of `split` into the Hugging Face cache before the ranks
    /// start, as `datasets.load_dataset` finds them.
    pub hub: Option<String>,
    /// With `hub`: the split to read. Default `train`.
    pub split: Option<String>,
    /// With `hub`: a branch, tag or commit. Default `main`.
    pub revision: Option<String>,
    /// With `hub`: the configuration (subset) of the dataset card's
    /// `configs:`, as `load_dataset(id, name)`. Default: the card's default.
    pub name: Option<String>,
    /// The data files, in order (set by `launch` for a `hub` dataset, to the
    /// files of its snapshot; may be given instead of `path`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<PathBuf>,
    /// How much of this dataset to take (open-instruct's mixer): at most 1,
    /// a fraction of its rows (0.5 = half of them); above 1, a number of
    /// samples (5000 = 5000 rows, repeating rows when it has fewer).
    /// Default 1.0: every row once.
    pub mix_ratio: Option<f64>,
    /// Take at most this many rows from this dataset (after `mix_ratio`).
    pub max_samples: Option<u64>,
    /// File format; by default from the extension (.jsonl/.json, .parquet,
    /// .txt/.text/.md; a folder by the files in it).
    pub format: Option<DataFormat>,
    /// Plain text files: what one sample is.
    #[serde(default)]
    pub sample_by: SampleBy,
    /// Field of the raw text (pretraining). Default `text`.
    pub text_field: Option<String>,
    /// Field of the chat messages (SFT). Default `messages`, else `conversations`.
    pub messages_field: Option<String>,
    /// Preference fields (DPO). Defaults `prompt`, `chosen`, `rejected`.
    pub prompt_field: Option<String>,
    pub chosen_field: Option<String>,
    pub rejected_field: Option<String>,
}

impl DatasetConfig {
    /// The split read from a `hub` dataset.
    pub fn split(&self) -> &str {
        self.split.as_deref().unwrap_or("train")
    }

    /// The revision of a `hub` dataset.
    pub fn revision(&self) -> &str {
        self.revision.as_deref().unwrap_or("main")
    }

    /// How messages and summaries name the dataset: its path, or
    /// `org/name` (with `:split` when not `train`, `@revision` when not
    /// `main`).
    pub fn label(&self) -> String {
        match (&self.hub, &self.path) {
            (Some(id), _) => {
                let mut s = id.clone();
                if let Some(n) = &self.name {
                    s = format!("{s}/{n}");
                }
                if self.split() != "train" {
                    s = format!("{s}:{}", self.split());
                }
                if self.revision() != "main" {
                    s = format!("{s}@{}", self.revision());
                }
                s
            }
            (None, Some(p)) => p.display().to_string(),
            (None, None) => match self.files.first() {
                Some(f) => f.display().to_string(),
                None => "(no path)".into(),
            },
        }
    }

    /// The rules of dataset `i`: where its rows come from, its share of
    /// the mixture and its row limit.
    pub(crate) fn check(&self, i: usize) -> Result<(), String> {
        source(i, self)?;
        let key = |k: &str| format!("data.datasets[{i}].{k}");
        let ratio = "a positive number (0.5: half of its rows, 5000: 5000 rows; to leave a dataset out, remove it)";
        floats(&[(&key("mix_ratio"), self.mix_ratio, positive_number, ratio)])?;
        positive(
            &key("max_samples"),
            self.max_samples,
            "or left out for all rows",
        )
    }
}

/// The file format of a dataset.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// One JSON object per line (or a `.json` file holding one array).
    Jsonl,
    /// Apache Parquet, as Hugging Face datasets store them.
    Parquet,
    /// Plain UTF-8 text; see `sample_by`.
    Text,
}

/// How plain text files are cut into samples.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum SampleBy {
    /// One sample per file.
    #[default]
    Document,
    /// One sample per block of text between blank lines.
    Paragraph,
    /// One sample per non-empty line.
    Line,
}

/// Why dataset `i` does not say well where its rows come from, if it does not.
fn source(i: usize, d: &DatasetConfig) -> Result<(), String> {
    let key = |k: &str| format!("`data.datasets[{i}].{k}`");
    let example = "e.g. `hub: allenai/tulu-3-sft-mixture` or `path: data/train.jsonl`";
    match (&d.path, &d.hub, d.files.is_empty()) {
        (None, None, true) => {
            return Err(format!(
                "`data.datasets[{i}]` names no data: set `path` (a file or folder) or `hub` \
                 (a Hub dataset id), {example}"
            ))
        }
        (Some(_), Some(_), _) => {
            return Err(format!(
                "`data.datasets[{i}]` sets both `path` and `hub`: keep one ({example})"
            ))
        }
        (Some(_), None, false) => {
            return Err(format!(
                "`data.datasets[{i}]` sets both `path` and `files`: keep one"
            ))
        }
        _ => {}
    }
    match &d.hub {
        Some(id) => hub(&key("hub"), id, d, &key),
        None => only_with_hub(d, &key),
    }
}

fn hub(at: &str, id: &str, d: &DatasetConfig, key: &dyn Fn(&str) -> String) -> Result<(), String> {
    repo_id::resolve(id, None).map_err(|e| format!("{at}: {e}"))?;
    if d.split().trim().is_empty() {
        return Err(format!(
            "{}: empty; name a split such as train",
            key("split")
        ));
    }
    if let Some(why) = repo_id::revision_problem(d.revision()) {
        return Err(format!(
            "{}: {:?} is not a branch, tag or commit: {why}",
            key("revision"),
            d.revision()
        ));
    }
    Ok(())
}

fn only_with_hub(d: &DatasetConfig, key: &dyn Fn(&str) -> String) -> Result<(), String> {
    let set = [
        ("split", d.split.is_some()),
        ("revision", d.revision.is_some()),
        ("name", d.name.is_some()),
    ];
    match set.iter().find(|(_, on)| *on) {
        Some((k, _)) => Err(format!(
            "{}: applies to a Hub dataset (`hub: org/name`) only; a local `path` is read whole",
            key(k)
        )),
        None => Ok(()),
    }
}
