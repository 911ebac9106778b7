//! The sizes of a Llama-family model that memory depends on (read and
//! checked by `sizes`). Decoder blocks are identical, so the planner works
//! with one block's figures times the layer count, never a list per layer.

use super::family::Family;
use super::lora::LoraShape;

/// The most parameters one tensor may hold (2^40, a trillion: 250 times the
/// largest embedding of a released model).
pub const MAX_TENSOR_PARAMS: u64 = 1 << 40;
/// The most parameters a model may hold for the planner (2^46, about 70
/// trillion): its byte counts then stay far inside u64.
pub const MAX_PARAMS: u64 = 1 << 46;

/// The sizes of a Llama-family model that memory depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelShape {
    pub hidden: u64,
    pub intermediate: u64,
    pub layers: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub vocab: u64,
    pub tied: bool,
    /// Biases on q, k, v.
    pub qkv_bias: bool,
    /// Bias on the output projection.
    pub o_bias: bool,
    /// The family: where its blocks have norms, and their q/k norms.
    pub family: Family,
    /// LoRA adapters on the blocks' projections, when trained.
    pub lora: Option<LoraShape>,
}

/// Parameters of each kind of unit: the embedding, one of the `layers`
/// identical decoder blocks, and the final norm + LM head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitParams {
    pub embed: u64,
    pub block: u64,
    pub layers: u64,
    pub head: u64,
}
