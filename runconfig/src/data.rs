//! The `data:` section: the objective, the datasets of the mixture, and
//! how samples are built from them.

pub use crate::data_source::{DataFormat, DatasetConfig, SampleBy};
use crate::defaults::{default_seed, yes};
use crate::template::TemplateSource;
use serde::{Deserialize, Serialize};

/// Training objective.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    #[default]
    Pretrain,
    Sft,
    Dpo,
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

    /// The data keys' rules, each dataset's included.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.packing && self.objective == Objective::Dpo {
            return Err(
                "`data.packing` is not supported with objective dpo: set data.packing: false"
                    .into(),
            );
        }
        for (i, d) in self.datasets.iter().enumerate() {
            d.check(i)?;
        }
        Ok(())
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

fn default_seq_len() -> usize {
    2048
}
