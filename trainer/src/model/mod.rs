//! The Llama family (Llama 2/3/3.1, Qwen2's attention biases, Qwen3's q/k
//! norms, Mistral's sliding window, OLMo 2's post-norms, Gemma 3's local and
//! global layers) as plain functions of their weights, cut into the units
//! the ZeRO-3 engine gathers.
//! The model's description (the config.json rules, each unit's parameters,
//! the shard padding) is `runconfig::model`, shared with the memory planner;
//! this module adds the tensors.
//!
//! * [`LlamaConfig`]: the shape and numerics, from a Hugging Face `config.json`.
//! * [`units`]: the model as [`UnitSpec`]s, each listing its parameters (HF
//!   name, shape, initialisation) in flat-buffer order: 0 = embedding,
//!   `1..=L` = blocks, `L + 1` = final norm (+ LM head when untied).
//! * [`ParamSource`]: initial values by element range, from a checkpoint
//!   ([`SafetensorsWeights`]) or a seeded random initialisation ([`RandomInit`]).
//! * [`Ctx`] + [`forward_unit`]: one unit at a time on one micro-batch; the
//!   context also says how the pass applies LoRA adapters ([`Adapters`]:
//!   on, with [`Dropout`] in training, or off for DPO's reference).
//! * [`head_nll`] + [`head_backward`]: the head and the loss in training, over
//!   chunks of tokens so that the whole logits never exist at once.
//! * [`testing`]: every weight by name, the whole model in one pass and the
//!   plain token loss: the references the parity tests compare against.
//!
//! Tied embeddings: the head unit then has `uses_embedding == true` and no
//! `lm_head.weight`; [`forward_unit`] takes the embedding matrix as its
//! `tied_embedding` argument, and the gradient autograd returns for it belongs
//! to unit 0's `model.embed_tokens.weight`.

mod adapter;
mod attention;
mod block;
mod ctx;
mod dropout;
mod head;
mod init;
mod linear;
mod llama;
mod norm;
pub mod rope;
mod source;
pub mod testing;
mod units;
mod weights;

pub use adapter::{
    is_adapter, Adapted, FromAdapter, PeftAdapter, WithAdapters, ADAPTER_CONFIG, ADAPTER_FILE,
    PEFT_PREFIX,
};
pub use ctx::{compute_kind, Ctx, LayerCtx};
pub use dropout::{Adapters, Dropout};
pub use head::{head_backward, head_nll, Head, HeadGrads};
pub use init::RandomInit;
pub use llama::{forward_unit, shifted_labels};
pub use runconfig::model::{Family, Llama3Scaling, LlamaConfig, Lora, RopeConfig};
pub use source::{read_unit_range, validate, ParamSource};
pub use units::{shapes, trained_units, units, Init, ParamSpec, UnitKind, UnitSpec, EMBED_WEIGHT};
pub use weights::{SafetensorsWeights, INDEX_FILE, SINGLE_FILE};
