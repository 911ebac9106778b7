//! [`load_samples`]: the configured datasets into training and validation
//! samples, through the cache.

use super::build::build;
use super::cache::{self, KeyHasher};
use super::readers;
use super::sample::SampleSet;
use super::template::ChatTemplate;
use super::tokenizer::Tokenizer;
use anyhow::{Context, Result};
use runconfig::{Config, Objective};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The samples of a run.
pub struct Dataset {
    /// Training samples (pairs for dpo), in data order; the trainer shuffles
    /// per epoch.
    pub train: SampleSet,
    /// Held-out samples (`data.validation`); empty without it.
    pub validation: SampleSet,
    /// Id to pad rows with (its labels are -100).
    pub pad_id: i64,
    /// Counts and warnings, for the log.
    pub summary: Summary,
    /// The cache file used or written (`None` with `data.cache: false`).
    pub cache_file: Option<PathBuf>,
    /// True when the samples were read from an existing cache file.
    pub from_cache: bool,
}

/// What the data layer did, per dataset and in total.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    pub datasets: Vec<DatasetSummary>,
    pub train_samples: usize,
    pub validation_samples: usize,
    pub train_tokens: usize,
    pub bad_rows_skipped: usize,
    pub dropped_overlong: usize,
    pub dropped_no_targets: usize,
    /// Rows cut to `max_row_bytes` before tokenising (`overlong: truncate`).
    #[serde(default)]
    pub cut_by_size: usize,
    /// The byte limit of a row's text (see [`super::encode::max_row_bytes`]).
    #[serde(default)]
    pub max_row_bytes: usize,
    /// Human-readable warnings (skipped rows with their first locations).
    pub warnings: Vec<String>,
}

impl Summary {
    /// One line per dataset: rows read, taken for training (repeats
    /// included) and held out for validation.
    pub fn lines(&self) -> Vec<String> {
        let per = self.datasets.iter().map(|d| {
            format!(
                "data: {}: {} rows, {} for training, {} for validation",
                d.path, d.rows, d.train_rows, d.validation_rows
            )
        });
        let mut lines: Vec<String> = per.collect();
        let mut long = Vec::new();
        if self.dropped_overlong > 0 {
            long.push(format!(
                "{} sample(s) over max_seq_length dropped (data.overlong: drop)",
                self.dropped_overlong
            ));
        }
        if self.cut_by_size > 0 {
            long.push(format!(
                "{} row(s) over {} bytes cut before tokenising (data.overlong: truncate)",
                self.cut_by_size, self.max_row_bytes
            ));
        }
        if !long.is_empty() {
            lines.push(format!("data: {}", long.join("; ")));
        }
        lines
    }
}

/// One dataset's share.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DatasetSummary {
    pub path: String,
    pub rows: usize,
    /// Training examples taken (after mix_ratio / max_samples, repeats included).
    pub train_rows: usize,
    pub validation_rows: usize,
    pub bad_rows: usize,
}

/// The tokenizer `config` names: `model.tokenizer`, else `model.path` when it
/// holds a tokenizer.json.
pub fn tokenizer_path(config: &Config) -> Option<PathBuf> {
    if let Some(t) = &config.model.tokenizer {
        return Some(t.clone());
    }
    let dir = config.model.path.as_ref()?;
    dir.join("tokenizer.json").is_file().then(|| dir.clone())
}

/// Reads, tokenizes, mixes and splits the datasets of `config.data`, or loads
/// the same result from `<output_dir>/data-cache/`. Every rank may call it
/// at once: one builds, the others wait for its file (see [`cache`]).
pub fn load_samples(
    config: &Config,
    tokenizer: Option<&Path>,
    output_dir: &Path,
) -> Result<Dataset> {
    let data = &config.data;
    let tok = tokenizer.map(Tokenizer::load).transpose()?;
    let template = chat_template(config, tok.as_ref())?;
    if !data.cache {
        let (train, validation, summary) = build(config, tok.as_ref(), template.as_ref())?;
        return Ok(finish(
            train,
            validation,
            summary,
            tok.as_ref(),
            None,
            false,
        ));
    }
    let key = cache_key(config, tok.as_ref(), template.as_ref())?;
    let dir = output_dir.join("data-cache");
    let file = cache::path(&dir, &key);
    cache::with_lock(&dir, &key, || {
        if let Some((meta, sets)) = cache::read(&file, &key, 2) {
            let (train, validation, summary) = read_cache(&file, meta, sets)?;
            return Ok(finish(
                train,
                validation,
                summary,
                tok.as_ref(),
                Some(file.clone()),
                true,
            ));
        }
        let (train, validation, summary) = build(config, tok.as_ref(), template.as_ref())?;
        cache::write(
            &file,
            &key,
            &serde_json::to_vec(&summary)?,
            &[&train, &validation],
        )?;
        Ok(finish(
            train,
            validation,
            summary,
            tok.as_ref(),
            Some(file.clone()),
            false,
        ))
    })
}

/// The chat template of an sft or dpo run with a tokenizer: `data.chat_template`
/// (an error when it is bad), else the tokenizer's own (none when it has none;
/// only a chat row that needs it fails then).
fn chat_template(config: &Config, tok: Option<&Tokenizer>) -> Result<Option<ChatTemplate>> {
    let data = &config.data;
    let (Some(t), Objective::Sft | Objective::Dpo) = (tok, data.objective) else {
        return Ok(None);
    };
    match ChatTemplate::from_setting(data.chat_template.as_ref(), t) {
        Ok(tpl) => {
            super::template::check(&tpl)?;
            Ok(Some(tpl))
        }
        Err(e) if data.chat_template.is_some() => Err(e),
        Err(_) => Ok(None),
    }
}

/// The cache key: the data settings, the seed, every data and tokenizer file,
/// and the template source.
fn cache_key(
    config: &Config,
    tok: Option<&Tokenizer>,
    template: Option<&ChatTemplate>,
) -> Result<String> {
    let data = &config.data;
    let mut key = KeyHasher::default();
    key.add("data", serde_json::to_string(data)?.as_bytes());
    key.add("seed", &config.train.seed.to_le_bytes());
    for d in &data.datasets {
        for f in readers::files_of(d)?.0 {
            key.add_file(&f)?;
        }
    }
    for f in tok.iter().flat_map(|t| &t.files) {
        key.add_file(f)?;
    }
    key.add(
        "template",
        template.map_or(&b""[..], |t| t.source.as_bytes()),
    );
    Ok(key.finish())
}

/// The two sets and the summary of a verified cache file.
fn read_cache(
    file: &Path,
    meta: Vec<u8>,
    mut sets: Vec<SampleSet>,
) -> Result<(SampleSet, SampleSet, Summary)> {
    let summary: Summary = serde_json::from_slice(&meta)
        .with_context(|| format!("{}: bad summary: delete the file", file.display()))?;
    let validation = sets.pop().expect("two sets");
    let train = sets.pop().expect("two sets");
    Ok((train, validation, summary))
}

fn finish(
    train: SampleSet,
    validation: SampleSet,
    summary: Summary,
    tok: Option<&Tokenizer>,
    cache_file: Option<PathBuf>,
    from_cache: bool,
) -> Dataset {
    Dataset {
        train,
        validation,
        pad_id: tok.map_or(0, |t| t.pad_id as i64),
        summary,
        cache_file,
        from_cache,
    }
}
