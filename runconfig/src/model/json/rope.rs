//! The rotary parameters of a config.json in every spelling transformers
//! reads: `rope_parameters` (transformers 5; Gemma 3 keys it by layer type),
//! or the older top-level `rope_theta` + `rope_scaling` (with `rope_type`
//! or `type`), and Gemma 3's `rope_local_base_freq`.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

use super::super::config::{Llama3Scaling, RopeConfig};
use super::super::family::Family;
use super::super::fields::Check;
use super::ConfigJson;

/// The rotary parameters of `rope_parameters` or `rope_scaling`.
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

/// Gemma 3's rotary bases when the file gives none.
const GEMMA_GLOBAL_THETA: f64 = 1_000_000.0;
const GEMMA_LOCAL_THETA: f64 = 10_000.0;

impl ConfigJson {
    /// The rotary embedding of the global layers, and Gemma 3's of the
    /// local ones.
    pub(super) fn ropes(
        &self,
        family: Family,
        max_pos: i64,
    ) -> Result<(RopeConfig, Option<RopeConfig>)> {
        let f = self.check();
        let top_theta = f.number(field!(self.rope_theta))?;
        let params = match (&self.rope_parameters, &self.rope_scaling) {
            (Some(v @ Value::Object(_)), _) => Some(("rope_parameters", v)),
            (_, Some(v @ Value::Object(_))) => Some(("rope_scaling", v)),
            _ => None,
        };
        if family != Family::Gemma3 {
            return Ok((
                self.rope(params, top_theta.unwrap_or(10000.0), max_pos)?,
                None,
            ));
        }
        let local_theta = f
            .number(field!(self.rope_local_base_freq))?
            .unwrap_or(GEMMA_LOCAL_THETA);
        let global_theta = top_theta.unwrap_or(GEMMA_GLOBAL_THETA);
        let by_type = params.and_then(|(key, v)| {
            let m = v.as_object()?;
            (key == "rope_parameters"
                && (m.contains_key("full_attention") || m.contains_key("sliding_attention")))
            .then_some(m)
        });
        let Some(m) = by_type else {
            // The older spelling: `rope_scaling` applies to the global layers.
            let global = self.rope(params, global_theta, max_pos)?;
            return Ok((global, Some(self.rope(None, local_theta, max_pos)?)));
        };
        let sub = |layer: &str, key: &'static str| {
            let v = m.get(layer).filter(|v| !v.is_null());
            v.map(|v| (key, v))
        };
        let full = sub("full_attention", "rope_parameters.full_attention");
        let sliding = sub("sliding_attention", "rope_parameters.sliding_attention");
        let global = self.rope(full, global_theta, max_pos)?;
        let local = self.rope(sliding, local_theta, max_pos)?;
        Ok((global, Some(local)))
    }

    /// One rotary embedding from `params` (`(key, object)`, none for the
    /// default rotation of base `theta`).
    fn rope(&self, params: Option<(&str, &Value)>, theta: f64, max_pos: i64) -> Result<RopeConfig> {
        let f = self.check();
        // Read (and a bad one refused) even when the rope parameters give their own.
        let top_partial = f.number(field!(self.partial_rotary_factor))?;
        let Some((key, params)) = params else {
            check_partial(top_partial, &self.origin)?;
            return Ok(RopeConfig {
                theta,
                llama3: None,
                linear_factor: 1.0,
            });
        };
        let sub_origin = format!("{}: `{key}`", self.origin);
        if !params.is_object() {
            bail!("{sub_origin} must be an object, found {params}");
        }
        // Every field takes any JSON value, so an object always reads.
        let p = RopeJson::deserialize(params).with_context(|| sub_origin.clone())?;
        let sub = Check {
            origin: &sub_origin,
        };
        let theta = sub.number(field!(p.rope_theta))?.unwrap_or(theta);
        let kind = match sub.string(field!(p.rope_type))? {
            Some(t) => t,
            None => sub
                .string(("type", &p.kind))?
                .unwrap_or_else(|| "default".into()),
        };
        check_partial(
            sub.number(field!(p.partial_rotary_factor))?.or(top_partial),
            &sub_origin,
        )?;
        let mut rope = RopeConfig {
            theta,
            llama3: None,
            linear_factor: 1.0,
        };
        match kind.as_str() {
            "default" => {}
            "linear" => rope.linear_factor = sub.req_number(field!(p.factor))?,
            "llama3" => {
                let top_original = f.pos(field!(self.original_max_position_embeddings))?;
                let original = match top_original {
                    Some(v) => v,
                    None => sub
                        .pos(field!(p.original_max_position_embeddings))?
                        .unwrap_or(max_pos),
                };
                rope.llama3 = Some(Llama3Scaling {
                    factor: sub.req_number(field!(p.factor))?,
                    low_freq_factor: sub.req_number(field!(p.low_freq_factor))?,
                    high_freq_factor: sub.req_number(field!(p.high_freq_factor))?,
                    original_max_position_embeddings: original,
                });
            }
            other => bail!(
                "{sub_origin}: rope type {other:?} is not supported \
                 (supported: \"default\", \"linear\", \"llama3\")"
            ),
        }
        if rope.linear_factor <= 0.0 {
            bail!("{sub_origin}: `factor` must be above 0");
        }
        Ok(rope)
    }
}

/// Only the whole head dimension rotates.
fn check_partial(partial: Option<f64>, origin: &str) -> Result<()> {
    match partial.filter(|&prf| prf != 1.0) {
        Some(prf) => bail!("{origin}: `partial_rotary_factor` {prf} is not supported (only 1.0)"),
        None => Ok(()),
    }
}
