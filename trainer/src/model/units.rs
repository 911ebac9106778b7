//! The units of `runconfig::model` (which lists each unit's parameters,
//! name and shape, in flat-buffer order) with what the trainer adds: how
//! each parameter is initialised, and views of a flat tensor as the unit's
//! parameters.

use anyhow::{bail, Result};
use tch::Tensor;

use runconfig::model::{unit_kinds, unit_params, LlamaConfig, NormWeight};
pub use runconfig::model::{UnitKind, EMBED_WEIGHT};

/// How a parameter is initialised from scratch (as transformers' `_init_weights`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// Normal(0, `initializer_range`): linear and embedding matrices.
    Normal,
    /// All ones: RMSNorm weights (zeros for Gemma's `1 + weight` norms).
    Ones,
    /// All zeros: biases, and LoRA's `lora_B` (so that a new adapter
    /// starts as the identity update).
    Zeros,
    /// Uniform in ±1/sqrt(fan_in): PEFT's `lora_A` (kaiming-uniform with
    /// a = sqrt(5)).
    KaimingUniform,
}

/// One parameter of a unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    /// Hugging Face tensor name, e.g. `model.layers.0.self_attn.q_proj.weight`.
    pub name: String,
    /// Shape, as stored in the HF checkpoint.
    pub shape: Vec<i64>,
    /// Initialisation from scratch.
    pub init: Init,
}

impl ParamSpec {
    /// The parameter `name` of `shape`, initialised as transformers does:
    /// biases zero, the other vectors (RMSNorm weights) one (zero where the
    /// family's norms scale by `1 + weight`), matrices normal.
    fn new(name: String, shape: &[u64], norm: NormWeight) -> Self {
        let init = if name.ends_with(".bias") || name.ends_with(".lora_B.weight") {
            Init::Zeros
        } else if name.ends_with(".lora_A.weight") {
            Init::KaimingUniform
        } else if shape.len() == 1 {
            match norm {
                NormWeight::OnePlusThenCast => Init::Zeros,
                _ => Init::Ones,
            }
        } else {
            Init::Normal
        };
        let shape = shape.iter().map(|&n| n as i64).collect();
        ParamSpec { name, shape, init }
    }

    /// Number of elements.
    pub fn numel(&self) -> i64 {
        self.shape.iter().product()
    }
}

/// One unit: its parameters in flat-buffer order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitSpec {
    /// Position in [`units`]: 0 embedding, `1..=L` blocks, `L + 1` head.
    pub index: usize,
    /// What it computes.
    pub kind: UnitKind,
    /// The unit's own parameters, in the order of its flat buffer.
    pub params: Vec<ParamSpec>,
    /// True for the head of a model with tied embeddings: its forward also
    /// needs [`EMBED_WEIGHT`] (owned by unit 0), and the gradient it gets for
    /// that weight must be added to unit 0's gradient.
    pub uses_embedding: bool,
}

impl UnitSpec {
    /// Total number of elements of the unit's own parameters (`P`).
    pub fn numel(&self) -> i64 {
        self.params.iter().map(ParamSpec::numel).sum()
    }

    /// `(offset, numel)` of each parameter inside the flat buffer.
    pub fn offsets(&self) -> Vec<(i64, i64)> {
        let mut at = 0;
        self.params
            .iter()
            .map(|p| {
                let r = (at, p.numel());
                at += p.numel();
                r
            })
            .collect()
    }

    /// Views of a flat buffer of at least `numel()` elements (padding after
    /// the end is ignored) as the unit's parameters; no copy.
    pub fn split_flat(&self, flat: &Tensor) -> Result<Vec<Tensor>> {
        let have = flat.numel() as i64;
        if flat.dim() != 1 || have < self.numel() {
            bail!(
                "unit {}: flat buffer of shape {:?} is smaller than its {} parameters",
                self.index,
                flat.size(),
                self.numel()
            );
        }
        Ok(self
            .params
            .iter()
            .zip(self.offsets())
            .map(|(p, (at, n))| flat.narrow(0, at, n).view(p.shape.as_slice()))
            .collect())
    }

    /// The unit with the parameters whose name passes `keep`, in order.
    pub fn keep(&self, keep: impl Fn(&str) -> bool) -> UnitSpec {
        let params = self.params.iter().filter(|p| keep(&p.name));
        UnitSpec {
            params: params.cloned().collect(),
            ..self.clone()
        }
    }

    /// A flat buffer as the unit's named parameters (views, no copy).
    pub fn named(&self, flat: &Tensor) -> Result<Vec<(String, Tensor)>> {
        let names = self.params.iter().map(|p| p.name.clone());
        Ok(names.zip(self.split_flat(flat)?).collect())
    }
}

/// Every parameter (name, shape) of `specs`, in unit order.
pub fn shapes(specs: &[UnitSpec]) -> Vec<(String, Vec<i64>)> {
    let params = specs.iter().flat_map(|s| &s.params);
    params.map(|p| (p.name.clone(), p.shape.clone())).collect()
}

/// Checks that `tensors` match the unit's parameter list in count and shapes.
pub(crate) fn check_shapes(unit: &UnitSpec, tensors: &[Tensor]) -> Result<()> {
    if tensors.len() != unit.params.len() {
        bail!(
            "unit {} ({:?}) takes {} parameter tensors, got {}",
            unit.index,
            unit.kind,
            unit.params.len(),
            tensors.len()
        );
    }
    for (p, t) in unit.params.iter().zip(tensors) {
        if t.size() != p.shape {
            bail!(
                "{}: expected shape {:?}, found {:?}",
                p.name,
                p.shape,
                t.size()
            );
        }
    }
    Ok(())
}

/// The model's units, in forward order.
pub fn units(cfg: &LlamaConfig) -> Vec<UnitSpec> {
    let shape = cfg.shape();
    let unit = |(index, kind)| UnitSpec {
        index,
        kind,
        params: unit_params(&shape, kind)
            .into_iter()
            .map(|(name, dims)| ParamSpec::new(name, &dims, cfg.family.norm_weight()))
            .collect(),
        uses_embedding: kind == UnitKind::Head && shape.tied,
    };
    unit_kinds(cfg.num_hidden_layers)
        .enumerate()
        .map(unit)
        .collect()
}

/// The model's units with their trained parameters only: all of them, or
/// in a LoRA run the adapters and `modules_to_save`.
pub fn trained_units(cfg: &LlamaConfig) -> Vec<UnitSpec> {
    let lora = cfg.lora.as_ref().map(|l| l.shape);
    let trains = |name: &str| lora.is_none_or(|l| l.trains(name));
    units(cfg).iter().map(|u| u.keep(trains)).collect()
}

/// Every parameter of the model, in unit order (the embedding once, even when tied).
#[cfg(test)]
pub(crate) fn all_params(cfg: &LlamaConfig) -> Vec<ParamSpec> {
    units(cfg).into_iter().flat_map(|u| u.params).collect()
}
