//! The `data:` section: the objective, the datasets of the mixture, and
//! how samples are built from them.

use crate::schema::{default_seed, default_seq_len, yes};
use crate::template::TemplateSource;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Training objective.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    #[default]
    Pretrain,
    Sft,
    Dpo,
}

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

/// What to do with a sample longer than `data.max_seq_length`, and with a
/// row whose text is over 128 bytes per `max_seq_length` token (at least
/// 64 KiB), before it is tokenised: cut it to that size, or drop it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Overlong {
    /// Keep its first `max_seq_length` tokens (a chat sample left with no
    /// trained token is dropped).
    #[default]
    Truncate,
    /// Leave it out (counted in the data summary).
    Drop,
}

/// Held-out split for evaluation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ValidationConfig {
    #[serde(default)]
    pub ratio: f64,
    #[serde(default = "default_seed")]
    pub seed: u64,
}

/// The data mixture and how samples are built.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    #[serde(default)]
    pub objective: Objective,
    #[serde(default = "default_seq_len")]
    pub max_seq_length: usize,
    #[serde(default)]
    pub datasets: Vec<DatasetConfig>,
    pub validation: Option<ValidationConfig>,
    /// false: row i of the data is sample i of the global order.
    #[serde(default = "yes")]
    pub shuffle: bool,
    /// Skip malformed rows (counted in a warning) instead of stopping.
    #[serde(default)]
    pub skip_bad_rows: bool,
    /// Pretraining: concatenate the rows and cut the stream into samples of
    /// exactly `max_seq_length` tokens (the remainder is dropped).
    ///
    /// SFT: place several whole examples in each row of up to
    /// `max_seq_length` tokens; position ids restart at each example so that
    /// the trainer keeps the examples from attending to each other.
    #[serde(default)]
    pub packing: bool,
    /// Chat template of sft and dpo: `model` (the tokenizer_config.json's
    /// `chat_template`), one of open-instruct's named templates (`tulu`,
    /// `zephyr`, ... built in; see [`crate::NAMED_TEMPLATES`]) or the path
    /// of a Jinja file. Default: `model`.
    pub chat_template: Option<TemplateSource>,
    /// Samples over `max_seq_length`: truncate | drop.
    #[serde(default)]
    pub overlong: Overlong,
    /// Cache tokenized data under `<output_dir>/data-cache/`.
    #[serde(default = "yes")]
    pub cache: bool,
}

impl DataConfig {
    /// The Hub ids of the mixture's datasets, in order, without repeats.
    pub fn hub_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for id in self.datasets.iter().filter_map(|d| d.hub.as_ref()) {
            if !ids.contains(id) {
                ids.push(id.clone());
            }
        }
        ids
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            objective: Objective::default(),
            max_seq_length: default_seq_len(),
            datasets: Vec::new(),
            validation: None,
            shuffle: true,
            skip_bad_rows: false,
            packing: false,
            chat_template: None,
            overlong: Overlong::default(),
            cache: true,
        }
    }
}
