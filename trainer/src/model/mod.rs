//! The Llama family (Llama 2/3/3.1, Qwen2-style attention biases) as plain
//! functions of their weights, cut into the units the ZeRO-3 engine gathers.
//!
//! * [`LlamaConfig`]: the shape, from a Hugging Face `config.json`.
//! * [`units`]: the model as [`UnitSpec`]s, each listing its parameters (HF
//!   name, shape) in flat-buffer order: 0 = embedding, `1..=L` = blocks,
//!   `L + 1` = final norm (+ LM head when untied).
//! * [`ParamSource`]: initial values by element range, from a checkpoint
//!   ([`SafetensorsWeights`]) or a seeded random initialisation ([`RandomInit`]).
//! * [`Ctx`] + [`forward_unit`]: one unit at a time, the engine's entry point;
//!   [`forward`] runs them all for tests; [`token_loss_sum`] is the loss.
//! * [`head_nll`] + [`head_backward`]: the head and the loss in training, over
//!   chunks of tokens so that the whole logits never exist at once.
//!
//! Tied embeddings: the head unit then has `uses_embedding == true` and no
//! `lm_head.weight`; [`forward_unit`] takes the embedding matrix as its
//! `tied_embedding` argument, and the gradient autograd returns for it belongs
//! to unit 0's `model.embed_tokens.weight`.
//!
//! How the engine drives it (see `tests/model_units.rs`, which does exactly this):
//!
//! ```text
//! let cfg = LlamaConfig::load(dir.join("config.json"))?;
//! let specs = units(&cfg);
//! let source = SafetensorsWeights::open(dir)?;            // or RandomInit::new(&cfg, seed)
//! // per unit u: this rank's slice of the padded flat buffer, f32 on the CPU
//! let shard = read_unit_range(&source, &specs[u], r * L / W, L / W)?;
//! // per micro-batch
//! let ctx = Ctx::causal(&cfg, seq_len, kind, device);    // or Ctx::packed(..)
//! // forward, no autograd: gather flat, split, run, keep the input
//! let params = specs[u].split_flat(&gathered)?;
//! let x = forward_unit(&cfg, &specs[u], &params, tied.as_ref(), &x, &ctx)?;
//! let (loss_sum, n_targets) = token_loss_sum(&logits, &labels);
//! // backward, reverse: gathered.set_requires_grad(true), recompute forward_unit,
//! // Tensor::run_backward(&[(out * grad_out).sum()], &[flat, (embed flat), input])
//! ```

mod config;
mod ctx;
mod fields;
mod head;
mod init;
mod llama;
pub mod rope;
mod source;
mod units;
mod weights;

pub use config::{Llama3Scaling, LlamaConfig, RopeConfig};
pub use ctx::Ctx;
pub use head::{head_backward, head_nll, Head, HeadGrads};
pub use init::RandomInit;
pub use llama::{
    forward, forward_unit, forward_with_ctx, rms_norm, shifted_labels, token_loss_sum,
};
pub use source::{load_named, load_unit, read_unit_range, validate, ParamSource};
pub use units::{
    all_params, num_params, shapes, units, Init, ParamSpec, UnitKind, UnitSpec, EMBED_WEIGHT,
};
pub use weights::{SafetensorsWeights, INDEX_FILE, SINGLE_FILE};
