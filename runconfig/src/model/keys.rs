//! The keys a family's config.json may hold. A key outside them is refused
//! by name: it may change what the model computes (a mixture of experts, a
//! quantisation, remote code), and an ignored field would train another
//! model than the file describes. Null reads as absent and passes.

use serde_json::Value;

use super::family::{Family, SHAPE_FIELDS};

/// Keys every family reads besides the shape's (their values are checked
/// by `json`).
const COMMON: [&str; 9] = [
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
    "rope_parameters",
    "rope_scaling",
    "partial_rotary_factor",
    "initializer_range",
    "pad_token_id",
    "attention_dropout",
];

/// Keys that never change the numbers of training: names, ids the
/// tokenizer and generation use, the dtype the file was saved in, cache
/// and output switches of inference.
const HARMLESS: [&str; 15] = [
    "architectures",
    "transformers_version",
    "torch_dtype",
    "dtype",
    "use_cache",
    "cache_implementation",
    "bos_token_id",
    "eos_token_id",
    "sep_token_id",
    "_name_or_path",
    "id2label",
    "label2id",
    "tokenizer_class",
    "output_attentions",
    "output_hidden_states",
];

/// The keys only some families read.
fn family_keys(family: Family) -> &'static [&'static str] {
    match family {
        Family::Llama => &[
            "hidden_act",
            "attention_bias",
            "mlp_bias",
            "pretraining_tp",
            "original_max_position_embeddings",
        ],
        Family::Qwen2 => &[
            "hidden_act",
            "use_sliding_window",
            "sliding_window",
            "max_window_layers",
            "layer_types",
        ],
        Family::Qwen3 => &[
            "hidden_act",
            "attention_bias",
            "use_sliding_window",
            "sliding_window",
            "max_window_layers",
            "layer_types",
        ],
        Family::Mistral => &["hidden_act", "sliding_window"],
        Family::Olmo2 => &["hidden_act", "attention_bias"],
        Family::Gemma3 => &[
            "hidden_activation",
            "attention_bias",
            "sliding_window",
            "sliding_window_pattern",
            "layer_types",
            "rope_local_base_freq",
            "query_pre_attn_scalar",
            "attn_logit_softcapping",
            "final_logit_softcapping",
            "use_bidirectional_attention",
            // Written by transformers beside `layer_types`, read by nothing.
            "_sliding_window_pattern",
        ],
    }
}

/// Whether `family` reads `key` (or may ignore it safely). The shape's
/// fields are every family's but `attention_bias`, which only some read.
pub fn known(family: Family, key: &str) -> bool {
    let shape = SHAPE_FIELDS.contains(&key) && key != "attention_bias";
    shape || COMMON.contains(&key) || HARMLESS.contains(&key) || family_keys(family).contains(&key)
}

/// The first key of `whole` (a config.json object) that `family` does not
/// read, with a non-null value: the one-line refusal naming it.
pub fn refuse_unknown(family: Family, whole: &Value) -> Result<(), String> {
    let Some(map) = whole.as_object() else {
        return Ok(());
    };
    match map.iter().find(|(k, v)| !v.is_null() && !known(family, k)) {
        None => Ok(()),
        Some((key, _)) => Err(format!(
            "field `{key}` is not supported for model_type {:?}: it may change what the model \
             computes, and it is never ignored (docs/models.md lists the fields each family \
             reads); remove it only if the model is the same without it",
            family.model_type()
        )),
    }
}
