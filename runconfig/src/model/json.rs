//! A Hugging Face `config.json` as written, and its checks: [`ConfigJson`]
//! holds the fields the model reads, [`ConfigJson::validate`] applies every
//! field's rule and the family's rules, then the size checks the launcher
//! also runs, and gives the checked [`LlamaConfig`].
//!
//! Accepted: `model_type` `llama` (the default when absent), `qwen2` (whose
//! q/k/v projections always carry biases) and `qwen3` (per-head q/k norms).
//! Optional fields take the defaults of transformers' config classes. Anything
//! the model cannot honour (another activation, MLP biases, another rope type,
//! sliding windows) is refused with a message naming the file and the field.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

use super::config::{Llama3Scaling, LlamaConfig, RopeConfig};
use super::family::{
    attention_biases, default_head_dim, has_qk_norm, has_sliding_window_switch, MODEL_TYPES,
};
use super::fields::Check;
use super::file::read_json;
use super::shape::ModelShape;

/// A field of a read config.json with its key, for the checks in `fields`;
/// the key is the Rust field's name, so the two cannot drift apart.
macro_rules! field {
    ($raw:ident . $f:ident) => {
        (stringify!($f), &$raw.$f)
    };
}

/// The fields of a config.json the model reads, each as written (`None`
/// when absent or null): their types are checked by `validate`, whose
/// messages name the file and the field. Other keys are ignored.
#[derive(Debug, Deserialize)]
pub struct ConfigJson {
    model_type: Option<Value>,
    hidden_size: Option<Value>,
    intermediate_size: Option<Value>,
    num_hidden_layers: Option<Value>,
    num_attention_heads: Option<Value>,
    num_key_value_heads: Option<Value>,
    head_dim: Option<Value>,
    vocab_size: Option<Value>,
    max_position_embeddings: Option<Value>,
    rms_norm_eps: Option<Value>,
    rope_theta: Option<Value>,
    rope_parameters: Option<Value>,
    rope_scaling: Option<Value>,
    partial_rotary_factor: Option<Value>,
    original_max_position_embeddings: Option<Value>,
    tie_word_embeddings: Option<Value>,
    attention_bias: Option<Value>,
    mlp_bias: Option<Value>,
    hidden_act: Option<Value>,
    use_sliding_window: Option<Value>,
    initializer_range: Option<Value>,
    pad_token_id: Option<Value>,
    /// The whole file, for the size checks shared with the launcher.
    #[serde(skip)]
    whole: Value,
    /// Names the file in messages.
    #[serde(skip)]
    origin: String,
}

/// The rotary parameters of `rope_parameters` (transformers 5) or
/// `rope_scaling` (older files, which may say `type` for `rope_type`).
#[derive(Deserialize)]
struct RopeJson {
    rope_theta: Option<Value>,
    rope_type: Option<Value>,
    #[serde(rename = "type")]
    kind: Option<Value>,
    partial_rotary_factor: Option<Value>,
    factor: Option<Value>,
    low_freq_factor: Option<Value>,
    high_freq_factor: Option<Value>,
    original_max_position_embeddings: Option<Value>,
}

impl LlamaConfig {
    /// Reads and checks a `config.json`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read model config {}", path.display()))?;
        Self::from_json_str(&text, &path.display().to_string())
    }

    /// Parses and checks the text of a `config.json`; `origin` names it in
    /// error messages.
    pub fn from_json_str(text: &str, origin: &str) -> Result<Self> {
        ConfigJson::parse(text, origin)?.validate()
    }
}

