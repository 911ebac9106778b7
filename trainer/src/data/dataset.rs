//! [`load_samples`]: the configured datasets into training and validation
//! samples, through the cache.

use super::cache::{self, KeyHasher};
use super::encode::{Encoded, Encoder};
use super::examples::{self, Fields};
use super::mixture;
use super::order::SplitMix;
use super::pack;
use super::readers;
use super::sample::SampleSet;
use super::template::ChatTemplate;
use super::tokenizer::Tokenizer;
use anyhow::{bail, Context, Result};
use rayon::prelude::*;
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
    /// Human-readable warnings (skipped rows with their first locations).
    pub warnings: Vec<String>,
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
    let template = match (&tok, data.objective) {
        (Some(t), Objective::Sft | Objective::Dpo) => {
            match ChatTemplate::from_setting(data.chat_template.as_ref(), t) {
                Ok(tpl) => {
                    super::template::check(&tpl)?;
                    Some(tpl)
                }
                Err(e) if data.chat_template.is_some() => return Err(e),
                Err(_) => None, // only an error if a chat row needs it
            }
        }
        _ => None,
    };
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
        template.as_ref().map_or(&b""[..], |t| t.source.as_bytes()),
    );
    let key = key.finish();
    let dir = output_dir.join("data-cache");
    let file = cache::path(&dir, &key);
    cache::with_lock(&dir, &key, || {
        if file.is_file() {
            let (meta, mut sets) = cache::read(&file, 2)?;
            let summary: Summary = serde_json::from_slice(&meta)
                .with_context(|| format!("{}: bad summary: delete the file", file.display()))?;
            let validation = sets.pop().expect("two sets");
            let train = sets.pop().expect("two sets");
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

/// Builds both splits from the files.
fn build(
    config: &Config,
    tok: Option<&Tokenizer>,
    template: Option<&ChatTemplate>,
) -> Result<(SampleSet, SampleSet, Summary)> {
    let data = &config.data;
    let encoder = Encoder {
        tokenizer: tok,
        template,
        objective: data.objective,
        max_len: data.max_seq_length,
        overlong: data.overlong,
        stream: data.packing && data.objective == Objective::Pretrain,
    };
    let mut summary = Summary::default();
    let (mut train, mut validation): (Vec<Encoded>, Vec<Encoded>) = (Vec::new(), Vec::new());
    for d in &data.datasets {
        let source = readers::read(d)?;
        let fields = Fields::of(d);
        let texts: Vec<&str> = source.rows.iter().map(|r| r.text.as_str()).collect();
        let sel = mixture::select(&texts, d, data.validation.as_ref(), config.train.seed);
        let mut needed = vec![false; source.rows.len()];
        for &i in sel.train.iter().chain(&sel.validation) {
            needed[i] = true;
        }
        let results: Vec<Option<Result<Encoded, String>>> = source
            .rows
            .par_iter()
            .zip(needed.par_iter())
            .map(|(row, &need)| {
                need.then(|| {
                    let ex = examples::parse(row, source.is_json(), data.objective, &fields)?;
                    encoder.encode(ex)
                })
            })
            .collect();
        let mut enc: Vec<Option<Encoded>> = Vec::with_capacity(results.len());
        let mut ds = DatasetSummary {
            path: d.path.display().to_string(),
            rows: source.rows.len(),
            ..Default::default()
        };
        let mut first_bad = Vec::new();
        for (row, r) in source.rows.iter().zip(results) {
            match r {
                Some(Err(e)) if e.starts_with(super::encode::FATAL) => {
                    bail!("{}", &e[super::encode::FATAL.len()..])
                }
                Some(Err(e)) if !data.skip_bad_rows => bail!(
                    "{}: {e} (set data.skip_bad_rows: true to skip such rows)",
                    source.at(row)
                ),
                Some(Err(e)) => {
                    ds.bad_rows += 1;
                    if first_bad.len() < 3 {
                        first_bad.push(format!("{}: {e}", source.at(row)));
                    }
                    enc.push(None);
                }
                other => enc.push(other.and_then(Result::ok)),
            }
        }
        if ds.bad_rows > 0 {
            summary.warnings.push(format!(
                "skipped {} bad rows of {} (first: {})",
                ds.bad_rows,
                ds.path,
                first_bad.join("; ")
            ));
        }
        summary.bad_rows_skipped += ds.bad_rows;
        for (idx, out, count) in [
            (&sel.train, &mut train, &mut ds.train_rows),
            (&sel.validation, &mut validation, &mut ds.validation_rows),
        ] {
            for &i in idx {
                match &enc[i] {
                    Some(e @ (Encoded::One(_) | Encoded::Pair(..))) => {
                        out.push(e.clone());
                        *count += 1;
                    }
                    Some(Encoded::DroppedOverlong) => summary.dropped_overlong += 1,
                    Some(Encoded::DroppedNoTargets) => summary.dropped_no_targets += 1,
                    None => {}
                }
            }
        }
        summary.datasets.push(ds);
    }
    if data.shuffle {
        shuffle(&mut train, config.train.seed);
    }
    let train = pack::to_set(train, config);
    let validation = pack::to_set(validation, config);
    if train.is_empty() {
        bail!(
            "no training samples left: {} rows skipped as bad, {} over max_seq_length = {} dropped, {} without trained tokens",
            summary.bad_rows_skipped,
            summary.dropped_overlong,
            data.max_seq_length,
            summary.dropped_no_targets
        );
    }
    summary.train_samples = train.len();
    summary.validation_samples = validation.len();
    summary.train_tokens = train.total_tokens();
    Ok((train, validation, summary))
}

/// Fisher-Yates with the data seed, so that packed rows mix the datasets.
fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut rng = SplitMix::new(seed ^ 0x5EED_DA7A);
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
}
