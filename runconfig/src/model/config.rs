//! The model's shape and numerics, as the model code uses them: checked
//! from a `config.json` by `json` ([`super::ConfigJson::validate`]).

use super::family::Family;
use super::lora::Lora;
use super::shape::ModelShape;

/// Llama-family hyper-parameters, as used by the model code.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// The family of the file's `model_type`.
    pub family: Family,
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
    /// Rotary position embedding (of the global layers, when some layers
    /// are local).
    pub rope: RopeConfig,
    /// Attention of each layer: global, or local to a sliding window (with
    /// Gemma 3's own rotary base).
    pub attention: Attention,
    /// Whether the LM head reuses the embedding matrix.
    pub tie_word_embeddings: bool,
    /// Biases on the q, k and v projections (`attention_bias`, or always for Qwen2).
    pub qkv_bias: bool,
    /// Bias on the output projection (`attention_bias` for Llama; never for Qwen2).
    pub o_bias: bool,
    /// The MLP's activation of the gate.
    pub activation: Activation,
    /// Queries are scaled by this to the power -1/2 (Gemma's
    /// `query_pre_attn_scalar`; `head_dim` elsewhere).
    pub query_pre_attn_scalar: f64,
    /// `cap * tanh(logit / cap)` of the output logits.
    pub final_logit_softcapping: Option<f64>,
    /// LoRA adapters on the blocks' projections (none from a config.json:
    /// the run's `lora:` settings or a PEFT adapter add them).
    pub lora: Option<Lora>,
    /// Standard deviation of the random initialisation of matrices.
    pub initializer_range: f64,
    /// Token id whose embedding row receives no gradient (`padding_idx` in transformers).
    pub pad_token_id: Option<i64>,
}

/// The MLP's activation of the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `silu` (Llama and most families).
    Silu,
    /// `gelu_pytorch_tanh`: GELU with the tanh approximation (Gemma).
    GeluTanh,
}

/// Which layers attend within a sliding window, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Attention {
    /// Keys at most `window - 1` positions before the query (the query
    /// included makes `window`); `None` when every layer is global.
    pub window: Option<i64>,
    /// Whether layer `i` is local (`window` applies); all false without a
    /// window.
    pub local_layers: Vec<bool>,
    /// The rotary embedding of the local layers when it differs from the
    /// global one (Gemma 3's `rope_local_base_freq`).
    pub local_rope: Option<RopeConfig>,
}

impl Attention {
    /// Every layer global.
    pub fn global(layers: usize) -> Self {
        Attention {
            window: None,
            local_layers: vec![false; layers],
            local_rope: None,
        }
    }

    /// The window of layer `i` (`None` for a global layer).
    pub fn window_of(&self, layer: usize) -> Option<i64> {
        self.window
            .filter(|_| self.local_layers.get(layer).copied().unwrap_or(false))
    }
}

/// Rotary embedding parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct RopeConfig {
    /// Base of the frequencies (`rope_theta`).
    pub theta: f64,
    /// The Llama 3.1 frequency rescaling, when the file asks for `rope_type: llama3`.
    pub llama3: Option<Llama3Scaling>,
    /// Positions divided by this (`rope_type: linear`, Gemma 3's global
    /// layers); 1 otherwise.
    pub linear_factor: f64,
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
            family: self.family,
            lora: self.lora.as_ref().map(|l| l.shape),
        }
    }
}
