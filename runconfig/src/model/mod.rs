//! The model, described without tensors: what the launcher plans and the
//! trainer builds from one reading of a Hugging Face `config.json`.
//!
//! * [`ConfigJson`] (`json`, each field checked by `fields`): config.json
//!   as written (serde); its `validate` refuses keys the family does not
//!   read (`keys`), applies every field's rule and the family's rules
//!   ([`Family`]: Llama, Qwen2, Qwen3, Mistral, OLMo 2, Gemma 3), then the
//!   size checks, and gives
//! * [`LlamaConfig`] (`config`): the trainer's model configuration.
//! * [`ModelShape`] (`shape`, checked by `sizes`): the sizes memory depends
//!   on; the launcher reads only these, and the trainer's config gives them
//!   by [`LlamaConfig::shape`].
//! * [`unit_params`] (`units`): each unit's parameters (name, shape) in
//!   flat-buffer order; the trainer's tensors and the planner's counts.
//! * [`shard`]: how a unit is padded and split over ranks.
//!
//! A new model family: its fields and rules in `json` and `family` (with
//! the fields the resume fingerprint records), what the model code needs
//! of them in `config`, its parameters in `units`, its per-token
//! activations in the planner's `memory::parts`.

mod config;
mod family;
mod fields;
mod file;
mod json;
mod keys;
mod lora;
mod shape;
pub mod shard;
mod sizes;
mod units;

pub use config::{Activation, Attention, Llama3Scaling, LlamaConfig, RopeConfig};
pub use family::{BlockNorms, Family, NormWeight, QkNorm, NUMERIC_FIELDS, SHAPE_FIELDS};
pub use file::{config_json_path, read_json};
pub use json::ConfigJson;
pub use lora::{
    is_adapter, is_nf4_weight, saved_mask, Lora, LoraShape, LORA_TARGETS, SAVABLE_MODULES,
};
pub use shape::{ModelShape, UnitParams, MAX_PARAMS, MAX_TENSOR_PARAMS};
pub use units::{block_norm_names, numel, unit_kinds, unit_params, UnitKind, EMBED_WEIGHT};
