//! The model's shape and numerics, read from a Hugging Face `config.json`.
//!
//! Accepted: `model_type` `llama` (the default when absent) and `qwen2` (whose
//! q/k/v projections always carry biases). Optional fields take the defaults of
//! transformers' `LlamaConfig`. Anything the model cannot honour (another
//! activation, MLP biases, another rope type, sliding windows) is refused with a
//! message naming the file and the field.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use super::family::{attention_biases, MODEL_TYPES};
use super::fields::Fields;
use super::file::read_json;
use super::shape::ModelShape;

/// Llama-family hyper-parameters, as used by the model code.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// `model_type` of the file: `llama` or `qwen2`.
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
    /// Reads and checks a `config.json`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read model config {}", path.display()))?;
        Self::from_json_str(&text, &path.display().to_string())
    }

    /// Parses the text of a `config.json`; `origin` names it in error messages.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Self> {
        let value = read_json(text).with_context(|| format!("{origin}: not valid JSON"))?;
        let Value::Object(map) = &value else {
            bail!("{origin}: expected a JSON object at the top level");
        };
        let f = Fields { map, origin };
        let model_type = f.string("model_type")?.unwrap_or_else(|| "llama".into());
        if !MODEL_TYPES.contains(&model_type.as_str()) {
            let supported: Vec<String> = MODEL_TYPES.iter().map(|t| format!("{t:?}")).collect();
            bail!(
                "{origin}: field `model_type` is {model_type:?}; supported: {}",
                supported.join(", ")
            );
        }
        let (hidden_size, num_attention_heads, num_key_value_heads, head_dim) =
            attention_sizes(&f)?;
        let qwen2 = model_type == "qwen2";
        refuse_unsupported(&f, qwen2)?;
        let (qkv_bias, o_bias) =
            attention_biases(qwen2, f.boolean("attention_bias")?.unwrap_or(false));
        let max_position_embeddings = f.pos("max_position_embeddings")?.unwrap_or(2048);
        let cfg = LlamaConfig {
            hidden_size,
            intermediate_size: f.req_pos("intermediate_size")?,
            num_hidden_layers: f.req_pos("num_hidden_layers")? as usize,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            vocab_size: f.req_pos("vocab_size")?,
            max_position_embeddings,
            rms_norm_eps: f.number("rms_norm_eps")?.unwrap_or(1e-6),
            rope: parse_rope(&f, max_position_embeddings)?,
            tie_word_embeddings: f.boolean("tie_word_embeddings")?.unwrap_or(false),
            qkv_bias,
            o_bias,
            initializer_range: f.number("initializer_range")?.unwrap_or(0.02),
            pad_token_id: f.int("pad_token_id")?,
            model_type,
        };
        // The sizes and numerics the launcher's planner checks (overflow,
        // non-positive eps or rope_theta), refused here too.
        ModelShape::from_value(&value).map_err(|m| anyhow::anyhow!("{origin}: {m}"))?;
        Ok(cfg)
    }

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
        }
    }
}

/// The hidden size, the query and key/value heads and the head dimension:
/// the heads must group evenly, and the head dimension be even (rotary).
fn attention_sizes(f: &Fields) -> Result<(i64, i64, i64, i64)> {
    let origin = f.origin;
    let hidden_size = f.req_pos("hidden_size")?;
    let num_attention_heads = f.req_pos("num_attention_heads")?;
    let num_key_value_heads = f.pos("num_key_value_heads")?.unwrap_or(num_attention_heads);
    if num_attention_heads % num_key_value_heads != 0 {
        bail!(
            "{origin}: `num_attention_heads` ({num_attention_heads}) must be a multiple of \
             `num_key_value_heads` ({num_key_value_heads})"
        );
    }
    let head_dim = match f.pos("head_dim")? {
        Some(d) => d,
        None if hidden_size % num_attention_heads == 0 => hidden_size / num_attention_heads,
        None => bail!(
            "{origin}: `hidden_size` ({hidden_size}) is not a multiple of \
             `num_attention_heads` ({num_attention_heads}); give `head_dim`"
        ),
    };
    if head_dim % 2 != 0 {
        bail!("{origin}: the head dimension must be even for rotary embeddings, found {head_dim}");
    }
    Ok((
        hidden_size,
        num_attention_heads,
        num_key_value_heads,
        head_dim,
    ))
}

/// Refuses what the model code cannot honour: another activation, MLP
/// biases, Qwen2's sliding-window attention.
fn refuse_unsupported(f: &Fields, qwen2: bool) -> Result<()> {
    let origin = f.origin;
    let act = f.string("hidden_act")?.unwrap_or_else(|| "silu".into());
    if act != "silu" {
        bail!("{origin}: field `hidden_act` is {act:?}; only \"silu\" is supported");
    }
    if f.boolean("mlp_bias")?.unwrap_or(false) {
        bail!("{origin}: field `mlp_bias` is true; only MLPs without biases are supported");
    }
    if qwen2 && f.boolean("use_sliding_window")?.unwrap_or(false) {
        bail!("{origin}: field `use_sliding_window` is true; sliding-window attention is not supported");
    }
    Ok(())
}

/// Reads both spellings: `rope_parameters` (transformers 5) and the older
/// top-level `rope_theta` + `rope_scaling` (with `rope_type` or `type`).
fn parse_rope(f: &Fields, max_pos: i64) -> Result<RopeConfig> {
    let origin = f.origin;
    let top_theta = f.number("rope_theta")?;
    let (key, params) = match (f.map.get("rope_parameters"), f.map.get("rope_scaling")) {
        (Some(v @ Value::Object(_)), _) => ("rope_parameters", v),
        (_, Some(v @ Value::Object(_))) => ("rope_scaling", v),
        _ => {
            return Ok(RopeConfig {
                theta: top_theta.unwrap_or(10000.0),
                llama3: None,
            })
        }
    };
    let Value::Object(map) = params else {
        unreachable!()
    };
    let sub_origin = format!("{origin}: `{key}`");
    let p = Fields {
        map,
        origin: &sub_origin,
    };
    let theta = p.number("rope_theta")?.or(top_theta).unwrap_or(10000.0);
    let kind = match p.string("rope_type")? {
        Some(t) => t,
        None => p.string("type")?.unwrap_or_else(|| "default".into()),
    };
    if let Some(prf) = p
        .number("partial_rotary_factor")?
        .or(f.number("partial_rotary_factor")?)
    {
        if prf != 1.0 {
            bail!("{sub_origin}: `partial_rotary_factor` {prf} is not supported (only 1.0)");
        }
    }
    let llama3 = match kind.as_str() {
        "default" => None,
        "llama3" => Some(Llama3Scaling {
            factor: p.req_number("factor")?,
            low_freq_factor: p.req_number("low_freq_factor")?,
            high_freq_factor: p.req_number("high_freq_factor")?,
            original_max_position_embeddings: match f.pos("original_max_position_embeddings")? {
                Some(v) => v,
                None => p.pos("original_max_position_embeddings")?.unwrap_or(max_pos),
            },
        }),
        other => bail!("{sub_origin}: rope type {other:?} is not supported (supported: \"default\", \"llama3\")"),
    };
    Ok(RopeConfig { theta, llama3 })
}

#[cfg(test)]
mod tests;
