//! Reading PEFT's `adapter_config.json`: the LoRA settings this trainer
//! can honour, and a refusal naming any other.

use anyhow::{bail, Result};
use serde_json::Value;

use super::{Lora, LORA_TARGETS};

/// Settings of PEFT's LoraConfig that change the numbers, with the value
/// that leaves them off.
const OFF: [(&str, &str); 8] = [
    ("fan_in_fan_out", "false"),
    ("use_dora", "false"),
    ("lora_bias", "false"),
    ("layers_to_transform", "null"),
    ("rank_pattern", "{}"),
    ("alpha_pattern", "{}"),
    ("use_qalora", "false"),
    ("trainable_token_indices", "null"),
];

impl Lora {
    /// The adapters an `adapter_config.json` (`origin` names it) describes
    /// for a model of `layers` blocks, and its `modules_to_save`.
    pub fn from_adapter_config(
        v: &Value,
        layers: usize,
        origin: &str,
    ) -> Result<(Lora, Vec<String>)> {
        let field = |k: &str| v.get(k).filter(|x| !x.is_null());
        for (key, want) in [
            ("peft_type", "LORA"),
            ("task_type", "CAUSAL_LM"),
            ("bias", "none"),
        ] {
            if let Some(x) = field(key).filter(|x| x.as_str() != Some(want)) {
                bail!("{origin}: `{key}` is {x}; only {want:?} is supported");
            }
        }
        for (key, off) in OFF {
            let off: Value = serde_json::from_str(off).expect("a JSON literal");
            if let Some(x) = field(key).filter(|x| **x != off) {
                bail!("{origin}: `{key}` is {x}; only {off} is supported");
            }
        }
        let number = |k: &str| field(k).and_then(Value::as_f64);
        let Some(r) = field("r").and_then(Value::as_i64) else {
            bail!("{origin}: `r` must be an integer");
        };
        let alpha = number("lora_alpha").unwrap_or(8.0);
        let dropout = number("lora_dropout").unwrap_or(0.0);
        let rslora = field("use_rslora")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let targets = target_names(field("target_modules"), layers)
            .map_err(|m| anyhow::anyhow!("{origin}: `target_modules`: {m}"))?;
        let mut lora = Lora::new(r, alpha, dropout, rslora, &targets)
            .map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
        let saved = match field("modules_to_save") {
            None => vec![],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|m| m.as_str().map(String::from))
                .collect(),
            Some(x) => bail!("{origin}: `modules_to_save` must be a list, found {x}"),
        };
        lora.shape.saved = super::saved_mask(&saved)
            .map_err(|e| anyhow::anyhow!("{origin}: `modules_to_save`: {e}"))?;
        Ok((lora, saved))
    }
}

/// The projection names of `target_modules`: suffixes (`q_proj`),
/// `all-linear`, or full module paths (`model.layers.0.self_attn.q_proj`,
/// as PEFT writes for `all-linear`), which must then cover every layer.
fn target_names(v: Option<&Value>, layers: usize) -> Result<Vec<String>, String> {
    let list: Vec<String> = match v {
        Some(Value::String(s)) if s == "all-linear" => return Ok(vec![s.clone()]),
        Some(Value::String(s)) => {
            return Err(format!(
                "the pattern {s:?} is not supported; list module names"
            ))
        }
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|m| m.as_str().map(String::from))
            .collect(),
        _ => return Err("list the projections to adapt".into()),
    };
    let mut names = Vec::new();
    for path in &list {
        let name = path.rsplit('.').next().unwrap_or(path).to_string();
        if path.contains('.') {
            let per_layer = (0..layers).all(|l| {
                let part = if LORA_TARGETS[4..].contains(&name.as_str()) {
                    "mlp"
                } else {
                    "self_attn"
                };
                list.contains(&format!("model.layers.{l}.{part}.{name}"))
            });
            if !per_layer {
                return Err(format!(
                    "{path:?}: adapters on some layers only are not supported"
                ));
            }
        }
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}
