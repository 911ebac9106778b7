//! LoRA adapters as PEFT defines them: a low-rank update `B A` of each
//! targeted projection, scaled by `alpha / r` (or `alpha / sqrt(r)` with
//! rsLoRA), read from and written to PEFT's `adapter_config.json`.

use anyhow::{bail, Result};
use serde_json::{json, Value};

/// PEFT's names of the projections LoRA may adapt, in the order a block's
/// adapters follow its base weights.
pub const LORA_TARGETS: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// Whether the parameter `name` is a LoRA adapter's.
pub fn is_adapter(name: &str) -> bool {
    name.ends_with(".lora_A.weight") || name.ends_with(".lora_B.weight")
}

/// Whether the base parameter `name`, of `dims` dimensions, is held in NF4
/// when the base is (`base: nf4`): the weight matrix of a block's
/// projection, as bitsandbytes' `Linear4bit` replaces each linear layer of
/// the blocks. Norms, biases, the embedding and the LM head stay in the
/// compute dtype (transformers quantises no `lm_head`).
pub fn is_nf4_weight(name: &str, dims: usize) -> bool {
    let projection = |t: &&str| {
        name.strip_suffix(".weight")
            .is_some_and(|n| n.ends_with(&format!(".{t}")))
    };
    dims == 2 && name.starts_with("model.layers.") && LORA_TARGETS.iter().any(projection)
}

/// The base modules `modules_to_save` may name (trained in full beside
/// the adapters), with their parameter.
pub const SAVABLE_MODULES: [(&str, &str); 2] = [
    ("embed_tokens", "model.embed_tokens.weight"),
    ("lm_head", "lm_head.weight"),
];

/// The bit mask of `modules_to_save` over [`SAVABLE_MODULES`], or the
/// refusal naming the modules that can be.
pub fn saved_mask(names: &[String]) -> Result<u8, String> {
    let mut mask = 0u8;
    for name in names {
        let Some(i) = SAVABLE_MODULES.iter().position(|(m, _)| m == name) else {
            let known: Vec<&str> = SAVABLE_MODULES.iter().map(|(m, _)| *m).collect();
            return Err(format!(
                "{name:?} is not a module that can be trained in full; name {}",
                known.join(" or ")
            ));
        };
        mask |= 1 << i;
    }
    Ok(mask)
}

/// What the adapters' sizes depend on: the rank and the targeted
/// projections (bit `i` for [`LORA_TARGETS`]`[i]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoraShape {
    pub r: u64,
    pub targets: u8,
    /// `modules_to_save`: bit `i` for [`SAVABLE_MODULES`]`[i]`.
    pub saved: u8,
    /// The frozen base is held in NF4 (QLoRA).
    pub nf4: bool,
}

impl LoraShape {
    /// Whether the parameter `name` is trained: an adapter, or the
    /// parameter of a module in `modules_to_save`.
    pub fn trains(&self, name: &str) -> bool {
        let saved = SAVABLE_MODULES.iter().enumerate();
        is_adapter(name)
            || saved
                .filter(|(i, _)| self.saved & (1 << i) != 0)
                .any(|(_, (_, param))| *param == name)
    }

    /// The names of `modules_to_save`, in [`SAVABLE_MODULES`] order.
    pub fn saved_modules(&self) -> Vec<&'static str> {
        let saved = SAVABLE_MODULES.iter().enumerate();
        let kept = saved.filter(|(i, _)| self.saved & (1 << i) != 0);
        kept.map(|(_, (m, _))| *m).collect()
    }

    /// The targeted projections, in [`LORA_TARGETS`] order.
    pub fn targets(&self) -> impl Iterator<Item = &'static str> + '_ {
        LORA_TARGETS
            .iter()
            .enumerate()
            .filter(|(i, _)| self.targets & (1 << i) != 0)
            .map(|(_, name)| *name)
    }

    /// The bit mask of `names` (PEFT's module names, or `all-linear`), or
    /// the one-line refusal naming the modules a block has.
    pub fn mask(names: &[String]) -> Result<u8> {
        let mut mask = 0u8;
        for name in names {
            if name == "all-linear" {
                mask = u8::MAX >> 1;
                continue;
            }
            match LORA_TARGETS.iter().position(|t| t == name) {
                Some(i) => mask |= 1 << i,
                None => bail!(
                    "target module {name:?} is not a projection of the model; its modules are {} \
                     (or \"all-linear\")",
                    LORA_TARGETS.join(", ")
                ),
            }
        }
        if mask == 0 {
            bail!(
                "no target modules: name at least one of {}",
                LORA_TARGETS.join(", ")
            );
        }
        Ok(mask)
    }
}

/// A LoRA configuration as the model computes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Lora {
    pub shape: LoraShape,
    /// `lora_alpha`.
    pub alpha: f64,
    /// `lora_dropout`: the dropout of the adapters' input in training.
    pub dropout: f64,
    /// `use_rslora`: scale by `alpha / sqrt(r)` instead of `alpha / r`.
    pub rslora: bool,
}

impl Lora {
    /// The factor of the adapters' output, as PEFT computes it.
    pub fn scale(&self) -> f64 {
        let r = self.shape.r as f64;
        match self.rslora {
            true => self.alpha / r.sqrt(),
            false => self.alpha / r,
        }
    }

    /// Checks the numbers: r > 0, alpha > 0, dropout in [0, 1).
    pub fn new(r: i64, alpha: f64, dropout: f64, rslora: bool, targets: &[String]) -> Result<Lora> {
        if r <= 0 {
            bail!("`r` must be a positive integer, found {r}");
        }
        if !(alpha > 0.0 && alpha.is_finite()) {
            bail!("`lora_alpha` must be a number above 0, found {alpha}");
        }
        if !(0.0..1.0).contains(&dropout) {
            bail!("`lora_dropout` must be in [0, 1), found {dropout}");
        }
        let shape = LoraShape {
            r: r as u64,
            targets: LoraShape::mask(targets)?,
            saved: 0,
            nf4: false,
        };
        Ok(Lora {
            shape,
            alpha,
            dropout,
            rslora,
        })
    }

    /// PEFT's `adapter_config.json` for these adapters on `base` (the Hub
    /// id or folder of the base model).
    pub fn adapter_config(&self, base: &str) -> Value {
        let targets: Vec<&str> = self.shape.targets().collect();
        json!({
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "base_model_name_or_path": base,
            "r": self.shape.r,
            "lora_alpha": self.alpha,
            "lora_dropout": self.dropout,
            "target_modules": targets,
            "use_rslora": self.rslora,
            "bias": "none",
            "fan_in_fan_out": false,
            "use_dora": false,
            "init_lora_weights": true,
            "inference_mode": true,
            "modules_to_save": match self.shape.saved {
                0 => Value::Null,
                _ => json!(self.shape.saved_modules()),
            },
            "layers_to_transform": null,
            "layers_pattern": null,
            "rank_pattern": {},
            "alpha_pattern": {},
        })
    }
}

mod peft;
#[cfg(test)]
mod tests;
