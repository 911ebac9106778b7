//! The sizes of a model, read from its config.json and checked before
//! anything is planned or allocated: every size a positive whole number,
//! heads that divide the hidden size and are divided by the key/value
//! heads, positive norm epsilon and rotary base, and no tensor nor model so
//! large that its parameter count (or the memory plan built on it) could
//! overflow. The launcher runs these checks, then the family's rules
//! (`json`); the trainer runs them after the family's rules.

use super::family::Family;
use super::file::{config_json_path, read_json};
use super::json::ConfigJson;
use super::shape::{ModelShape, MAX_PARAMS, MAX_TENSOR_PARAMS};
use crate::schema::Config;
use serde_json::Value;

impl ModelShape {
    /// Reads the model's config.json (`model.path`/config.json or
    /// `model.config`) and checks it against the run (its longest sequence).
    pub fn of(config: &Config) -> Result<ModelShape, String> {
        let file = config_json_path(config)?;
        let text = std::fs::read_to_string(&file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let at = |m: String| format!("{}: {m}", file.display());
        let v = read_json(&text).map_err(|e| at(e.to_string()))?;
        let shape = ModelShape::from_value(&v).map_err(at)?;
        // The family's rules as a rank applies them, so that `launch check`
        // refuses what the trainer would (an unsupported `model_type`, a
        // sliding window switched on), in the same one line.
        ConfigJson::from_value(v.clone(), &file.display().to_string())
            .and_then(|c| c.validate())
            .map_err(|e| e.to_string())?;
        let seq = config.data.max_seq_length as u64;
        match field(&v, "max_position_embeddings").and_then(Value::as_u64) {
            Some(max) if max < seq => Err(at(format!(
                "field `max_position_embeddings` ({max}) is below `data.max_seq_length` ({seq}): \
                 the model has no positions for the longer sequences; lower data.max_seq_length"
            ))),
            _ => Ok(ModelShape {
                lora: config.lora_on(shape.tied)?.map(|l| l.shape),
                ..shape
            }),
        }
    }

    /// Parses and checks the fields of a config.json that the model's size
    /// depends on; the message names the field.
    pub fn from_json(text: &str) -> Result<ModelShape, String> {
        ModelShape::from_value(&read_json(text).map_err(|e| e.to_string())?)
    }

    /// Checks the fields of a parsed config.json that the model's size
    /// depends on; the message names the field.
    pub fn from_value(v: &Value) -> Result<ModelShape, String> {
        let need = |k: &str| match field(v, k) {
            None => Err(format!("missing required field `{k}`")),
            Some(_) => positive(v, k).map(|n| n.unwrap_or(0)),
        };
        let flag = |k: &str| field(v, k).and_then(Value::as_bool);
        let (hidden, heads) = (need("hidden_size")?, need("num_attention_heads")?);
        let kv_heads = positive(v, "num_key_value_heads")?.unwrap_or(heads);
        if heads % kv_heads != 0 {
            return Err(format!(
                "field `num_key_value_heads` ({kv_heads}) must divide `num_attention_heads` ({heads})"
            ));
        }
        let family = Family::of(field(v, "model_type").and_then(Value::as_str))?;
        let head_dim = match positive(v, "head_dim")?.or(family.default_head_dim()) {
            Some(d) => d,
            None if hidden % heads == 0 => hidden / heads,
            None => {
                return Err(format!(
                    "field `num_attention_heads` ({heads}) must divide `hidden_size` ({hidden}), or give `head_dim`"
                ))
            }
        };
        for key in ["rms_norm_eps", "rope_theta"] {
            check_positive_number(v, key, key)?;
            for outer in ["rope_parameters", "rope_scaling"] {
                let inner = v.get(outer).unwrap_or(&Value::Null);
                check_positive_number(inner, key, &format!("{outer}.{key}"))?;
            }
        }
        let attention_bias = flag("attention_bias").unwrap_or(false);
        let (qkv_bias, o_bias) = family.attention_biases(attention_bias);
        let shape = ModelShape {
            hidden,
            intermediate: need("intermediate_size")?,
            layers: need("num_hidden_layers")?,
            heads,
            kv_heads,
            head_dim,
            vocab: need("vocab_size")?,
            tied: flag("tie_word_embeddings").unwrap_or(family.default_tied()),
            qkv_bias,
            o_bias,
            family,
            lora: None,
        };
        shape.check_size()?;
        Ok(shape)
    }

    /// Refuses a tensor above [`MAX_TENSOR_PARAMS`] or a model above
    /// [`MAX_PARAMS`], counting in u128 so that nothing overflows.
    fn check_size(&self) -> Result<(), String> {
        let (h, i) = (self.hidden as u128, self.intermediate as u128);
        let head_dim = self.head_dim as u128;
        let tensors = [
            ("`vocab_size` x `hidden_size`", self.vocab as u128 * h),
            ("`intermediate_size` x `hidden_size`", i * h),
            (
                "`num_attention_heads` x `head_dim` x `hidden_size`",
                self.heads as u128 * head_dim * h,
            ),
            (
                "`num_key_value_heads` x `head_dim` x `hidden_size`",
                self.kv_heads as u128 * head_dim * h,
            ),
        ];
        for (what, n) in tensors {
            if n > MAX_TENSOR_PARAMS as u128 {
                return Err(format!(
                    "{what} makes a tensor of {n} parameters, more than the {MAX_TENSOR_PARAMS} one tensor may hold"
                ));
            }
        }
        // Each tensor is at most 2^40, so a block's few tensors fit in u64.
        let units = self.unit_params();
        let total =
            units.embed as u128 + units.head as u128 + units.block as u128 * units.layers as u128;
        if total > MAX_PARAMS as u128 {
            return Err(format!(
                "field `num_hidden_layers` ({}) makes a model of {total} parameters, more than the {MAX_PARAMS} the planner allows",
                self.layers
            ));
        }
        Ok(())
    }
}

/// Field `key` of `v`; null counts as absent, as transformers reads it.
fn field<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// Optional field `key`, a whole number above 0.
fn positive(v: &Value, key: &str) -> Result<Option<u64>, String> {
    match field(v, key) {
        None => Ok(None),
        Some(x) => match x.as_u64() {
            Some(n) if n > 0 => Ok(Some(n)),
            _ => Err(format!(
                "field `{key}` must be a positive whole number, found {x}"
            )),
        },
    }
}

/// Optional field `key` of `v` (named `name`), a finite number above 0.
fn check_positive_number(v: &Value, key: &str, name: &str) -> Result<(), String> {
    match field(v, key) {
        Some(x) if !x.as_f64().is_some_and(|n| n.is_finite() && n > 0.0) => Err(format!(
            "field `{name}` must be a number above 0, found {x}"
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
