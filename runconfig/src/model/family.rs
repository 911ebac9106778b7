//! What tells the supported families apart, and which of their
//! config.json fields make a checkpoint another run's.

/// `model_type`s the model code runs (`llama` when the field is absent).
pub const MODEL_TYPES: [&str; 3] = ["llama", "qwen2", "qwen3"];

/// Biases on (q, k and v, the output projection): Qwen2 always has the
/// first and never the second; Llama and Qwen3 have both or neither
/// (`attention_bias`).
pub fn attention_biases(model_type: &str, attention_bias: bool) -> (bool, bool) {
    let qwen2 = model_type == "qwen2";
    (qwen2 || attention_bias, !qwen2 && attention_bias)
}

/// Whether each block normalises its queries and keys per head (Qwen3's
/// `q_norm` and `k_norm`, RMSNorm over `head_dim`, before the rotation).
pub fn has_qk_norm(model_type: &str) -> bool {
    model_type == "qwen3"
}

/// The head dimension when config.json gives none: Qwen3's config class
/// defaults to 128 whatever the hidden size; the others divide the hidden
/// size among the heads (`None`).
pub fn default_head_dim(model_type: &str) -> Option<u64> {
    (model_type == "qwen3").then_some(128)
}

/// Whether the family has sliding-window keys (`use_sliding_window`), which
/// the model code refuses when switched on.
pub fn has_sliding_window_switch(model_type: &str) -> bool {
    matches!(model_type, "qwen2" | "qwen3")
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
pub const NUMERIC_FIELDS: [&str; 5] = [
    "rms_norm_eps",
    "rope_theta",
    "rope_scaling",
    "rope_parameters",
    "pad_token_id",
];
