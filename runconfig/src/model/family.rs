//! What tells the supported families apart, and which of their
//! config.json fields make a checkpoint another run's.

/// `model_type`s the model code runs (`llama` when the field is absent).
pub const MODEL_TYPES: [&str; 2] = ["llama", "qwen2"];

/// Biases on (q, k and v, the output projection): Qwen2 always has the
/// first and never the second; Llama has both or neither (`attention_bias`).
pub fn attention_biases(qwen2: bool, attention_bias: bool) -> (bool, bool) {
    (qwen2 || attention_bias, !qwen2 && attention_bias)
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
