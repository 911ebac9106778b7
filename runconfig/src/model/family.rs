//! What tells the supported families apart.

/// `model_type`s the model code runs (`llama` when the field is absent).
pub const MODEL_TYPES: [&str; 2] = ["llama", "qwen2"];

/// Biases on (q, k and v, the output projection): Qwen2 always has the
/// first and never the second; Llama has both or neither (`attention_bias`).
pub fn attention_biases(qwen2: bool, attention_bias: bool) -> (bool, bool) {
    (qwen2 || attention_bias, !qwen2 && attention_bias)
}
