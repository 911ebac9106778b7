//! [`build`]: the training and validation samples from the dataset files
//! (read, select, encode in parallel with a progress line, split, shuffle,
//! pack).

use super::dataset::{DatasetSummary, Summary};
use super::encode::{max_row_bytes, Encoded, Encoder, FATAL};
use super::examples::{self, Fields};
use super::mixture::{self, Selection};
use super::order::SplitMix;
use super::pack;
use super::readers::{self, Source};
use super::sample::SampleSet;
use super::template::ChatTemplate;
use super::tokenizer::Tokenizer;
use crate::progress::Meter;
use anyhow::{bail, Result};
use rayon::prelude::*;
use runconfig::{Config, DatasetConfig, Objective};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The encoded examples of the two splits, in data order.
#[derive(Default)]
struct Splits {
    train: Vec<Encoded>,
    validation: Vec<Encoded>,
}

/// Builds both splits from the files.
pub(super) fn build(
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
        max_bytes: max_row_bytes(data.max_seq_length),
        cut_by_size: Default::default(),
    };
    let mut summary = Summary::default();
    let mut splits = Splits::default();
    for d in &data.datasets {
        let ds = add_dataset(config, d, &encoder, &mut summary, &mut splits)?;
        summary.datasets.push(ds);
    }
    summary.cut_by_size = encoder.cut_by_size.into_inner();
    summary.max_row_bytes = encoder.max_bytes;
    if data.shuffle {
        shuffle(&mut splits.train, config.train.seed);
    }
    let train = pack::to_set(splits.train, config);
    let validation = pack::to_set(splits.validation, config);
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

/// Reads dataset `d`, encodes its selected rows and appends them to `splits`;
/// returns its share of the summary.
fn add_dataset(
    config: &Config,
    d: &DatasetConfig,
    encoder: &Encoder,
    summary: &mut Summary,
    splits: &mut Splits,
) -> Result<DatasetSummary> {
    let data = &config.data;
    let source = readers::read(d)?;
    let texts: Vec<&str> = source.rows.iter().map(|r| r.text.as_str()).collect();
    let sel = mixture::select(&texts, d, data.validation.as_ref(), config.train.seed);
    let label = d.label();
    let fields = Fields::of(d);
    let results = encode_selected(&source, &sel, &fields, data.objective, encoder, &label);
    let mut ds = DatasetSummary {
        path: label,
        rows: source.rows.len(),
        ..Default::default()
    };
    let enc = sort_out_bad_rows(&source, results, data.skip_bad_rows, &mut ds, summary)?;
    for (idx, out, count) in [
        (&sel.train, &mut splits.train, &mut ds.train_rows),
        (
            &sel.validation,
            &mut splits.validation,
            &mut ds.validation_rows,
        ),
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
    Ok(ds)
}

/// Parses and encodes, in parallel, the rows either split selected
/// (`None` for the others), printing the count, rate and ETA about once a
/// second (`tokenising <label>: 120/1200 rows  5.1k rows/s  ETA 0s`).
fn encode_selected(
    source: &Source,
    sel: &Selection,
    fields: &Fields,
    objective: Objective,
    encoder: &Encoder,
    label: &str,
) -> Vec<Option<Result<Encoded, String>>> {
    let mut needed = vec![false; source.rows.len()];
    for &i in sel.train.iter().chain(&sel.validation) {
        needed[i] = true;
    }
    let total = needed.iter().filter(|&&n| n).count();
    let meter = Meter::new(&format!("tokenising {label}:"), total, "rows");
    let done = AtomicUsize::new(0);
    source
        .rows
        .par_iter()
        .zip(needed.par_iter())
        .map(|(row, &need)| {
            need.then(|| {
                let ex = examples::parse(row, source.is_json(), objective, fields);
                let encoded = ex.and_then(|ex| encoder.encode(ex));
                meter.tick(done.fetch_add(1, Ordering::Relaxed) + 1);
                encoded
            })
        })
        .collect()
}

/// The encoded rows, with bad rows as `None` when `skip_bad_rows` (counted
/// and warned about in `ds` and `summary`), else the first bad row's error.
fn sort_out_bad_rows(
    source: &Source,
    results: Vec<Option<Result<Encoded, String>>>,
    skip_bad_rows: bool,
    ds: &mut DatasetSummary,
    summary: &mut Summary,
) -> Result<Vec<Option<Encoded>>> {
    let mut enc: Vec<Option<Encoded>> = Vec::with_capacity(results.len());
    let mut first_bad = Vec::new();
    for (row, r) in source.rows.iter().zip(results) {
        match r {
            Some(Err(e)) if e.starts_with(FATAL) => bail!("{}", &e[FATAL.len()..]),
            Some(Err(e)) if !skip_bad_rows => bail!(
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
    Ok(enc)
}

/// Fisher-Yates with the data seed, so that packed rows mix the datasets.
fn shuffle<T>(v: &mut [T], seed: u64) {
    let mut rng = SplitMix::new(seed ^ 0x5EED_DA7A);
    for i in (1..v.len()).rev() {
        v.swap(i, rng.below(i + 1));
    }
}
