//! What tells the supported families apart, and which of their
//! config.json fields make a checkpoint another run's.

/// A supported `model_type`: Llama's decoder and the few places where each
/// other family differs from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Llama,
    Qwen2,
    Qwen3,
    Mistral,
    Olmo2,
    Gemma3,
}

/// Where a decoder block normalises its residual branches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockNorms {
    /// `input_layernorm` before attention, `post_attention_layernorm` before
    /// the MLP (Llama).
    Pre,
    /// No input norms: `post_attention_layernorm` on the attention's output
    /// and `post_feedforward_layernorm` on the MLP's, before each residual
    /// add (OLMo 2).
    Post,
    /// Both: `input_layernorm` and `post_attention_layernorm` around the
    /// attention, `pre_feedforward_layernorm` and
    /// `post_feedforward_layernorm` around the MLP (Gemma 3).
    Sandwich,
}

/// How a block normalises its queries and keys before the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QkNorm {
    None,
    /// RMSNorm of each head over `head_dim` (Qwen3, Gemma 3).
    PerHead,
    /// RMSNorm of the whole projection, over heads x `head_dim` (OLMo 2).
    Whole,
}

/// How RMSNorm applies its weight after normalising in f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormWeight {
    /// Cast back to the compute dtype, then times the weight (Llama).
    CastThenScale,
    /// Times the weight in f32, then cast back (OLMo 2).
    ScaleThenCast,
    /// Times `1 + weight` in f32, then cast back (Gemma 3): a zero weight
    /// is the identity, and a new model starts from zeros.
    OnePlusThenCast,
}

impl Family {
    /// Every family, in the order messages list them.
    pub const ALL: [Family; 6] = [
        Family::Llama,
        Family::Qwen2,
        Family::Qwen3,
        Family::Mistral,
        Family::Olmo2,
        Family::Gemma3,
    ];

    /// The family of a `model_type` (`llama` when the field is absent), or
    /// the one-line refusal that lists the supported ones.
    pub fn of(model_type: Option<&str>) -> Result<Family, String> {
        let t = model_type.unwrap_or("llama");
        Family::ALL
            .into_iter()
            .find(|f| f.model_type() == t)
            .ok_or_else(|| {
                let supported: Vec<String> = Family::ALL
                    .iter()
                    .map(|f| format!("{:?}", f.model_type()))
                    .collect();
                format!(
                    "field `model_type` is {t:?}; supported: {}",
                    supported.join(", ")
                )
            })
    }

    /// The `model_type` of config.json.
    pub fn model_type(self) -> &'static str {
        match self {
            Family::Llama => "llama",
            Family::Qwen2 => "qwen2",
            Family::Qwen3 => "qwen3",
            Family::Mistral => "mistral",
            Family::Olmo2 => "olmo2",
            Family::Gemma3 => "gemma3_text",
        }
    }

    /// transformers' class for causal language modelling (`architectures`).
    pub fn architecture(self) -> &'static str {
        match self {
            Family::Llama => "LlamaForCausalLM",
            Family::Qwen2 => "Qwen2ForCausalLM",
            Family::Qwen3 => "Qwen3ForCausalLM",
            Family::Mistral => "MistralForCausalLM",
            Family::Olmo2 => "Olmo2ForCausalLM",
            Family::Gemma3 => "Gemma3ForCausalLM",
        }
    }

    /// Biases on (q, k and v, the output projection): Qwen2 always has the
    /// first and never the second; Mistral has none; the others have both
    /// or neither (`attention_bias`).
    pub fn attention_biases(self, attention_bias: bool) -> (bool, bool) {
        match self {
            Family::Qwen2 => (true, false),
            Family::Mistral => (false, false),
            _ => (attention_bias, attention_bias),
        }
    }

    /// Where each block's norms sit.
    pub fn block_norms(self) -> BlockNorms {
        match self {
            Family::Olmo2 => BlockNorms::Post,
            Family::Gemma3 => BlockNorms::Sandwich,
            _ => BlockNorms::Pre,
        }
    }

    /// The query and key norms.
    pub fn qk_norm(self) -> QkNorm {
        match self {
            Family::Qwen3 | Family::Gemma3 => QkNorm::PerHead,
            Family::Olmo2 => QkNorm::Whole,
            _ => QkNorm::None,
        }
    }

    /// How every RMSNorm of the family applies its weight.
    pub fn norm_weight(self) -> NormWeight {
        match self {
            Family::Olmo2 => NormWeight::ScaleThenCast,
            Family::Gemma3 => NormWeight::OnePlusThenCast,
            _ => NormWeight::CastThenScale,
        }
    }

    /// Whether the embedding's output is scaled by sqrt(hidden_size) in the
    /// compute dtype (Gemma).
    pub fn scales_embedding(self) -> bool {
        self == Family::Gemma3
    }

    /// Whether the rotation is computed in f32 and cast back (OLMo 2's
    /// cos and sin stay f32), rather than in the compute dtype.
    pub fn rotates_in_f32(self) -> bool {
        self == Family::Olmo2
    }

    /// The head dimension when config.json gives none: Qwen3 (128) and
    /// Gemma 3 (256) default it whatever the hidden size; the others divide
    /// the hidden size among the heads (`None`).
    pub fn default_head_dim(self) -> Option<u64> {
        match self {
            Family::Qwen3 => Some(128),
            Family::Gemma3 => Some(256),
            _ => None,
        }
    }

    /// `rms_norm_eps` when absent, as the family's config class defaults it.
    pub fn default_rms_norm_eps(self) -> f64 {
        match self {
            Family::Olmo2 => 1e-5,
            _ => 1e-6,
        }
    }

    /// `pad_token_id` when the key is absent (null stays none): the row
    /// that gets no gradient.
    pub fn default_pad_token_id(self) -> Option<i64> {
        match self {
            Family::Olmo2 => Some(1),
            Family::Gemma3 => Some(0),
            _ => None,
        }
    }

    /// `tie_word_embeddings` when absent.
    pub fn default_tied(self) -> bool {
        self == Family::Gemma3
    }

    /// `sliding_window` when the key is absent (null means none): Mistral's
    /// and Gemma 3's config classes default it to 4096.
    pub fn default_sliding_window(self) -> Option<i64> {
        matches!(self, Family::Mistral | Family::Gemma3).then_some(4096)
    }
}

/// Fields of config.json that give the model its shape: the resume
/// fingerprint records them, and a change to one is named as a new shape.
pub const SHAPE_FIELDS: [&str; 10] = [
    "model_type",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "vocab_size",
    "tie_word_embeddings",
    "attention_bias",
];
/// Fields of config.json that change what the model computes besides its
/// shape (the fingerprint records them too). A family with more such
/// fields appends them here: a saved fingerprint without the key reads it
/// as null, so old checkpoints of files without the field still resume.
pub const NUMERIC_FIELDS: [&str; 13] = [
    "rms_norm_eps",
    "rope_theta",
    "rope_scaling",
    "rope_parameters",
    "pad_token_id",
    "sliding_window",
    "layer_types",
    "sliding_window_pattern",
    "rope_local_base_freq",
    "query_pre_attn_scalar",
    "attn_logit_softcapping",
    "final_logit_softcapping",
    "hidden_activation",
];
