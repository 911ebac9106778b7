//! A Hugging Face `config.json` as written, and its checks: [`ConfigJson`]
//! holds the fields the model reads, [`ConfigJson::validate`] applies every
//! field's rule and the family's rules, then the size checks the launcher
//! also runs, and gives the checked [`LlamaConfig`].
//!
//! Accepted: the `model_type`s of [`Family`] (`llama` when absent). Optional
//! fields take the defaults of transformers' config classes. A key the
//! family does not read (`keys`), and anything the model cannot honour
//! (another activation, MLP biases, dropout, another rope type, Qwen's
//! sliding windows), is refused with a message naming the file and the
//! field. The rotary parameters are read by `rope`, the layers' attention
//! and Gemma's scalars by `layers`.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

use super::config::LlamaConfig;
use super::family::Family;
use super::fields::Check;
use super::file::read_json;
use super::keys::refuse_unknown;
use super::shape::ModelShape;

/// A field of a read config.json with its key, for the checks in `fields`;
/// the key is the Rust field's name, so the two cannot drift apart.
macro_rules! field {
    ($raw:ident . $f:ident) => {
        (stringify!($f), &$raw.$f)
    };
}

mod layers;
mod rope;

/// The fields of a config.json the model reads, each as written (`None`
/// when absent or null): their types are checked by `validate`, whose
/// messages name the file and the field. Other keys are refused unless
/// harmless (`keys`).
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
    sliding_window: Option<Value>,
    layer_types: Option<Value>,
    sliding_window_pattern: Option<Value>,
    rope_local_base_freq: Option<Value>,
    query_pre_attn_scalar: Option<Value>,
    attn_logit_softcapping: Option<Value>,
    final_logit_softcapping: Option<Value>,
    hidden_activation: Option<Value>,
    use_bidirectional_attention: Option<Value>,
    attention_dropout: Option<Value>,
    initializer_range: Option<Value>,
    pad_token_id: Option<Value>,
    /// The whole file, for the size checks shared with the launcher.
    #[serde(skip)]
    whole: Value,
    /// Names the file in messages.
    #[serde(skip)]
    origin: String,
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

    /// The field checks of this file, whose messages name it.
    fn check(&self) -> Check<'_> {
        Check {
            origin: &self.origin,
        }
    }

    /// Checks every field and the family's rules, then the sizes (the
    /// launcher's planner refuses the same overflow, non-positive eps or
    /// rope_theta), and gives the model's configuration.
    pub fn validate(&self) -> Result<LlamaConfig> {
        let origin = self.origin.as_str();
        let f = self.check();
        let model_type = f.string(field!(self.model_type))?;
        let family = Family::of(model_type.as_deref()).map_err(|m| anyhow!("{origin}: {m}"))?;
        refuse_unknown(family, &self.whole).map_err(|m| anyhow!("{origin}: {m}"))?;
        let (hidden_size, num_attention_heads, num_key_value_heads, head_dim) =
            self.attention_sizes(family)?;
        self.refuse_unsupported()?;
        let attention_bias = f.boolean(field!(self.attention_bias))?.unwrap_or(false);
        let (qkv_bias, o_bias) = family.attention_biases(attention_bias);
        let max_position_embeddings = f.pos(field!(self.max_position_embeddings))?.unwrap_or(2048);
        let intermediate_size = f.req_pos(field!(self.intermediate_size))?;
        let num_hidden_layers = f.req_pos(field!(self.num_hidden_layers))? as usize;
        let (rope, local_rope) = self.ropes(family, max_position_embeddings)?;
        let (query_pre_attn_scalar, final_logit_softcapping) =
            self.gemma_scalars(family, head_dim)?;
        let pad_token_id = match self.whole.get("pad_token_id") {
            None => family.default_pad_token_id(),
            Some(_) => f.int(field!(self.pad_token_id))?,
        };
        let cfg = LlamaConfig {
            family,
            hidden_size,
            intermediate_size,
            num_hidden_layers,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            vocab_size: f.req_pos(field!(self.vocab_size))?,
            max_position_embeddings,
            rms_norm_eps: f
                .number(field!(self.rms_norm_eps))?
                .unwrap_or(family.default_rms_norm_eps()),
            rope,
            attention: self.attention(family, num_hidden_layers, local_rope)?,
            tie_word_embeddings: f
                .boolean(field!(self.tie_word_embeddings))?
                .unwrap_or(family.default_tied()),
            qkv_bias,
            o_bias,
            activation: self.activation(family)?,
            query_pre_attn_scalar,
            final_logit_softcapping,
            initializer_range: f.number(field!(self.initializer_range))?.unwrap_or(0.02),
            pad_token_id,
            lora: None,
        };
        ModelShape::from_value(&self.whole).map_err(|m| anyhow!("{origin}: {m}"))?;
        Ok(cfg)
    }

    /// The hidden size, the query and key/value heads and the head dimension:
    /// the heads must group evenly, and the head dimension be even (rotary).
    fn attention_sizes(&self, family: Family) -> Result<(i64, i64, i64, i64)> {
        let origin = self.origin.as_str();
        let f = self.check();
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
        let family_default = family.default_head_dim().map(|d| d as i64);
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
}

#[cfg(test)]
mod tests;
