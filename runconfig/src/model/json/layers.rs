//! The family's rules beyond the sizes: which layers attend within a
//! sliding window, the MLP's activation, Gemma's query scale and soft caps,
//! and the refusal of what the model code cannot honour.

use anyhow::{bail, Result};
use serde_json::Value;

use super::super::config::{Activation, Attention, RopeConfig};
use super::super::family::Family;
use super::ConfigJson;

/// Gemma 3's layer pattern when the file gives neither `layer_types` nor
/// `sliding_window_pattern`: five local layers, then a global one.
const GEMMA_PATTERN: i64 = 6;
/// Gemma 3's `query_pre_attn_scalar` when absent.
const GEMMA_QUERY_SCALAR: f64 = 256.0;

impl ConfigJson {
    /// Each layer's attention: Mistral's window on every layer, Gemma 3's
    /// local and global layers, Qwen's switched-off windows.
    pub(super) fn attention(
        &self,
        family: Family,
        layers: usize,
        local_rope: Option<RopeConfig>,
    ) -> Result<Attention> {
        let f = self.check();
        let sliding = f.boolean(field!(self.use_sliding_window))?.unwrap_or(false);
        let window = match &self.sliding_window {
            None if self.whole.get("sliding_window").is_some() => None, // null
            None => family.default_sliding_window(),
            Some(_) => f.pos(field!(self.sliding_window))?,
        };
        match family {
            Family::Qwen2 | Family::Qwen3 => {
                if sliding {
                    bail!(
                        "{}: field `use_sliding_window` is true; sliding-window attention is not supported",
                        self.origin
                    );
                }
                self.layer_types(layers, true)?;
                Ok(Attention::global(layers))
            }
            Family::Mistral => Ok(Attention {
                window,
                local_layers: vec![window.is_some(); layers],
                local_rope: None,
            }),
            Family::Gemma3 => {
                if f.boolean(field!(self.use_bidirectional_attention))? == Some(true) {
                    bail!(
                        "{}: field `use_bidirectional_attention` is true; only causal attention is supported",
                        self.origin
                    );
                }
                let local = self.layer_types(layers, false)?;
                Ok(Attention {
                    window,
                    local_layers: local.iter().map(|&l| l && window.is_some()).collect(),
                    local_rope,
                })
            }
            Family::Llama | Family::Olmo2 => Ok(Attention::global(layers)),
        }
    }

    /// Whether each layer is local: `layer_types` as written (each
    /// `"sliding_attention"` or `"full_attention"`, one per layer), else
    /// Gemma's `sliding_window_pattern`. `all_global`: a family whose
    /// layers must all be global (absent `layer_types` reads so).
    fn layer_types(&self, layers: usize, all_global: bool) -> Result<Vec<bool>> {
        let origin = &self.origin;
        let Some(v) = &self.layer_types else {
            if all_global {
                return Ok(vec![false; layers]);
            }
            let pattern = self
                .check()
                .pos(field!(self.sliding_window_pattern))?
                .unwrap_or(GEMMA_PATTERN);
            return Ok((0..layers as i64).map(|i| (i + 1) % pattern != 0).collect());
        };
        let types = match v.as_array() {
            Some(a) if a.len() == layers => a,
            _ => bail!(
                "{origin}: field `layer_types` must list one type per layer ({layers}), found {v}"
            ),
        };
        let read = |t: &Value| match t.as_str() {
            Some("full_attention") => Ok(false),
            Some("sliding_attention") if !all_global => Ok(true),
            _ => bail!(
                "{origin}: field `layer_types` holds {t}; supported: {}",
                match all_global {
                    true => "\"full_attention\" (sliding windows are switched off)",
                    false => "\"full_attention\", \"sliding_attention\"",
                }
            ),
        };
        types.iter().map(read).collect()
    }

    /// The MLP's activation: `hidden_activation` for Gemma 3
    /// (`gelu_pytorch_tanh`), `hidden_act` (`silu`) for the others.
    pub(super) fn activation(&self, family: Family) -> Result<Activation> {
        let f = self.check();
        if family == Family::Gemma3 {
            let act = f
                .string(field!(self.hidden_activation))?
                .unwrap_or_else(|| "gelu_pytorch_tanh".into());
            if act != "gelu_pytorch_tanh" {
                bail!(
                    "{}: field `hidden_activation` is {act:?}; only \"gelu_pytorch_tanh\" is supported",
                    self.origin
                );
            }
            return Ok(Activation::GeluTanh);
        }
        let act = f
            .string(field!(self.hidden_act))?
            .unwrap_or_else(|| "silu".into());
        if act != "silu" {
            bail!(
                "{}: field `hidden_act` is {act:?}; only \"silu\" is supported",
                self.origin
            );
        }
        Ok(Activation::Silu)
    }

    /// Gemma 3's `query_pre_attn_scalar` and final soft cap (the head
    /// dimension and none elsewhere). Its `attn_logit_softcapping` is
    /// refused: transformers' Gemma 3 attention never applies it, so a model
    /// trained with it would compute other numbers there.
    pub(super) fn gemma_scalars(
        &self,
        family: Family,
        head_dim: i64,
    ) -> Result<(f64, Option<f64>)> {
        if family != Family::Gemma3 {
            return Ok((head_dim as f64, None));
        }
        let f = self.check();
        let positive = |field: (&str, &Option<Value>)| -> Result<Option<f64>> {
            match f.number(field)? {
                Some(x) if x <= 0.0 => bail!(
                    "{}: field `{}` must be a number above 0, found {x}",
                    self.origin,
                    field.0
                ),
                x => Ok(x),
            }
        };
        let scalar = positive(field!(self.query_pre_attn_scalar))?.unwrap_or(GEMMA_QUERY_SCALAR);
        if let Some(cap) = positive(field!(self.attn_logit_softcapping))? {
            bail!(
                "{}: field `attn_logit_softcapping` is {cap}; transformers' Gemma 3 attention does \
                 not apply it, so it is not supported (set it to null)",
                self.origin
            );
        }
        let last = positive(field!(self.final_logit_softcapping))?;
        Ok((scalar, last))
    }

    /// Refuses MLP biases and attention dropout, which the model code does
    /// not apply.
    pub(super) fn refuse_unsupported(&self) -> Result<()> {
        let f = self.check();
        if f.boolean(field!(self.mlp_bias))?.unwrap_or(false) {
            bail!(
                "{}: field `mlp_bias` is true; only MLPs without biases are supported",
                self.origin
            );
        }
        if let Some(p) = f
            .number(field!(self.attention_dropout))?
            .filter(|&p| p != 0.0)
        {
            bail!(
                "{}: field `attention_dropout` is {p}; only 0 is supported (training applies no dropout)",
                self.origin
            );
        }
        Ok(())
    }
}