impl ConfigJson {
    /// Reads the text of a `config.json`; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let whole = read_json(text).with_context(|| format!("{origin}: not valid JSON"))?;
        ConfigJson::from_value(whole, origin)
    }

    /// A `config.json` already parsed (by [`read_json`]), so that the
    /// launcher's planner and the family rules share one reading.
    pub fn from_value(whole: Value, origin: &str) -> Result<Self> {
        if !whole.is_object() {
            bail!("{origin}: expected a JSON object at the top level");
        }
        // Every field takes any JSON value, so an object always reads.
        let raw = ConfigJson::deserialize(&whole)
            .with_context(|| format!("{origin}: not a config.json"))?;
        Ok(ConfigJson {
            whole,
            origin: origin.to_string(),
            ..raw
        })
    }

    /// Checks every field and the family's rules, then the sizes (the
    /// launcher's planner refuses the same overflow, non-positive eps or
    /// rope_theta), and gives the model's configuration.
    pub fn validate(&self) -> Result<LlamaConfig> {
        let origin = self.origin.as_str();
        let f = Check { origin };
        let model_type = f
            .string(field!(self.model_type))?
            .unwrap_or_else(|| "llama".into());
        if !MODEL_TYPES.contains(&model_type.as_str()) {
            let supported: Vec<String> = MODEL_TYPES.iter().map(|t| format!("{t:?}")).collect();
            bail!(
                "{origin}: field `model_type` is {model_type:?}; supported: {}",
                supported.join(", ")
            );
        }
        let (hidden_size, num_attention_heads, num_key_value_heads, head_dim) =
            self.attention_sizes(&model_type)?;
        self.refuse_unsupported(&model_type)?;
        let attention_bias = f.boolean(field!(self.attention_bias))?.unwrap_or(false);
        let (qkv_bias, o_bias) = attention_biases(&model_type, attention_bias);
        let max_position_embeddings = f.pos(field!(self.max_position_embeddings))?.unwrap_or(2048);
        let cfg = LlamaConfig {
            hidden_size,
            intermediate_size: f.req_pos(field!(self.intermediate_size))?,
            num_hidden_layers: f.req_pos(field!(self.num_hidden_layers))? as usize,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            vocab_size: f.req_pos(field!(self.vocab_size))?,
            max_position_embeddings,
            rms_norm_eps: f.number(field!(self.rms_norm_eps))?.unwrap_or(1e-6),
            rope: self.rope(max_position_embeddings)?,
            tie_word_embeddings: f
                .boolean(field!(self.tie_word_embeddings))?
                .unwrap_or(false),
            qkv_bias,
            o_bias,
            qk_norm: has_qk_norm(&model_type),
            initializer_range: f.number(field!(self.initializer_range))?.unwrap_or(0.02),
            pad_token_id: f.int(field!(self.pad_token_id))?,
            model_type,
        };
        ModelShape::from_value(&self.whole).map_err(|m| anyhow::anyhow!("{origin}: {m}"))?;
        Ok(cfg)
    }

    /// The hidden size, the query and key/value heads and the head dimension:
    /// the heads must group evenly, and the head dimension be even (rotary).
    fn attention_sizes(&self, model_type: &str) -> Result<(i64, i64, i64, i64)> {
        let origin = self.origin.as_str();
        let f = Check { origin };
        let hidden_size = f.req_pos(field!(self.hidden_size))?;
        let num_attention_heads = f.req_pos(field!(self.num_attention_heads))?;
        let num_key_value_heads = f
            .pos(field!(self.num_key_value_heads))?
            .unwrap_or(num_attention_heads);
        if num_attention_heads % num_key_value_heads != 0 {
            bail!(
                "{origin}: `num_attention_heads` ({num_attention_heads}) must be a multiple of \
                 `num_key_value_heads` ({num_key_value_heads})"
            );
        }
        let family_default = default_head_dim(model_type).map(|d| d as i64);
        let head_dim = match f.pos(field!(self.head_dim))?.or(family_default) {
            Some(d) => d,
            None if hidden_size % num_attention_heads == 0 => hidden_size / num_attention_heads,
            None => bail!(
                "{origin}: `hidden_size` ({hidden_size}) is not a multiple of \
                 `num_attention_heads` ({num_attention_heads}); give `head_dim`"
            ),
        };
        if head_dim % 2 != 0 {
            bail!(
                "{origin}: the head dimension must be even for rotary embeddings, found {head_dim}"
            );
        }
        Ok((
            hidden_size,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
        ))
    }

    /// Refuses what the model code cannot honour: another activation, MLP
    /// biases, Qwen2's and Qwen3's sliding-window attention.
    fn refuse_unsupported(&self, model_type: &str) -> Result<()> {
        let origin = self.origin.as_str();
        let f = Check { origin };
        let act = f
            .string(field!(self.hidden_act))?
            .unwrap_or_else(|| "silu".into());
        if act != "silu" {
            bail!("{origin}: field `hidden_act` is {act:?}; only \"silu\" is supported");
        }
        if f.boolean(field!(self.mlp_bias))?.unwrap_or(false) {
            bail!("{origin}: field `mlp_bias` is true; only MLPs without biases are supported");
        }
        let sliding = f.boolean(field!(self.use_sliding_window))?.unwrap_or(false);
        if has_sliding_window_switch(model_type) && sliding {
            bail!("{origin}: field `use_sliding_window` is true; sliding-window attention is not supported");
        }
        Ok(())
    }

    /// Reads both spellings: `rope_parameters` (transformers 5) and the older
    /// top-level `rope_theta` + `rope_scaling` (with `rope_type` or `type`).
    fn rope(&self, max_pos: i64) -> Result<RopeConfig> {
        let f = Check {
            origin: &self.origin,
        };
        let top_theta = f.number(field!(self.rope_theta))?;
        let (key, params) = match (&self.rope_parameters, &self.rope_scaling) {
            (Some(v @ Value::Object(_)), _) => ("rope_parameters", v),
            (_, Some(v @ Value::Object(_))) => ("rope_scaling", v),
            _ => {
                return Ok(RopeConfig {
                    theta: top_theta.unwrap_or(10000.0),
                    llama3: None,
                })
            }
        };
        let sub_origin = format!("{}: `{key}`", self.origin);
        // Every field takes any JSON value, so an object always reads.
        let p = RopeJson::deserialize(params).with_context(|| sub_origin.clone())?;
        let sub = Check {
            origin: &sub_origin,
        };
        let theta = sub
            .number(field!(p.rope_theta))?
            .or(top_theta)
            .unwrap_or(10000.0);
        let kind = match sub.string(field!(p.rope_type))? {
            Some(t) => t,
            None => sub
                .string(("type", &p.kind))?
                .unwrap_or_else(|| "default".into()),
        };
        // Both are read (and a bad top-level one refused) even when the
        // rope parameters give their own.
        let partial = sub
            .number(field!(p.partial_rotary_factor))?
            .or(f.number(field!(self.partial_rotary_factor))?);
        if let Some(prf) = partial.filter(|&prf| prf != 1.0) {
            bail!("{sub_origin}: `partial_rotary_factor` {prf} is not supported (only 1.0)");
        }
        let llama3 = match kind.as_str() {
            "default" => None,
            "llama3" => Some(Llama3Scaling {
                factor: sub.req_number(field!(p.factor))?,
                low_freq_factor: sub.req_number(field!(p.low_freq_factor))?,
                high_freq_factor: sub.req_number(field!(p.high_freq_factor))?,
                original_max_position_embeddings: match f
                    .pos(field!(self.original_max_position_embeddings))?
                {
                    Some(v) => v,
                    None => sub
                        .pos(field!(p.original_max_position_embeddings))?
                        .unwrap_or(max_pos),
                },
            }),
            other => bail!("{sub_origin}: rope type {other:?} is not supported (supported: \"default\", \"llama3\")"),
        };
        Ok(RopeConfig { theta, llama3 })
    }
}

#[cfg(test)]
mod tests;
