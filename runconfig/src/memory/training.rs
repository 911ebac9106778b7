//! What a run trains, as `launch check` says it: every parameter, or LoRA
//! adapters on a frozen base (QLoRA when the base is held in NF4), with the
//! trainable and frozen parameter counts.

use super::lora::Frozen;
use super::setup::Setup;
use crate::model::ModelShape;
use crate::schema::Dtype;
use serde::Serialize;

/// What a run trains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Training {
    /// `full`, `lora` or `qlora`.
    pub method: &'static str,
    /// The adapters' rank (LoRA only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r: Option<u64>,
    /// The projections that carry adapters (LoRA only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub target_modules: Vec<&'static str>,
    /// Base modules trained in full beside the adapters (`modules_to_save`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub modules_to_save: Vec<&'static str>,
    /// Parameters the optimizer updates.
    pub trainable_params: u64,
    /// Parameters of the frozen base (none without LoRA).
    pub frozen_params: u64,
    /// Of the frozen parameters, those held in NF4.
    pub nf4_params: u64,
    /// The dtype of the other frozen parameters (`bf16`, `f32`).
    pub base_dtype: &'static str,
}

impl Training {
    /// What `shape` trains under `s`.
    pub fn of(shape: &ModelShape, s: &Setup) -> Training {
        let t = shape.trained_params();
        let f = shape.frozen_params();
        let count = |u: crate::model::UnitParams| u.embed + u.layers * u.block + u.head;
        let lora = shape.lora;
        Training {
            method: match lora {
                None => "full",
                Some(l) if l.nf4 => "qlora",
                Some(_) => "lora",
            },
            r: lora.map(|l| l.r),
            target_modules: lora.map_or(vec![], |l| l.targets().collect()),
            modules_to_save: lora.map_or(vec![], |l| l.saved_modules()),
            trainable_params: count(t),
            frozen_params: count(f),
            nf4_params: Frozen::of(shape).quantised.total(),
            base_dtype: match s.dtype {
                Dtype::F32 => "f32",
                Dtype::Bf16 => "bf16",
            },
        }
    }

    /// One line: the method, and the trainable and frozen parameters.
    pub fn describe(&self) -> String {
        let trainable = grouped(self.trainable_params);
        let all = self.trainable_params + self.frozen_params;
        if self.method == "full" {
            return format!("training: every parameter (full fine-tuning), {trainable} trainable");
        }
        let share = 100.0 * self.trainable_params as f64 / all.max(1) as f64;
        let name = match self.method {
            "qlora" => "QLoRA",
            _ => "LoRA",
        };
        let mut s = format!(
            "training: {name} adapters (r {} on {}), {trainable} trainable parameters ({share:.2}%), {} frozen",
            self.r.unwrap_or(0),
            self.target_modules.join(", "),
            grouped(self.frozen_params),
        );
        match self.nf4_params {
            0 => s.push_str(&format!(" in {}", self.base_dtype)),
            q => s.push_str(&format!(
                " ({} in NF4, the rest in {})",
                grouped(q),
                self.base_dtype
            )),
        }
        if !self.modules_to_save.is_empty() {
            let saved = self.modules_to_save.join(", ");
            s.push_str(&format!("; {saved} trained in full"));
        }
        s
    }
}

/// `n` with its thousands separated by commas: 8,030,261,248.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}
