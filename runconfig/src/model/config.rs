//! The model's shape and numerics, as the model code uses them: checked
//! from a `config.json` by `json` ([`super::ConfigJson::validate`]).

use super::shape::ModelShape;

/// Llama-family hyper-parameters, as used by the model code.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// `model_type` of the file: `llama`, `qwen2` or `qwen3`.
    pub model_type: String,
    /// Width of the residual stream.
    pub hidden_size: i64,
    /// Width of the MLP's hidden layer.
    pub intermediate_size: i64,
    /// Number of decoder blocks.
    pub num_hidden_layers: usize,
    /// Query heads per block.
    pub num_attention_heads: i64,
    /// Key/value heads per block (grouped-query attention when fewer than the query heads).
    pub num_key_value_heads: i64,
    /// Width of one attention head (`hidden_size / num_attention_heads` unless given).
    pub head_dim: i64,
    /// Number of token ids.
    pub vocab_size: i64,
    /// Longest position the model was configured for (informational; not enforced).
    pub max_position_embeddings: i64,
    /// Epsilon of every RMSNorm.
    pub rms_norm_eps: f64,
    /// Rotary position embedding.
    pub rope: RopeConfig,
    /// Whether the LM head reuses the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Biases on the q, k and v projections (`attention_bias`, or always for Qwen2).
    pub qkv_bias: bool,
    /// Bias on the output projection (`attention_bias` for Llama; never for Qwen2).
    pub o_bias: bool,
    /// Per-head RMSNorm of queries and keys before the rotation (Qwen3's
    /// `q_norm` and `k_norm`).
    pub qk_norm: bool,
    /// Standard deviation of the random initialisation of matrices.
    pub initializer_range: f64,
    /// Token id whose embedding row receives no gradient (`padding_idx` in transformers).
    pub pad_token_id: Option<i64>,
}

/// Rotary embedding parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct RopeConfig {
    /// Base of the frequencies (`rope_theta`).
    pub theta: f64,
    /// The Llama 3.1 frequency rescaling, when the file asks for `rope_type: llama3`.
    pub llama3: Option<Llama3Scaling>,
}

/// Parameters of the `llama3` rope type.
#[derive(Debug, Clone, PartialEq)]
pub struct Llama3Scaling {
    /// Divisor of the low frequencies (8 for Llama 3.1).
    pub factor: f64,
    /// Wavelengths above `original / low_freq_factor` are divided by `factor`.
    pub low_freq_factor: f64,
    /// Wavelengths below `original / high_freq_factor` are kept.
    pub high_freq_factor: f64,
    /// Context length of pre-training (8192 for Llama 3.1).
    pub original_max_position_embeddings: i64,
}

impl LlamaConfig {
    /// Number of query heads sharing one key/value head.
    pub fn kv_groups(&self) -> i64 {
        self.num_attention_heads / self.num_key_value_heads
    }

    /// The sizes the unit list and the planner work from.
    pub fn shape(&self) -> ModelShape {
        ModelShape {
            hidden: self.hidden_size as u64,
            intermediate: self.intermediate_size as u64,
            layers: self.num_hidden_layers as u64,
            heads: self.num_attention_heads as u64,
            kv_heads: self.num_key_value_heads as u64,
            head_dim: self.head_dim as u64,
            vocab: self.vocab_size as u64,
            tied: self.tie_word_embeddings,
            qkv_bias: self.qkv_bias,
            o_bias: self.o_bias,
            qk_norm: self.qk_norm,
        }
    }
}
