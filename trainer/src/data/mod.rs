//! Training data: reading datasets (JSONL, Parquet, text), tokenizing them
//! (tokenizer.json, chat templates), mixing and splitting them, caching the
//! result, and the micro-batches each rank takes from a step.
//!
//! The trainer calls [`load_samples`] once, then builds micro-batches with
//! [`collate::collate`] (or [`batches::Steps`]).

pub mod batches;
mod build;
pub mod cache;
pub mod collate;
pub mod dataset;
pub mod encode;
pub mod examples;
mod folder;
pub mod mixture;
pub mod named;
pub mod order;
pub mod pack;
pub mod pyjson;
pub mod readers;
pub mod sample;
pub mod template;
pub mod tokenizer;

pub use dataset::{load_samples, tokenizer_path, Dataset, DatasetSummary, Summary};
pub use sample::{PairSample, Sample, SampleSet, SetKind, IGNORE};
pub use template::ChatTemplate;
pub use tokenizer::Tokenizer;
